"""Coarse grid fit of a few agent-only parameters to a scenario's observed killings.

    python -m cartelsim.analysis.agent_fit [SCENARIO] [--scale 0.25] [--runs 3] [--years 2007-2010]

The agent engine is stochastic and its outputs jump with every draw, so a gradient method
(fit.py's least squares for the aggregate engine) would follow noise. Instead every point of
a small grid is run with the same seeds (common random numbers) and scored as fit.py scores
the aggregate engine: the sum of squared log ratios of the ensemble mean to the observed
value, each divided by the series' relative error, over the years asked for. The grid is
run at a reduced scale for speed; the `--refine` best points are then run again at 1:1 and
the best of those is kept (small-scale runs are noisier, and leader captures, rare events
with large effects, make the score surface rough). Every score is printed, so the choice can
be checked by eye.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from cartelsim import observe
from cartelsim.agents.engine import simulate_agents
from cartelsim.agents.settings import AgentSettings
from cartelsim.analysis.fit import fitted_points
from cartelsim.plan import make_plan
from cartelsim.scenario import Scenario, load_scenario

#: The grid searched for the built-in values (settings.py): the leak of a raid by someone on
#: the target's payroll and the acceptance of bribes (how fast payrolls grow) set how many
#: raids fail, which is what drives the agent engine's members and killings above the
#: aggregate engine's; captures in raids add boosts and splits.
GRID = {
    "leak_given_payroll": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],
    "bribe_acceptance": [0.1, 0.2, 0.3],
    "leader_capture": [0.0001, 0.0003],
}


def with_parameters(scenario: Scenario, values: dict[str, float]) -> Scenario:
    """The scenario with these agent parameters' values replaced (sources kept)."""
    settings = scenario.agents or AgentSettings()
    p = settings.parameters
    changed = {k: getattr(p, k).model_copy(update={"value": v}) for k, v in values.items()}
    settings = settings.model_copy(update={"parameters": p.model_copy(update=changed)})
    return scenario.model_copy(update={"agents": settings})


def killings_comparison(
    scenario: Scenario, runs: int, seed: int = 0, scale: float | None = None
) -> list[dict]:
    """observe.compare's rows for the fitted series (ensemble of agent runs)."""
    out = simulate_agents(scenario, runs=runs, seed=seed, scale=scale)
    weekly = observe.national_weekly(out.plan, out.traj, forces=out.state_forces_killed())
    rows = observe.compare(out.plan, weekly)
    return [r for r in rows if r["fit"]]


def score(rows: list[dict], years: range, relative_error: dict[str, float]) -> float:
    """Half the sum of squared log ratios over relative errors (fit.py's cost)."""
    logs = [
        np.log(max(r["simulated"], 1e-9) / r["observed"]) / relative_error[r["series"]]
        for r in rows
        if r["year"] in years
    ]
    return 0.5 * float(np.sum(np.square(logs)))


def grid_fit(
    scenario: Scenario,
    grid: dict[str, list[float]],
    years: range,
    runs: int = 3,
    scale: float = 0.25,
    seed: int = 0,
    progress=print,
) -> dict:
    """Score every grid point; return the best point, its score and comparison, and all
    scores as [(values, score)]."""
    errors = {s.name: s.relative_error for s in scenario.observation.series}
    if not any(t[1] in years for t in fitted_points(make_plan(scenario), None)):
        raise ValueError(f"{scenario.name}: no fitted observed series covers years {years}")
    scores = []
    for point in itertools.product(*grid.values()):
        values = dict(zip(grid, point, strict=True))
        rows = killings_comparison(with_parameters(scenario, values), runs, seed, scale)
        scores.append((values, score(rows, years, errors), rows))
        progress(f"{values} score {scores[-1][1]:.2f}")
    best = min(scores, key=lambda s: s[1])
    return {
        "parameters": best[0],
        "score": best[1],
        "comparison": best[2],
        "scores": [(v, s) for v, s, _ in scores],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="mexico-2006-2012")
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--years", default="2007-2010", help="first-last year scored")
    parser.add_argument("--refine", type=int, default=6, help="best points re-run at 1:1")
    args = parser.parse_args(argv)
    first, last = (int(y) for y in args.years.split("-"))
    scenario, years = load_scenario(args.scenario), range(first, last + 1)
    result = grid_fit(scenario, GRID, years, args.runs, args.scale)
    if args.refine:
        best = sorted(result["scores"], key=lambda s: s[1])[: args.refine]
        print(f"re-running the {len(best)} best at scale 1")
        grid = [{k: [v] for k, v in values.items()} for values, _ in best]
        result = min(
            (grid_fit(scenario, g, years, args.runs, 1.0) for g in grid),
            key=lambda r: r["score"],
        )
    print(f"best {result['parameters']} score {result['score']:.2f}")
    for r in result["comparison"]:
        print(f"{r['series']} {r['year']} {r['months']}: observed {r['observed']:.0f}, "
              f"simulated {r['simulated']:.0f} ({r['relative_error']:+.0%})")  # fmt: skip


if __name__ == "__main__":
    main()
