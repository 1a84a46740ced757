"""National consistency of the agent engine (issue "Agent engine", item 6).

Do the agent engine's national killings lie inside the aggregate engine's 90 %
posterior-predictive band of a calibration, year by year? The band is the calibration's
predictive check (summary.json, `predictive_check`: every target point's q05 and q95 over
the posterior draws); the agent runs are 1:1 (or --scale) runs of a scenario with its own
values, one per seed. Members at 2012.0 of each run are printed beside PC2023's 115,000 at
2012.0 (share 0.10). With --agents AGENT_CALIBRATION_DIR the runs use the closest particle
of an agent calibration (`cartelsim calibrate --engine agents`, its summary's `closest`)
instead of the scenario's agent values.

    PYTHONPATH=src python scripts/agent_consistency.py CALIBRATION_DIR \
        [--scenario mexico-2006-2012] [--seeds 0 1 2] [--scale 1] [--agents DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from cartelsim import observe
from cartelsim.agents.engine import simulate_agents
from cartelsim.analysis.agent_fit import with_parameters
from cartelsim.scenario import load_scenario

#: PC2023's estimate of the members at 2012.0, with their 10 % share (Science 381:1312).
PC2023_MEMBERS_2012 = 115_000


def bands(calibration: Path) -> dict[tuple[str, int], tuple[float, float]]:
    """(series, year) -> (q05, q95) of the calibration's posterior-predictive check."""
    summary = json.loads((calibration / "summary.json").read_text(encoding="utf-8"))
    out = {}
    for p in summary["predictive_check"]:
        if p["label"].isdigit():
            out[(p["target"], int(p["label"]))] = (p["q05"], p["q95"])
    return out


def agent_rows(
    scenario: str, seed: int, scale: float, values: dict[str, float] | None = None
) -> tuple[list[dict], float]:
    """The agent run's yearly values of the fitted series, and its members at 2012.0;
    `values` replace agent parameters."""
    world = with_parameters(load_scenario(scenario), values or {})
    out = simulate_agents(world, runs=1, seed=seed, scale=scale)
    weekly = observe.national_weekly(out.plan, out.traj, forces=out.state_forces_killed())
    rows = observe.compare(out.plan, weekly)
    week = out.plan.week_of(dt.date(2012, 1, 1))
    return [r for r in rows if r["fit"]], float(out.traj.members[week].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calibration", type=Path)
    parser.add_argument("--scenario", default="mexico-2006-2012")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--agents", type=Path, default=None)
    args = parser.parse_args()
    band = bands(args.calibration)
    values = None
    if args.agents is not None:
        summary = json.loads((args.agents / "summary.json").read_text(encoding="utf-8"))
        values = {k: v for k, v in summary["closest"].items() if k != "distance"}
        print(f"agent values: the closest particle of {args.agents}: {values}")
    for seed in args.seeds:
        rows, members = agent_rows(args.scenario, seed, args.scale, values)
        inside = total = 0
        print(f"seed {seed}: members at 2012.0 {members:,.0f} (PC2023 at 2012.0: "
              f"{PC2023_MEMBERS_2012:,})")  # fmt: skip
        for r in rows:
            key = (r["series"], r["year"])
            if key not in band:
                continue
            low, high = band[key]
            ok = low <= r["simulated"] <= high
            inside, total = inside + ok, total + 1
            print(f"  {r['series']} {r['year']}: agents {r['simulated']:,.0f}, aggregate 90 % "
                  f"[{low:,.0f}, {high:,.0f}] {'inside' if ok else 'OUTSIDE'}")  # fmt: skip
        print(f"  {inside} of {total} inside")


if __name__ == "__main__":
    main()
