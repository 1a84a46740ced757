"""The resolution hypothesis: conflict lethality and saturation rescaled from a fragment event's
week on (fragment_lethality_factor, fragment_saturation_factor; plan._after_fragment,
flows._after_fragment)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cartelsim.aggregate import simulate
from cartelsim.plan import make_plan
from cartelsim.scenario import (
    FRAGMENT_LETHALITY_FACTOR,
    FRAGMENT_SATURATION_FACTOR,
    PARAMETER_NAMES,
    ScenarioError,
    load_scenario,
    validate,
)
from cartelsim.trajectories import FLOWS

CONFLICT, SATURATION_EXITS = FLOWS.index("conflict_deaths"), FLOWS.index("saturation")
COLUMNS = [FRAGMENT_LETHALITY_FACTOR, FRAGMENT_SATURATION_FACTOR]


def _runs(plan, lethality, saturation):
    """One deterministic run per (lethality, saturation) factor pair, the plan's other rates."""
    params = np.repeat(plan.params[:, None], len(lethality), axis=1)
    params[FRAGMENT_LETHALITY_FACTOR] = lethality
    params[FRAGMENT_SATURATION_FACTOR] = saturation
    return simulate(plan, len(lethality), 0, params=params)


@pytest.fixture(scope="module")
def mexico():
    plan = make_plan(load_scenario("mexico"))
    (event,) = [e for e in plan.scenario.events if e.type == "fragment"]
    return plan, plan.week_of(event.date)


def test_the_factors_are_in_force_from_the_fragment_week(mexico):
    plan, week = mexico
    own = plan.scenario.parameters
    assert plan.params[COLUMNS].tolist() == [  # the scenario's own values
        own.fragment_lethality_factor.value,
        own.fragment_saturation_factor.value,
    ]
    assert (plan.multipliers[:week, COLUMNS] == 0).all()
    assert (plan.multipliers[week:, COLUMNS] == 1).all()


def test_factors_of_one_change_nothing(mexico):
    """At 1 the run is exactly the run with the factors never in force (the columns at 0,
    as without a fragment event), before and after the event."""
    plan, _ = mexico
    ones = _runs(plan, [1.0], [1.0])
    columns = plan.multipliers.copy()
    columns[:, COLUMNS] = 0.0
    never = simulate(dataclasses.replace(plan, multipliers=columns), 1, 0)
    np.testing.assert_array_equal(ones.members, never.members)
    np.testing.assert_array_equal(ones.flows, never.flows)


def test_lethality_factor_two_doubles_conflict_deaths_after_the_event(mexico):
    """Direction and size: with factor 2 the fragment week's conflict deaths are twice those
    at factor 1 (the same state at the week's start; within the week the extra deaths lower
    the stock a little, so a little under 2), the weeks before are identical, and later
    conflict deaths stay higher than at factor 1 (fewer members, still twice the rate)."""
    plan, week = mexico
    traj = _runs(plan, [1.0, 2.0, 1.0], [1.0, 1.0, 2.0])
    deaths, crowding = traj.flows[:, CONFLICT], traj.flows[:, SATURATION_EXITS]
    np.testing.assert_array_equal(traj.flows[:week, :, 1], traj.flows[:week, :, 0])
    np.testing.assert_array_equal(traj.members[: week + 1, :, 1], traj.members[: week + 1, :, 0])
    assert deaths[week, 1] / deaths[week, 0] == pytest.approx(2.0, rel=0.01)
    assert deaths[week, 1] / deaths[week, 0] < 2.0
    assert (deaths[week : week + 52, 1] > deaths[week : week + 52, 0]).all()
    # the saturation factor does the same to the saturation exits, and only from that week
    np.testing.assert_array_equal(traj.flows[:week, :, 2], traj.flows[:week, :, 0])
    assert crowding[week, 2] / crowding[week, 0] == pytest.approx(2.0, rel=0.01)


@pytest.mark.parametrize("name", ["pc2023", "mexico-2006-2012"])
def test_scenarios_without_a_fragment_event_are_unaffected(name):
    plan = make_plan(load_scenario(name))
    assert (plan.multipliers[:, COLUMNS] == 0).all()
    traj = _runs(plan, [1.0, 3.0, 0.2], [1.0, 0.5, 5.0])
    for r in (1, 2):
        np.testing.assert_array_equal(traj.members[..., r], traj.members[..., 0])
        np.testing.assert_array_equal(traj.flows[..., r], traj.flows[..., 0])


def test_factors_are_bounded_and_not_policy_targets():
    document = load_scenario("mexico").model_dump()
    document["parameters"]["fragment_lethality_factor"]["value"] = 0.0
    with pytest.raises(ScenarioError, match="fragment_lethality_factor"):
        validate(document, "mexico.toml")
    document = load_scenario("mexico").model_dump()
    document["policies"] = [
        {"parameter": "fragment_saturation_factor", "date": "2015-01-01", "multiply": 2.0}
    ]
    with pytest.raises(ScenarioError, match="policies"):
        validate(document, "mexico.toml")
    assert "fragment_lethality_factor" in PARAMETER_NAMES
