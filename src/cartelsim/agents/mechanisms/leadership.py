"""Leadership: a leader captured in a raid is replaced, and the group may split.

Every group has one leader agent, in its home region (the region with most members when the
group forms). When raids capture a leader (raids.py):

1. the leader is jailed and a successor takes over (a lieutenant of the group, else a
   soldier, preferring the leader's region);
2. violence in the capture region rises by `capture_violence_boost` for `capture_boost_days`,
   and in its neighbours by `neighbour_violence_boost` for `neighbour_boost_days`, for the
   group and for whoever fights it there (Lindo & Padilla-Romo 2018: +80 % for 12 months,
   +30 % for 6 months in neighbouring municipalities);
3. with probability `split_probability` the group splits: each of its free members in the
   capture region and its neighbours leaves with probability `split_fraction` to form a new
   group (a free group slot), a rival of the parent with weight `split_rivalry_weight`, led
   by one of them. DESIGN 3.2's fragmentation figures (Atuesta & Perez-Davila 2018: 5
   visible groups in 2007, ~80 in 2011) are the calibration target.

Scheduled `leader_removed` events (schedule.py) jail the leader and pass the succession here,
but never split a group: the scenario schedules the splits that happened.
"""

from __future__ import annotations

import numpy as np

from cartelsim.agents.population import FREE, LEADER, LIEUTENANT, STAYS
from cartelsim.agents.world import NEVER, World


def step(world: World, day: int) -> None:
    captures, world.captures = world.captures, []
    for g, r in captures:
        if world.leader_region[g] != r:  # already taken today
            continue
        remove_leader(world, g, day)
        _boost(world, g, r, day)
        p = world.settings.parameters
        if world.rng["leadership"].random() < p.split_probability.value:
            split(world, g, r, day)
        world.today["leaders_captured"][r] += 1


def remove_leader(world: World, g: int, day: int) -> None:
    """Jail group g's leader and promote a successor."""
    m = world.members
    rows = np.flatnonzero((m.view("group") == g) & (m.view("role") == LEADER))
    region = int(world.leader_region[g])
    for row in rows:
        m.role[row] = LIEUTENANT
        if m.jailed_until[row] == FREE and m.removed[row] == STAYS:
            world.cells[g, m.region[row]] -= 1
        m.jailed_until[row] = NEVER
        world.today["arrests"][m.region[row]] += 1
    world.tally.leaders_removed += len(rows)
    world.leader_region[g] = -1
    promote(world, g, region)


def promote(world: World, g: int, region: int) -> None:
    """Make a free member of g the leader: a lieutenant in `region` if any, else any
    lieutenant, else any member."""
    m = world.members
    free = (m.view("group") == g) & (m.view("jailed_until") == FREE) & (m.view("removed") == STAYS)
    lieutenant = free & (m.view("role") == LIEUTENANT)
    for pool in (lieutenant & (m.view("region") == region), lieutenant, free):
        rows = np.flatnonzero(pool)
        if len(rows):
            row = rows[world.rng["leadership"].integers(len(rows))]
            m.role[row] = LEADER
            world.leader_region[g] = m.region[row]
            return


def _boost(world: World, g: int, r: int, day: int) -> None:
    p = world.settings.parameters
    regions = world.regions
    rivals = np.flatnonzero(world.cells[:, r] > 0)
    for group in {g, *rivals.tolist()}:
        _raise(world, group, r, p.capture_violence_boost.value, day + p.capture_boost_days.value)
        for j in regions.neighbours(r):
            _raise(
                world, group, j, p.neighbour_violence_boost.value,
                day + p.neighbour_boost_days.value,
            )  # fmt: skip


def _raise(world: World, g: int, r: int, level: float, until: float) -> None:
    world.boost_level[g, r] = max(world.boost_level[g, r], level)
    world.boost_until[g, r] = max(world.boost_until[g, r], int(until))


def split(world: World, g: int, r: int, day: int) -> int:
    """Form a splinter of g around region r; returns its slot, or -1 when no slot is free."""
    free_slots = np.flatnonzero(~world.active_group & (world.splinter_parent == -2))
    if len(free_slots) == 0:
        return -1
    child = int(free_slots[0])
    m = world.members
    area = np.append(world.regions.neighbours(r), r)
    candidates = np.flatnonzero(
        (m.view("group") == g)
        & np.isin(m.view("region"), area)
        & (m.view("jailed_until") == FREE)
        & (m.view("removed") == STAYS)
        & (m.view("role") != LEADER)
    )
    fraction = world.settings.parameters.split_fraction.value
    leaving = candidates[world.rng["leadership"].random(len(candidates)) < fraction]
    if len(leaving) == 0:
        return -1
    m.group[leaving] = child
    np.add.at(world.cells, (np.full(len(leaving), child), m.region[leaving]), 1)
    np.subtract.at(world.cells, (np.full(len(leaving), g), m.region[leaving]), 1)
    world.active_group[child] = True
    world.splinter_parent[child] = g
    weight = world.settings.parameters.split_rivalry_weight.value
    world.excess[g, child] = world.excess[child, g] = weight
    world.group_boost[child] = 1.0
    world.inv_alliance[child] = 1.0
    world.shorts[child] = f"{world.shorts[g]}-s{child - world.plan.n_groups + 1}"
    world.names[child] = f"splinter of {world.names[g]} ({world.regions.names[r]})"
    promote(world, child, r)
    world.tally.splits += 1
    return child
