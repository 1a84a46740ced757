"""Derive the agent engine's authorities killed per member the state kills from the counts.

The agent engine kills state forces two ways: in retaliation for leaked raids (raids.py) and
in proportion to the members the state kills in a region (clashes.py, the database's
aggressions against authorities). The proportions are derived, not guessed: with both set to
0 the 1:1 runs give the members the state kills and the forces killed in retaliation alone;
then

    forces_killed_per_state_kill       = (779 - federal forces killed in retaliation,
                                          Dec 2006-Nov 2012) / members the state killed then
    local_police_killed_per_state_kill = (2,986 - local police killed in retaliation,
                                          Dec 2006-2011) / members the state killed then

779: more than 395 soldiers and marines (24-horas.mx 2012-11-29) and 384 federal police (SSP
per Grillo) killed Dec 2006-Nov 2012; 2,986: municipal and state police killed Dec 2006-2011
(CENAPI/PGR; docs/EVIDENCE.md section 5). Means over the seeds.

    PYTHONPATH=src python scripts/authorities_killed.py [--scenario mexico-2006-2012]
        [--seeds 0 1 2] [--scale 1]
"""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np

from cartelsim.agents.engine import simulate_agents
from cartelsim.agents.world import REGION_VARIABLES
from cartelsim.analysis.agent_fit import with_parameters
from cartelsim.scenario import load_scenario

FEDERAL_KILLED, FEDERAL_END = 779, dt.date(2012, 12, 1)  # Dec 2006-Nov 2012
LOCAL_KILLED, LOCAL_END = 2_986, dt.date(2012, 1, 1)  # Dec 2006-2011
OFF = {"forces_killed_per_state_kill": 0.0, "local_police_killed_per_state_kill": 0.0}


def counts(scenario: str, seed: int, scale: float, values: dict[str, float]) -> dict:
    """Members the state killed and forces killed (federal, local) up to each end date."""
    out = simulate_agents(with_parameters(load_scenario(scenario), values), seed=seed,
                          scale=scale)  # fmt: skip
    by_state = out.traj.flows[:, 2, 0]  # trajectories.FLOWS: state_kills
    regional = out.regional[..., 0].sum(axis=2)  # (weeks, variables)
    federal = regional[:, REGION_VARIABLES.index("forces_killed")]
    local = regional[:, REGION_VARIABLES.index("local_police_killed")]
    fed_weeks, local_weeks = out.plan.week_of(FEDERAL_END), out.plan.week_of(LOCAL_END)
    return {
        "state_kills_federal_window": float(by_state[:fed_weeks].sum()),
        "state_kills_local_window": float(by_state[:local_weeks].sum()),
        "federal": float(federal[:fed_weeks].sum()),
        "local": float(local[:local_weeks].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="mexico-2006-2012")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--check", action="store_true", help="run with the scenario's values")
    args = parser.parse_args()
    rows = [counts(args.scenario, s, args.scale, {} if args.check else OFF) for s in args.seeds]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    for seed, r in zip(args.seeds, rows, strict=True):
        print(f"seed {seed}: " + ", ".join(f"{k} {v:,.0f}" for k, v in r.items()))
    if args.check:
        print(f"federal forces killed to Nov 2012 {mean['federal']:,.0f} (sourced "
              f"{FEDERAL_KILLED}); local police to 2011 {mean['local']:,.0f} (CENAPI "
              f"{LOCAL_KILLED:,})")  # fmt: skip
        return
    federal = (FEDERAL_KILLED - mean["federal"]) / mean["state_kills_federal_window"]
    local = (LOCAL_KILLED - mean["local"]) / mean["state_kills_local_window"]
    print(f"means: {mean}")
    print(f"forces_killed_per_state_kill = ({FEDERAL_KILLED} - {mean['federal']:,.0f}) / "
          f"{mean['state_kills_federal_window']:,.0f} = {federal:.4f}")  # fmt: skip
    print(f"local_police_killed_per_state_kill = ({LOCAL_KILLED:,} - {mean['local']:,.0f}) / "
          f"{mean['state_kills_local_window']:,.0f} = {local:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
