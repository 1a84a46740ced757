"""Run a scenario end to end: resolve `start_from`, compile, simulate, wrap the results."""

from __future__ import annotations

from pathlib import Path

from cartelsim.aggregate import simulate
from cartelsim.plan import make_plan
from cartelsim.results import Results
from cartelsim.scenario import Scenario, ScenarioError, load_scenario


def run(
    scenario: Scenario | str | Path,
    runs: int = 1,
    seed: int = 0,
    data_dir: str | Path | None = None,
    progress=None,
) -> Results:
    """Simulate `runs` runs of a scenario (a Scenario, a built-in name or a TOML path).

    With `simulation.start_from`, the named scenario runs first (same runs and seed) and each
    run starts from that run's final state, as PC2023's policy scenarios start from 2022.
    """
    if runs < 1:
        raise ValueError(f"runs: must be >= 1 (got {runs})")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    initial = None
    base_name = scenario.simulation.start_from
    if base_name is not None:
        base = run(base_name, runs=runs, seed=seed, data_dir=data_dir)
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
    traj = simulate(plan, runs=runs, seed=seed, initial=initial, progress=progress)
    return Results(plan, traj, seed, str(data_dir) if data_dir else None)
