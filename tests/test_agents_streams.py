"""A random stream per mechanism (agents/streams.py): a change to one mechanism leaves the
other mechanisms' draws as they were, and the same seed gives the same run."""

from __future__ import annotations

import numpy as np
from conftest import small_document

from cartelsim.agents.engine import settings_of
from cartelsim.agents.mechanisms import raids, recruitment
from cartelsim.agents.regions import load_regions
from cartelsim.agents.sim import build, run_world
from cartelsim.agents.streams import STREAMS, Streams
from cartelsim.agents.world import REGION_VARIABLES
from cartelsim.plan import make_plan
from cartelsim.scenario import STATE_ARREST_RATE, validate

FORCES = [{"date": "2010-01-01", "troops": 40000, "federal_police": 10000}]


def run(sharing: float, seed: int = 4, **parameters):
    """Every mechanism on, states map, a tenth of the agents, two years."""
    document = small_document(
        deployments=FORCES,
        agents={
            "scale": 0.1,
            "levers": {"intelligence_sharing": sharing},
            "parameters": {"sentence_days": 120, "leader_capture": 0.01, **parameters},
        },
    )
    document["parameters"].update(state_kill_rate=0.0004)
    scenario = validate(document, "small.toml")
    plan = make_plan(scenario)
    world = build(plan, settings_of(scenario, None, None), load_regions("states"), seed)
    return world, run_world(world)


def variable(recorder, name: str) -> np.ndarray:
    return recorder.regional[:, REGION_VARIABLES.index(name)]


def test_a_raids_lever_changes_raids_draws_and_no_other_mechanism_s():
    """Intelligence sharing changes how many raids leak and succeed, so it changes the raids
    kernel's draws. With raids that arrest nobody (state_arrest_rate 0, no leader captures,
    no retaliation), nothing else depends on them: every other mechanism draws from its own
    stream, so recruitment, movement, clashes, corruption and the exits are draw for draw
    those of the run without the change. (With one stream for every kernel, as before, the
    raids' extra draws would shift every later draw of every other mechanism.)"""
    inert = {"retaliation_probability": 0, "leader_capture": 0, "bribe_acceptance": 0.3}
    a_world, a = run(0.0, **inert)
    b_world, b = run(1.0, **inert)
    assert a_world.plan.params[STATE_ARREST_RATE] == 0  # not in small_document
    leaked_a, leaked_b = variable(a, "raids_leaked"), variable(b, "raids_leaked")
    assert leaked_a.sum() > 100 and not np.array_equal(leaked_a, leaked_b)  # raids differ
    for name in ("recruits", "conflict_deaths", "state_kills", "forces_killed", "released",
                 "payroll", "members_total"):  # fmt: skip
        np.testing.assert_array_equal(variable(a, name), variable(b, name), err_msg=name)
    np.testing.assert_array_equal(a.members_by_region, b.members_by_region)
    assert variable(a, "recruits").sum() > 1000 and variable(a, "conflict_deaths").sum() > 10


def world(sharing: float, seed: int = 7):
    document = small_document(
        deployments=FORCES,
        agents={"scale": 0.5, "levers": {"intelligence_sharing": sharing},
                "regional_deployments": []},
    )  # fmt: skip
    document["parameters"].update(state_arrest_rate=0.002)
    scenario = validate(document, "small.toml")
    plan = make_plan(scenario)
    return build(plan, settings_of(scenario, None, None), load_regions("states"), seed)


def test_recruitment_draws_the_same_whatever_raids_draw():
    """Day by day for two weeks, raids with two sharing levels (different raid outcomes,
    different numbers of draws), then recruitment: its recruits, cell by cell, and their
    roles are identical in the two worlds."""
    a, b = world(0.0), world(1.0)
    hits_differ, recruits = False, 0
    for day in range(14):
        raids.step(a, day)
        raids.step(b, day)
        hits_differ |= not np.array_equal(a.hazards.arrest, b.hazards.arrest)
        recruitment.step(a, day)
        recruitment.step(b, day)
        births_a, births_b = a.requests.take(), b.requests.take()
        assert len(births_a) == len(births_b) <= 1
        for request_a, request_b in zip(births_a, births_b, strict=True):
            for x, y in zip(request_a[1:4], request_b[1:4], strict=True):
                np.testing.assert_array_equal(x, y)  # group, region, role of every recruit
            recruits += len(request_a[1])
    assert hits_differ and recruits > 5


def test_same_seed_same_run_and_streams_are_distinct():
    a_world, a = run(0.5, seed=11)
    b_world, b = run(0.5, seed=11)
    np.testing.assert_array_equal(a.members_by_region, b.members_by_region)
    np.testing.assert_array_equal(a.regional, b.regional)
    assert a_world.tally == b_world.tally
    keys = [getattr(Streams.from_seed(11), name).key for name in STREAMS]
    assert len(set(keys)) == len(STREAMS)
    other = Streams.from_seed(12)
    assert all(getattr(other, name).key != k for name, k in zip(STREAMS, keys, strict=True))
