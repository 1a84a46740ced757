"""Run-time checks that a simulation's numbers obey the model's accounting.

A model bug (or a numerical method pushed past its stability limit, such as Euler steps with
a weekly exit rate above 1) must stop a run with an explanation, not produce numbers that a
researcher might publish. The checks run once per block of runs, on the whole arrays, with
numpy: they cost a few passes over memory the engine has just written, so the Numba kernels
stay free of bookkeeping.

What is checked, for every run, week and group:
- every value is finite;
- stocks (members) and flows (recruits, exits by cause) are not negative;
- flows balance: the national change in members over a week equals recruits minus the four
  exit flows, plus the members that `new_group` events add at the start of the next week.

Tolerances are relative to the size of the numbers involved: the deterministic integrator
rounds, the stochastic one counts whole members.
"""

from __future__ import annotations

import numpy as np

from cartelsim.plan import ADD, Plan
from cartelsim.trajectories import FLOWS, Trajectories

#: Relative tolerance of the checks: far above rounding (1e-15), far below any real error.
RTOL = 1e-9


class InvariantError(RuntimeError):
    """A simulation broke an accounting rule; the message names week, date, group and run."""


def check(plan: Plan, traj: Trajectories, first_run: int = 0) -> None:
    """Raise InvariantError at the first broken rule; `first_run` numbers the runs."""
    check_values(plan, traj, first_run)
    check_balance(plan, traj, first_run)


def check_values(plan: Plan, traj: Trajectories, first_run: int = 0) -> None:
    """Every stock and flow is finite and not negative (both engines)."""
    members, flows = traj.members, traj.flows  # (weeks + 1, groups, runs), (weeks, F, runs)
    where = _where(plan, first_run)

    # Two passes over the stocks, no temporary arrays: min and max are NaN if any value is,
    # and +-inf if any value is. The element is looked for only when something is wrong.
    lowest, highest = float(members.min()), float(members.max())
    finite = bool(np.isfinite(lowest) and np.isfinite(highest))
    tol = RTOL * max(abs(lowest), abs(highest), 1.0) if finite else 0.0
    if not finite:
        t, i, r = np.argwhere(~np.isfinite(members))[0]
        raise InvariantError(
            f"{_label(plan)}: members of group {plan.shorts[i]!r} are {members[t, i, r]} "
            f"at {where(t, r)}; the numbers overflowed (rates or sizes too large?)"
        )
    bad = np.argwhere(~np.isfinite(flows))
    if bad.size:
        t, k, r = bad[0]
        raise InvariantError(
            f"{_label(plan)}: national {FLOWS[k]} is {flows[t, k, r]} during {where(t, r)}"
        )
    if lowest < -tol:
        t, i, r = np.argwhere(members < -tol)[0]
        raise InvariantError(
            f"{_label(plan)}: members of group {plan.shorts[i]!r} are negative "
            f"({members[t, i, r]:.6g}) at {where(t, r)}; "
            "the weekly step is too coarse for these rates (try integrator = 'rk4') "
            "or the model has a bug"
        )
    bad = np.argwhere(flows < -tol)
    if bad.size:
        t, k, r = bad[0]
        raise InvariantError(
            f"{_label(plan)}: national {FLOWS[k]} is negative ({flows[t, k, r]:.6g}) "
            f"during {where(t, r)} (group all)"
        )


def check_balance(plan: Plan, traj: Trajectories, first_run: int = 0) -> None:
    """The national change in members over each week equals the recorded flows (the
    aggregate engine; the agent engine checks its own accounting, which has releases)."""
    members, flows = traj.members, traj.flows
    where = _where(plan, first_run)

    totals = members.sum(axis=1)  # (weeks + 1, runs)
    net = flows[:, 0] - flows[:, 1:].sum(axis=1)  # (weeks, runs)
    imbalance = totals[1:] - totals[:-1] - net - _added(plan)[:, None]
    size = np.maximum(totals[1:], totals[:-1]) + flows.sum(axis=1)
    bad = np.argwhere(np.abs(imbalance) > RTOL * np.maximum(size, 1.0))
    if bad.size:
        t, r = bad[0]
        raise InvariantError(
            f"{_label(plan)}: national flows do not balance during {where(t, r)} (group all): "
            f"members changed by {totals[t + 1, r] - totals[t, r]:.6g}, flows account for "
            f"{net[t, r] + _added(plan)[t]:.6g}; this is a model bug"
        )


def _where(plan: Plan, first_run: int):
    """How messages name a week and a run: "week 3 (2010-01-22), run 7"."""
    dates = plan.dates()
    return lambda week, run: f"week {week} ({dates[week].isoformat()}), run {first_run + run}"


def _added(plan: Plan) -> np.ndarray:
    """Members that `new_group` events add at the start of week t + 1, for each week t.

    Moves (splits, mergers) keep the national total; additions are recorded in the stock of
    the week they happen, so they belong to the balance of the week before. Stochastic runs
    add whole members.
    """
    added = np.zeros(plan.weeks)
    stochastic = plan.scenario.simulation.mode == "stochastic"
    for week, kind, _, _, amount in plan.transfers:
        if kind == ADD and 1 <= week < plan.weeks:
            added[int(week) - 1] += np.round(amount) if stochastic else amount
    return added


def _label(plan: Plan) -> str:
    """The start of every message: the scenario's file and a field-like tag."""
    return f"{plan.scenario.name}.toml: (invariant)"
