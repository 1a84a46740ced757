"""Ensembles whose runs each have their own parameter values.

Calibration (posterior predictive), policy comparison and sensitivity analysis all simulate
one run per parameter draw. A draw may change the engine's rates (PARAMETER_NAMES) and the
start size C0 (`initial_members_total`, which rescales every group's start); the observation
shares (`cartel_share`, `incarceration_share`) only change how deaths and incapacitations
become recorded numbers, so `observables` applies them run by run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cartelsim import observe
from cartelsim.aggregate import simulate
from cartelsim.plan import Plan, make_plan
from cartelsim.scenario import (
    PARAMETER_NAMES,
    Scenario,
    ScenarioError,
    load_scenario,
    start_from_chain,
)
from cartelsim.trajectories import Trajectories


def simulate_draws(
    scenario: Scenario,
    draws: dict[str, np.ndarray],
    seed: int = 0,
    data_dir: str | Path | None = None,
    form: str | None = None,
    record: str = "groups",
) -> tuple[Plan, Trajectories]:
    """Simulate one run per draw. `draws` maps parameter names to arrays of equal length;
    names not given keep the scenario's value. `form` overrides the incapacitation form;
    `record="national"` keeps only total members (aggregate.simulate), which is all that
    national outputs need and several times faster.

    With `simulation.start_from`, the base scenario runs first with the same draws and each
    run continues from its own final state (C0 then applies to the base scenario only).
    """
    runs = _runs(draws)
    if form is not None:
        scenario = with_form(scenario, form)
    initial = None
    if scenario.simulation.start_from is not None:
        start_from_chain(scenario)  # a missing base or a cycle: one line, before any run
        base = load_scenario(scenario.simulation.start_from)
        if form is not None:
            base = with_form(base, form)
        _, base_traj = simulate_draws(base, draws, seed, data_dir)
        initial = base_traj.members[-1]
        plan = make_plan(scenario, data_dir, initial=initial[:, 0])
    else:
        plan = make_plan(scenario, data_dir)
    for name in draws:
        if name in PARAMETER_NAMES:
            _refuse_set_policy(scenario, name)
    params, scaled = run_inputs(plan, draws, runs)
    initial = scaled if initial is None else initial
    traj = simulate(plan, runs=runs, seed=seed, params=params, initial=initial, record=record)
    return plan, traj


def run_inputs(
    plan: Plan, draws: dict[str, np.ndarray], runs: int
) -> tuple[np.ndarray, np.ndarray]:
    """The engine's per-run inputs for these draws: params (P, runs), the plan's values with
    the drawn rates put in, and the start (groups, runs), the plan's rescaled to each draw's
    `initial_members_total` when given."""
    params = np.repeat(plan.params[:, None], runs, axis=1)
    for name, values in draws.items():
        if name in PARAMETER_NAMES:
            params[PARAMETER_NAMES.index(name)] = values
    initial = np.repeat(plan.initial[:, None], runs, axis=1)
    if "initial_members_total" in draws:
        initial *= np.asarray(draws["initial_members_total"], float) / plan.initial.sum()
    return params, initial


def observables(
    plan: Plan, traj: Trajectories, draws: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """National weekly variables (weeks, runs) with each run's observation parameters
    (observe.national_weekly: cartel share, other homicides, forces killed, incarceration
    share)."""
    return observe.national_weekly(plan, traj, draws)


def _runs(draws: dict[str, np.ndarray]) -> int:
    lengths = {len(np.atleast_1d(v)) for v in draws.values()}
    if len(lengths) != 1:
        raise ValueError(f"parameter draws must all have the same length (got {sorted(lengths)})")
    return lengths.pop()


def with_form(scenario: Scenario, form: str) -> Scenario:
    """The scenario with another incapacitation form (calibration compares forms)."""
    parameters = scenario.parameters.model_copy(update={"incapacitation_form": form})
    return scenario.model_copy(update={"parameters": parameters})


def _refuse_set_policy(scenario: Scenario, name: str) -> None:
    """A `set` policy is stored as a multiplier of the base value; with per-run values the
    set level would silently change, so refuse instead."""
    for i, policy in enumerate(scenario.policies):
        if policy.parameter == name and policy.set is not None:
            raise ScenarioError(
                f"{scenario.name}.toml: policies[{i}].set: {name} varies between runs here; "
                "use 'multiply' for a parameter that is calibrated or sampled"
            )
