"""Results of a run: the tidy table, the JSON summary, and writing them safely.

The tidy table has one row per (run, date, group, variable) with a float value. Members are
stocks at the start of each week (plus the end date); flows are national totals during the
week starting at `date`, under group "all". The Parquet file's metadata records the cartelsim
version, the scenario (resolved text and hash) and the seed, so any file can be traced back.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cartelsim import observe, outputs, rng
from cartelsim.engines import Extra
from cartelsim.plan import Plan
from cartelsim.trajectories import Trajectories
from cartelsim.version import VERSION

#: National weekly variables written to the tidy table (group "all").
NATIONAL = (
    "members_total",
    "recruits",
    "incapacitated",
    "state_kills",
    "conflict_deaths",
    "saturation",
    "member_deaths",
    "state_forces_killed",
    "civilians_killed",
    "killings",
    "other_homicides",
    "homicides",
)
#: The summary's yearly rows: (row key, weekly variable), in order. Each death once, by who
#: killed whom (observe.py); conflict_deaths means deaths between groups only.
YEARLY = (
    ("members_total", "members_total"),
    ("recruits", "recruits"),
    ("arrests", "incapacitated"),
    ("member_deaths_by_rivals", "member_deaths_by_rivals"),
    ("member_deaths_by_state", "member_deaths_by_state"),
    ("state_forces_killed", "state_forces_killed"),
    ("civilians_killed", "civilians_killed"),
    ("oc_killings", "killings"),
    ("missing_persons", "missing_persons"),
    ("other_homicides", "other_homicides"),
    ("homicides", "homicides"),
    ("conflict_deaths", "member_deaths_by_rivals"),
)


@dataclass
class Results:
    """An ensemble's output with what is needed to explain it."""

    plan: Plan
    traj: Trajectories
    seed: rng.Seed  # a number, or a tuple of seeds: one run each
    data_dir: str | None = None
    engine: str = "aggregate"
    #: What the engine keeps beside the trajectories (the agent engine: regions, agents at
    #: the start), with its own tidy rows and summary keys; None for the aggregate engine.
    extra: Extra | None = None
    _weekly: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _summary: dict | None = field(default=None, repr=False)
    _provenance: dict | None = field(default=None, repr=False)

    @property
    def runs(self) -> int:
        return self.traj.members.shape[2]

    @property
    def weekly(self) -> dict[str, np.ndarray]:
        """National weekly variables, each (weeks, runs); see observe.national_weekly."""
        if self._weekly is None:
            forces = None if self.extra is None else self.extra.state_forces_killed()
            self._weekly = observe.national_weekly(self.plan, self.traj, forces=forces)
        return self._weekly

    def to_pandas(self) -> pd.DataFrame:
        """The tidy table: run, date, group, region (0: national), variable, value.

        group and variable are categoricals built from codes: a pc2023 run has 80,000 rows,
        and string columns would take ten times the memory of the numbers."""
        plan, runs = self.plan, self.runs
        dates = pd.to_datetime(plan.dates())
        n, weeks = plan.n_groups, plan.weeks
        groups = pd.CategoricalDtype([*plan.shorts, "all"])
        variables = pd.CategoricalDtype(["members", *NATIONAL])

        def frame(run, date, group_codes, variable: str, values) -> pd.DataFrame:
            rows = len(values)
            return pd.DataFrame(
                {
                    "run": run,
                    "date": date,
                    "group": pd.Categorical.from_codes(group_codes, dtype=groups),
                    "variable": pd.Categorical.from_codes(
                        np.full(rows, variables.categories.get_loc(variable)), dtype=variables
                    ),
                    "value": values,
                }
            )

        members = self.traj.members  # (weeks + 1, groups, runs)
        frames = [
            frame(
                np.tile(np.arange(runs), (weeks + 1) * n),
                np.repeat(dates, n * runs),
                np.tile(np.repeat(np.arange(n), runs), weeks + 1),
                "members",
                members.reshape(-1),
            )
        ]
        for name in NATIONAL:
            frames.append(
                frame(
                    np.tile(np.arange(runs), weeks),
                    np.repeat(dates[1:] if name == "members_total" else dates[:-1], runs),
                    np.full(weeks * runs, n),  # "all"
                    name,
                    self.weekly[name].reshape(-1),
                )
            )
        table = pd.concat(frames, ignore_index=True)
        del frames
        table.insert(3, "region", 0)
        if self.extra is not None:
            table = pd.concat([table, self.extra.tidy_rows(self)], ignore_index=True)
        for column in ("group", "variable"):
            table[column] = table[column].astype("category")
        return table

    def to_xarray(self):
        """The results as an xarray.Dataset (run x date x group x region) with the
        provenance as attributes; see results_xarray.py. Imports xarray when called."""
        from cartelsim.results_xarray import to_xarray

        return to_xarray(self, NATIONAL)

    def summary(self) -> dict:
        """The JSON summary (see README): final state, yearly totals, observed vs simulated.

        Made once: the file, the report and the command line all read this dict."""
        if self._summary is None:
            self._summary = self._make_summary()
        return self._summary

    def provenance(self) -> dict:
        """What identifies this result: version, scenario and its hash, seed, dependencies."""
        if self._provenance is None:
            self._provenance = provenance(self.plan, self.seed)
        return self._provenance

    def _make_summary(self) -> dict:
        plan, w = self.plan, self.weekly
        final_members = self.traj.members[-1]  # (groups, runs)
        final = {
            "members_total": final_members.sum(axis=0),
            "members_by_group": dict(zip(plan.shorts, final_members, strict=True)),
            "deaths_per_week": w["member_deaths"][-1],  # members killed, by rivals or the state
            "recruits_per_week": w["recruits"][-1],
            "incapacitated_per_week": w["incapacitated"][-1],
        }
        out = {
            "scenario": plan.scenario.name,
            "engine": self.engine,
            "runs": self.runs,
            "seed": rng.as_json(self.seed),
            "start": plan.dates()[0].isoformat(),
            "end": plan.dates()[-1].isoformat(),
            "final": _reduce(final, np.mean),
        }
        if self.runs > 1:
            out["final_q05"] = _reduce(final, lambda x: np.quantile(x, 0.05))
            out["final_q95"] = _reduce(final, lambda x: np.quantile(x, 0.95))
        out["yearly"] = self.yearly()
        out["observed_vs_simulated"] = observe.compare(plan, w, self.data_dir)
        out["killings_breakdown"] = observe.killings_breakdown(plan, w)
        if self.extra is not None:
            out.update(self.extra.summary(self))
        out["provenance"] = self.provenance()
        return out

    def yearly(self) -> list[dict]:
        """Ensemble-mean totals per calendar year (members_total: at the year's end)."""
        plan, w = self.plan, self.weekly
        rows = []
        for year in observe.years(plan):
            row = {"year": year, "weeks": int(observe.window(plan, year).sum())}
            for key, variable in YEARLY:
                row[key] = float(observe.window_value(plan, w[variable], variable, year).mean())
            for series in plan.scenario.observation.series:
                variable = observe.VARIABLE_OF[series.variable]
                value = observe.window_value(plan, w[variable], variable, year)
                row[series.name] = float(value.mean())
            rows.append(row)
        return rows

    def write(self, out_dir: str | Path, force: bool = False) -> dict[str, Path]:
        """Write results.parquet and summary.json into out_dir; refuse to replace a result
        (or another command's) unless `force` (outputs.check_folder). Both files are
        written whole in a temporary folder, then renamed into place (outputs.publish), so
        a failure leaves the previous result as it was."""
        out = Path(out_dir)
        stale = outputs.check_folder(out, "run", force=force)
        with outputs.publish(out, [*stale, "report.html"]) as staging:
            self.write_files(staging)
        return {"results": out / "results.parquet", "summary": out / "summary.json"}

    def write_files(self, folder: Path) -> dict[str, Path]:
        """results.parquet and summary.json in `folder` (a staging folder of
        outputs.publish: nothing is checked or replaced here)."""
        folder = Path(folder)
        paths = {"results": folder / "results.parquet", "summary": folder / "summary.json"}
        table = pa.Table.from_pandas(self.to_pandas(), preserve_index=False)
        meta = {k.encode(): json.dumps(v).encode() for k, v in self.provenance().items()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
        # Page checksums: a damaged file fails to read instead of giving other numbers.
        pq.write_table(table, paths["results"], write_page_checksum=True)
        del table
        text = json.dumps(self.summary(), indent=2)
        paths["summary"].write_text(text, encoding="utf-8")
        return paths


def _reduce(values: dict, how) -> dict:
    out = {}
    for key, value in values.items():
        out[key] = _reduce(value, how) if isinstance(value, dict) else float(how(value))
    return out


def provenance(plan: Plan, seed: rng.Seed) -> dict:
    """Version, resolved scenario and its hash (Scenario.sha256), seed, dependencies."""
    scenario = plan.scenario
    return {
        "cartelsim_version": VERSION,
        "scenario_sha256": scenario.sha256(),
        "seed": rng.as_json(seed),
        "scenario": json.loads(scenario.text()),
        "dependencies": dependency_versions(),
    }


#: Packages whose version can change the numbers (or how they are written).
DEPENDENCIES = ("numpy", "numba", "scipy", "pandas", "pyarrow", "pydantic")


def dependency_versions() -> dict[str, str]:
    """Python's version and the installed version of each package in DEPENDENCIES."""
    versions = {"python": platform.python_version()}
    versions.update({name: metadata.version(name) for name in DEPENDENCIES})
    return versions


#: Kept here for the modules that import it from results (reports, calibration).
atomic_write = outputs.atomic_write


#: What pyarrow and pandas raise on a truncated or altered file, depending on where the damage
#: is: the page data (checksum or decoding errors), the footer, or the pandas metadata in it.
_DAMAGED = (OSError, ValueError, KeyError, TypeError, pa.ArrowException)


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a results.parquet, with a one-line error naming the file if it is damaged.

    Page checksums are verified: a flipped bit in the data is an error, not another number.
    The column names are checked too: they live in the footer, which has no checksum."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: not a readable results file (not a regular file)")
    try:
        table = pq.read_table(path, page_checksum_verification=True).to_pandas()
    except _DAMAGED as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path}: not a readable results file ({reason})") from None
    missing = [name for name in RESULT_COLUMNS if name not in table.columns]
    if missing:
        raise ValueError(f"{path}: not a readable results file (no column {missing[0]!r})")
    return table


#: Columns every results.parquet has.
RESULT_COLUMNS = ("run", "date", "group", "variable", "value")


#: Keys every summary.json has; `cartelsim run --from` needs the provenance.
SUMMARY_KEYS = ("scenario", "engine", "runs", "seed", "final", "provenance")


def read_summary(path: str | Path) -> dict:
    """Read a summary.json, with a one-line error naming the file if it is damaged, is not
    a regular file (``/dev/zero``, a FIFO) or is larger than outputs.LIMITS allows."""
    try:
        data = outputs.read_bounded(path, "summary")
    except outputs.OutputError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        raise ValueError(f"{path}: not a readable summary file ({reason})") from None
    try:
        summary = json.loads(data.decode("utf-8-sig"))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError included
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path}: not a readable summary file ({reason})") from None
    except RecursionError:
        raise ValueError(f"{path}: not a readable summary file (nested too deeply)") from None
    if not isinstance(summary, dict):
        raise ValueError(f"{path}: not a summary file (a JSON object is expected)")
    missing = [key for key in SUMMARY_KEYS if key not in summary]
    if missing:
        raise ValueError(f"{path}: {missing[0]}: missing; the file is damaged or not a summary")
    return summary
