"""Splits raise the count of groups; truces and mergers can fire (issue 13 items 5 and 7)."""

from __future__ import annotations

import numpy as np
from conftest import small_document

from cartelsim.agents import resolve
from cartelsim.agents.engine import settings_of
from cartelsim.agents.mechanisms import alliances, leadership
from cartelsim.agents.regions import load_regions
from cartelsim.agents.sim import build, run_world
from cartelsim.plan import make_plan
from cartelsim.scenario import validate


def world_for(seed: int = 0, **params):
    document = small_document(agents={"regional_deployments": [], "parameters": params})
    scenario = validate(document, "small.toml")
    return build(
        make_plan(scenario), settings_of(scenario, None, None), load_regions("states"), seed
    )


def active_groups(world) -> int:
    return int((world.cells.sum(axis=1) > 0).sum())


def test_lieutenants_break_away_at_their_rate_and_raise_the_count_of_groups():
    # rate per lieutenant-year: 365 days at 0.5 with ~1 lieutenant per 50 members gives
    # about 0.5 * members / 50 splits; none at rate 0
    rate = 0.5
    counts = {}
    for on in (0.0, rate):
        world = world_for(lieutenant_split_rate=on)
        members = world.cells.sum()
        before = active_groups(world)
        for day in range(365):
            leadership.step(world, day)
            resolve.apply_requests(world)
        counts[on] = (world.tally.splits, active_groups(world) - before)
    assert counts[0.0] == (0, 0)
    splits, added = counts[rate]
    expected = rate * members / 50  # members barely change: only the splits move them
    free_slots = int(world.settings.parameters.max_new_groups.value)
    assert added == splits > 0
    assert splits == min(free_slots, splits)
    assert abs(splits - min(expected, free_slots)) < 4 * np.sqrt(expected) + 1
    child = world.plan.n_groups
    assert (
        world.splinter_parent[child] >= 0 and world.excess[world.splinter_parent[child], child] == 6
    )


def test_more_splits_more_active_groups_over_a_run():
    ends = {}
    for rate in (0.0, 0.02, 0.1):
        world = world_for(seed=1, lieutenant_split_rate=rate)
        recorder = run_world(world)
        ends[rate] = recorder.national[-1, 5]  # active_groups at the end
        assert ends[rate] == active_groups(world)
    assert ends[0.0] < ends[0.02] < ends[0.1]


def test_a_decided_truce_between_unequal_partners_ends_in_a_merger():
    # a pair in a decided truce, the smaller under merger_size_ratio of the larger: it is
    # absorbed at merger_rate
    world = world_for(
        merger_rate=0.05, merger_size_ratio=0.9, truce_break_rate=0.0, lieutenant_split_rate=0
    )
    sizes = world.cells.sum(axis=1)
    big, small = int(np.argmax(sizes)), int(np.argmin(np.where(sizes > 0, sizes, np.inf)))
    assert sizes[small] < 0.9 * sizes[big]
    world.decided_truce[big, small] = world.decided_truce[small, big] = True
    world.excess[big, small] = world.excess[small, big] = -1.0
    for day in range(200):
        alliances.step(world, day)
        resolve.apply_requests(world)
        if world.tally.mergers_decided:
            break
    assert world.tally.mergers_decided == 1
    assert world.cells[small].sum() == 0 and not world.active_group[small]
