"""Calibration posteriors the dashboard can run a scenario over (`serve --posteriors DIR`).

Each subfolder of DIR holding a calibration's output (`cartelsim calibrate SCENARIO --out
SUB`: posterior.parquet and summary.json) is offered, under the subfolder's name, for the
scenario its summary names. The folder is listed once, when the server starts; the page only
sends a name, so nothing from the page is used as a path. A posterior table is read when a
run needs it, so a broken file is reported on that run (one line in the page) rather than
stopping the server.

With a posterior, run r of the ensemble uses draw r of the model-averaged posterior
(compare.posterior_draws), plus the values the calibration held fixed (summary.json's
"fixed"); in the stochastic mode each draw also gets its own stochastic run. The draws
depend only on the posterior, the number of runs and the seed, so two scenarios run with
the same three (A and B of the comparison) share them draw by draw.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cartelsim.analysis import draws
from cartelsim.analysis.compare import posterior_draws
from cartelsim.results import Results, provenance
from cartelsim.scenario import Scenario
from cartelsim.trajectories import Trajectories

#: The files a calibration folder must have to be listed.
POSTERIOR_FILE, SUMMARY_FILE = "posterior.parquet", "summary.json"

#: [(incapacitation form, {parameter: values})]: the draws, grouped by model.
Sample = list[tuple[str, dict[str, np.ndarray]]]


@dataclass(frozen=True)
class Calibration:
    """One calibration output folder: its scenario and the values it held fixed."""

    folder: Path
    scenario: str
    fixed: dict[str, float]


@dataclass
class Posteriors:
    """Calibration outputs by name (their subfolder's name)."""

    calibrations: dict[str, Calibration] = field(default_factory=dict)

    @classmethod
    def from_folder(cls, folder: Path | None) -> Posteriors:
        """List the subfolders of `folder` with a posterior table and a readable summary; a
        subfolder whose summary cannot be read is left out with a warning on stderr."""
        found = {}
        for sub in sorted(Path(folder).iterdir()) if folder is not None else ():
            if not (sub / POSTERIOR_FILE).is_file() or not (sub / SUMMARY_FILE).is_file():
                continue
            try:
                summary = json.loads((sub / SUMMARY_FILE).read_text(encoding="utf-8"))
                scenario = str(summary["scenario"])
                fixed = {k: float(v) for k, v in (summary.get("fixed") or {}).items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                print(
                    f"cartelsim: warning: --posteriors: {sub.name}/{SUMMARY_FILE} left out: "
                    f"not a calibration summary ({type(exc).__name__}: {exc})",
                    file=sys.stderr,
                )
                continue
            found[sub.name] = Calibration(sub, scenario, fixed)
        return cls(found)

    def names_for(self, scenario: str) -> list[str]:
        """The posteriors calibrated on the scenario called `scenario`."""
        return [name for name, c in self.calibrations.items() if c.scenario == scenario]

    def sample(self, name: str, runs: int, seed: int) -> Sample:
        """`runs` draws from posterior `name`, with the calibration's fixed values; a
        ValueError naming the posterior (not its path) when its table cannot be used."""
        if name not in self.calibrations:
            raise ValueError(f"posterior {name!r}: not a posterior of this server")
        calibration = self.calibrations[name]
        try:
            sample = [(f, v) for _, f, v in posterior_draws(calibration.folder, runs, seed)]
        except ValueError as exc:
            reason = str(exc).replace(str(calibration.folder / POSTERIOR_FILE), POSTERIOR_FILE)
            raise ValueError(f"posterior {name}: {reason}") from None
        for _, values in sample:
            n = len(next(iter(values.values())))
            values.update({k: np.full(n, v) for k, v in calibration.fixed.items()})
        return sample


def run_sample(
    scenario: Scenario, sample: Sample, seed: int, data_dir=None, progress=None
) -> Results:
    """One run per draw of `sample` (models in the sample's order), as one Results whose
    weekly variables use each draw's observation shares (draws.observables).

    The Results carry the first model's plan: the plans of different incapacitation forms
    differ only in that form, so the tidy table is right for every run, but the scenario it
    records names one form."""
    plans, trajs, weeklies = [], [], []
    for form, values in sample:
        plan, traj = draws.simulate_draws(scenario, values, seed, data_dir, form)
        plans.append(plan)
        trajs.append(traj)
        weeklies.append(draws.observables(plan, traj, values))
        if progress is not None:
            progress(traj.members.shape[2])
    traj = Trajectories.join(trajs)
    weekly = {k: np.concatenate([w[k] for w in weeklies], axis=1) for k in weeklies[0]}
    return Results(plans[0], traj, seed, str(data_dir) if data_dir else None, _weekly=weekly)


def posterior_parquet(results: Results, table: pd.DataFrame, name: str) -> bytes:
    """The tidy table of a run over posterior `name` as Parquet, with the usual provenance
    (cartelsim version, scenario, seed) and the posterior's name: the same posterior, number
    of runs and seed give the same draws."""
    meta = {
        **provenance(results.plan, results.seed),
        "posterior": name,
        "posterior_note": "run r uses posterior draw r; with several incapacitation forms in "
        "the posterior, the scenario recorded here has the first drawn form",
    }
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    encoded = {k.encode(): json.dumps(v).encode() for k, v in meta.items()}
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **encoded})
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer, write_page_checksum=True)
    return buffer.getvalue()
