"""Run a scenario end to end: resolve `start_from`, compile, simulate, wrap the results."""

from __future__ import annotations

from pathlib import Path

from cartelsim import aggregate, invariants
from cartelsim.plan import make_plan
from cartelsim.results import Results
from cartelsim.scenario import Scenario, ScenarioError, load_scenario


def run(
    scenario: Scenario | str | Path,
    runs: int = 1,
    seed: int = 0,
    data_dir: str | Path | None = None,
    progress=None,
    first_run: int = 0,
    engine: str = "aggregate",
    scale: float | None = None,
    regions: str | None = None,
) -> Results:
    """Simulate `runs` runs of a scenario (a Scenario, a built-in name or a TOML path).

    With `simulation.start_from`, the named scenario runs first (same runs and seed) and each
    run starts from that run's final state, as PC2023's policy scenarios start from 2022.
    `first_run` makes these runs first_run, first_run + 1, ... of the ensemble seeded with
    `seed`, so that an ensemble computed in pieces (ensemble.py) equals one computed whole.
    Every block of runs is checked against the model's accounting (invariants.py).
    `engine = "agents"` runs the agent engine instead (cartelsim.agents; `scale` and
    `regions` are its options).
    """
    if runs < 1:
        raise ValueError(f"runs: must be >= 1 (got {runs})")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if engine == "agents":
        from cartelsim.agents.engine import run_agents

        return run_agents(scenario, runs, seed, scale, regions, progress, first_run)
    if engine != "aggregate":
        raise ValueError(f"engine: must be 'aggregate' or 'agents' (got {engine!r})")
    initial = None
    base_name = scenario.simulation.start_from
    if base_name is not None:
        base = run(base_name, runs=runs, seed=seed, data_dir=data_dir, first_run=first_run)
        end = base.plan.dates()[-1]
        if abs((end - scenario.simulation.start).days) > 7:
            raise ScenarioError(
                f"{scenario.name}.toml: simulation.start: {scenario.simulation.start} is not "
                f"where {base_name} ends ({end})"
            )
        initial = base.traj.members[-1]
    plan = make_plan(scenario, data_dir=data_dir, initial=None)
    if initial is not None and initial.shape[0] != plan.n_groups:
        raise ScenarioError(
            f"{scenario.name}.toml: simulation.start_from: {base_name} has "
            f"{initial.shape[0]} groups, this scenario {plan.n_groups}"
        )
    if initial is not None:
        plan = make_plan(scenario, data_dir=data_dir, initial=initial[:, 0])
    try:
        traj = aggregate.simulate(
            plan, runs, seed, initial=initial, progress=progress, first_run=first_run
        )
    except ValueError as exc:  # numpy's random draws refuse counts beyond 64-bit integers
        if scenario.simulation.mode != "stochastic":
            raise
        raise invariants.InvariantError(
            f"{scenario.name}.toml: (invariant): the stochastic engine stopped ({exc}): "
            "members outgrew what 64-bit counts hold (2**63); check the rates"
        ) from None
    invariants.check(plan, traj, first_run)
    return Results(plan, traj, seed, str(data_dir) if data_dir else None)
