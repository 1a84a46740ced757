"""Choose the particle of a `mexico` calibration whose values the scenario carries.

    PYTHONPATH=src python scripts/scenario_particle.py CALIBRATION_DIR [--seed S] [--write]

A single run of `mexico` (the demo, the agent engine, the dashboard) is one world of the
posterior, so it should be a typical one, not only one close to the data. The rule:
rank the final population's particles by their distance to the data (the calibration's
own misfit) and take the first that

1. has members at 2012.0 and at 2022.0 inside the posterior's interquartile range (weighted
   over every particle, calibrate.particle_runs), so its world has the posterior's scale;
2. splits the organized-crime killings of Jan-Sep 2011 as the government database does,
   within 10 points for each kind (executions and clashes between groups, clashes with
   authorities, aggressions against authorities: 81.5 / 12.8 / 5.7 %), which two of the
   calibration's targets fit and `tests/test_mexico.py` checks on the scenario.

Every particle is run once as the calibration ran it (deterministic scenario: the same
numbers). The candidates are printed with why each was passed over; `--write` puts the
chosen values into mexico.toml with a source naming the calibration and this rule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc

from cartelsim.analysis import calibrate, targets
from cartelsim.datasets import PACKAGE_DATA

#: The database's Jan-Sep 2011 shares (compiled_organized_crime_killings_2006_2013.csv:
#: 10,511 executions and clashes between groups, 1,652 clashes with authorities, 740
#: aggressions against authorities, of 12,903).
DATABASE_2011 = {"groups": 10_511 / 12_903, "clashes": 1_652 / 12_903, "aggressions": 740 / 12_903}
POINTS = 0.10


def particle_table(run: Path) -> tuple[calibrate.Setup, pd.DataFrame]:
    """One row per particle of the final population: its values, posterior weight,
    distance, members at 2012.0 and 2022.0 and its Jan-Sep 2011 shares."""
    problem = calibrate.setup("mexico", fix={"cartel_share": 0.1})
    history = pyabc.History(f"sqlite:///{run / 'abc.db'}")
    table = calibrate.posterior_table(problem, history)
    key = calibrate._model_key(table)
    names = [c for c in table.columns if c not in calibrate.meta_columns(table)]
    out = []
    for model, rows in table.groupby(key, sort=False):
        values = {c: rows[c].to_numpy() for c in names if rows[c].notna().all()}
        sample = [(str(model), str(rows.incapacitation_form.iloc[0]), values)]
        ((_, plan, traj, weekly),) = calibrate.model_ensembles(
            problem.scenario, sample, problem.fixed, None, lambda _: 0
        )
        sims = targets.simulated(problem.points, traj, weekly)
        distance = np.sqrt((targets.log_residuals(problem.points, sims) ** 2).sum(axis=0))
        members = traj.members.sum(axis=1)

        def week(text: str, plan=plan) -> int:
            return plan.week_of(dt.date.fromisoformat(text))

        jan, oct_ = week("2011-01-01"), week("2011-10-01")
        kinds = {
            "groups": weekly["group_killings"][jan:oct_].sum(axis=0),
            "clashes": weekly["member_deaths_by_state"][jan:oct_].sum(axis=0),
            "aggressions": weekly["state_forces_killed"][jan:oct_].sum(axis=0),
        }
        total = sum(kinds.values())
        frame = rows[names].copy()
        frame.insert(0, "model", model)
        frame["weight"] = (rows.weight / rows.weight.sum() * rows.model_probability).to_numpy()
        frame["distance"] = distance
        frame["members_2012"] = members[week("2012-01-01")]
        frame["members_2022"] = members[week("2022-01-01")]
        for kind, value in kinds.items():
            frame[f"share_{kind}"] = value / total
        frame["killings_jan_sep_2011"] = total
        out.append(frame)
    return problem, pd.concat(out).sort_values("distance")


def choose(table: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """The rule of the module docstring: the chosen row and a line per candidate."""
    w = (table.weight / table.weight.sum()).to_numpy()
    iqr = {
        c: [
            pyabc.weighted_statistics.weighted_quantile(table[c].to_numpy(), w, alpha=a)
            for a in (0.25, 0.75)
        ]
        for c in ("members_2012", "members_2022")
    }
    lines = [
        f"posterior interquartile ranges: { ({k: [round(x) for x in v] for k, v in iqr.items()}) }"
    ]
    for _, row in table.iterrows():
        why = [c for c, (low, high) in iqr.items() if not low <= row[c] <= high]
        why += [
            f"2011 {kind} {row[f'share_{kind}']:.1%}"
            for kind, share in DATABASE_2011.items()
            if abs(row[f"share_{kind}"] - share) > POINTS
        ]
        lines.append(
            f"  {row.model} distance {row.distance:.2f}, members {row.members_2012:,.0f} / "
            f"{row.members_2022:,.0f}: "
            + ("chosen" if not why else "passed over: " + ", ".join(why))
        )
        if not why:
            return row, lines
    raise SystemExit("no particle meets the rule")


def write(problem: calibrate.Setup, row: pd.Series, run: Path, seed: int, rank: int) -> Path:
    path = Path(PACKAGE_DATA) / "scenarios" / "mexico.toml"
    text = path.read_text(encoding="utf-8")
    source = (
        f"cartelsim calibrate mexico --fix cartel_share=0.1 --seed {seed} (2026-12-01; 1,000 "
        f"particles, 8 populations): the particle chosen by scripts/scenario_particle.py, the "
        f"closest to the data (rank {rank}, distance {row.distance:.1f}, model {row.model}) "
        "with members at 2012 and 2022 in the posterior's interquartile range and the 2011 "
        "killings split as the database's; posterior in the README"
    )
    for name in row.index:  # the parameters: the rows' other columns match no line
        if name in problem.fixed or name == "model":
            continue
        pattern = re.compile(rf"^{name} = \{{ value = [^,]+,(.*?)source = \"[^\"]*\"", re.M)
        if not pattern.search(text):
            continue
        value = float(row[name])
        text = pattern.sub(
            lambda m, n=name, v=value: f'{n} = {{ value = {v:.5g},{m.group(1)}source = "{source}"',
            text,
            count=1,
        )
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calibration", type=Path)
    parser.add_argument(
        "--seed", type=int, default=1, help="the calibration's seed (for the source)"
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    problem, table = particle_table(args.calibration)
    row, lines = choose(table)
    print("\n".join(lines))
    rank = list(table.index).index(row.name) + 1
    print(f"chosen: rank {rank}; values:")
    for name in table.columns:
        if name not in ("model",) and not name.startswith(("share_", "members_", "weight")):
            print(f"  {name} = {row[name]:.5g}")
    if args.write:
        print("wrote", write(problem, row, args.calibration, args.seed, rank))


if __name__ == "__main__":
    main()
