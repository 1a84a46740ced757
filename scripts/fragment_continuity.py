"""Continuity ratios at a scenario's fragment event (issue "One Mexico", resolution form).

The same world described at a finer resolution should not change its killing and saturation
rates at the switch. This script runs the scenario deterministically and gives, for the
national conflict deaths and saturation exits (trajectories.FLOWS), the ratio of the fragment
week's flow (the first week under the new network: the members move at its start) to the
week before's, and of the 4-week means either side. Both ratios depend on the rates only
through the members' split between the families at the switch (theta and omega cancel),
so 1 / ratio is the factor that keeps each flow continuous.

    PYTHONPATH=src python scripts/fragment_continuity.py [SCENARIO] [--posterior DIR --draws N]

With --posterior (a calibration's folder) the ratios are computed for N draws of its
posterior, with the fragment factors at 1 (the same rates in both worlds).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from cartelsim.aggregate import simulate
from cartelsim.analysis import calibrate, draws
from cartelsim.plan import make_plan
from cartelsim.scenario import FRAGMENT_FACTORS, load_scenario
from cartelsim.trajectories import FLOWS

NAMES = ("conflict_deaths", "saturation")


def fragment_week(plan) -> int:
    events = [e for e in plan.scenario.events if e.type == "fragment"]
    if not events:
        raise SystemExit(f"{plan.scenario.name}: no fragment event")
    return plan.week_of(events[0].date)


def ratios(flows: np.ndarray, week: int, span: int = 4) -> dict[str, np.ndarray]:
    """Per run: {flow: after / before, flow_mean: mean of `span` weeks after / before}."""
    out = {}
    for name in NAMES:
        f = flows[:, FLOWS.index(name)]
        out[name] = f[week] / f[week - 1]
        after, before = f[week : week + span], f[week - span : week]
        out[name + "_mean"] = after.mean(axis=0) / before.mean(axis=0)
    return out


def continuity(scenario: str = "mexico", span: int = 4) -> dict[str, float]:
    """The ratios of the scenario's own run, with the flows either side."""
    plan = make_plan(load_scenario(scenario))
    w = fragment_week(plan)
    traj = simulate(plan, 1, 0)
    out = {k: float(v[0]) for k, v in ratios(traj.flows, w, span).items()}
    for name in NAMES:
        out[name + "_before"] = float(traj.flows[w - 1, FLOWS.index(name), 0])
        out[name + "_after"] = float(traj.flows[w, FLOWS.index(name), 0])
    return out


def posterior_ratios(scenario: str, folder: str, n: int, seed: int = 0) -> pd.DataFrame:
    """The ratios over n draws of a calibration's posterior (fragment factors at 1)."""
    table = pd.read_parquet(f"{folder}/posterior.parquet")
    s = load_scenario(scenario)
    w = fragment_week(make_plan(s))
    rows = []
    for _, form, values in calibrate.posterior_sample_models(table, n, seed):
        values = {k: v for k, v in values.items() if k not in FRAGMENT_FACTORS}
        _, traj = draws.simulate_draws(s, values, seed, None, form, record="national")
        rows.append(pd.DataFrame({k: v for k, v in ratios(traj.flows, w).items()}))
    return pd.concat(rows, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="mexico")
    parser.add_argument("--posterior", help="a calibration folder (posterior.parquet)")
    parser.add_argument("--draws", type=int, default=200)
    args = parser.parse_args()
    own = continuity(args.scenario)
    print(f"{args.scenario}, its own values:")
    for name in NAMES:
        print(
            f"  {name}: week before {own[name + '_before']:.4g}, fragment week "
            f"{own[name + '_after']:.4g}, ratio {own[name]:.4f} (4-week means "
            f"{own[name + '_mean']:.4f}); continuity factor {1 / own[name]:.3f}"
        )
    if args.posterior:
        df = posterior_ratios(args.scenario, args.posterior, args.draws)
        print(f"{len(df)} posterior draws of {args.posterior}:")
        for name in NAMES:
            q = (1 / df[name]).quantile([0.05, 0.5, 0.95]).to_numpy()
            print(f"  {name}: continuity factor median {q[1]:.3f}, 90 % [{q[0]:.3f}, {q[2]:.3f}]")


if __name__ == "__main__":
    main()
