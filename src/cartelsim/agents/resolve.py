"""Resolve the day: the one writer of the people. Requests first, then releases, exits, moves.

Mechanisms never change a member or a state person's service themselves (population.WRITERS):
they append requests (agents/requests.py), set a daily hazard per (group, region) cell
(clashes, raids, recruitment's saturation) or a move probability and destination shares
(movement), and this pass applies them all once a day (Starsim's request-then-resolve
pattern), keeping the count of free members per cell (world.cells) and the lists of who
serves where (world.service) up to date:

1. requests, in the order they were made: births, jailings, role and group changes,
   mergers, deaths and desertions of state people, deployments (requests.py);
2. releases, on the days a sentence ends (world.members.next_release);
3. exits: each free member of cell (g, r), not a leader, leaves the free population today
   with probability p = 1 - exp(-sum of the four hazards), by the cause k with probability
   hazard_k / sum (competing risks: conflict death, state kill, arrest, leaving); leaders are
   exempt (they are taken only by raids, leadership.py, and scheduled events);
4. moves: each free member still there, not a leader, moves with probability q
   (movement.py) to a neighbour drawn from the cell's destination shares.

So a member has an exit today with probability p and a move with probability (1 - p) q.
Exits draw from the `resolve` stream and moves from the `movement` stream (streams.py).

How 3 and 4 are computed (the same rule, in less time): on most days few members have an
event (p and q are of the order of 1e-3), so instead of one draw per member each pass visits
members with probability e = max over cells (of p, then of q), by geometric gaps between
visited rows (thinning, Lewis & Shedler 1979), and a visited member has its event with
probability p_gr / e (q_gr / e). Every member then has its event with exactly its
probability, independently of the others, and a day costs a few draws per event. On the last
day of a week the rows of the dead and departed are dropped (compaction), after the day's
counters have counted them.
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents import requests as rq
from cartelsim.agents.mechanisms import alliances, corruption
from cartelsim.agents.population import (
    ACTIVE,
    ARMY,
    ARRESTED,
    DEAD,
    DEFECTED,
    FEDERAL_POLICE,
    FREE,
    LEADER,
    LIEUTENANT,
    LOCAL_POLICE,
    SOLDIER,
    STAYS,
    Members,
    StatePeople,
)
from cartelsim.agents.streams import seed_kernel
from cartelsim.agents.world import DAYS_PER_WEEK, NEVER, Service, World

#: Order of the hazards in world.hazards.table and of the removal codes 1..4.
CAUSES = ("conflict_deaths", "state_kills", "arrests", "left")


def resolve(world: World, day: int) -> None:
    """The day's requests, releases, exits and moves; the week's compaction."""
    apply_requests(world)
    m, t = world.members, world.today
    sentence = int(world.settings.parameters.sentence_days.value)
    m.next_release = _resolve(
        day, m.next_release, m.count, m.group, m.region, m.role, m.jailed_until, m.removed,
        world.hazards.table, world.move_probability, world.regions.indptr,
        world.regions.indices, world.move_cdf, sentence if sentence > 0 else -1, world.cells,
        t.conflict_deaths, t.state_kills, t.arrests, t.left, t.released,
        world.streams.resolve.key, world.streams.movement.key,
    )  # fmt: skip
    if day % DAYS_PER_WEEK == DAYS_PER_WEEK - 1:
        compact(m)


def apply_requests(world: World) -> None:
    """Apply the queued requests, in the order they were made."""
    for request in world.requests.take():
        kind, args = request[0], request[1:]
        if kind == rq.BIRTHS:
            _births(world, *args)
        elif kind == rq.JAIL:
            _jail(world, *args)
        elif kind == rq.ROLE:
            rows, role = args
            world.members.role[rows] = role
        elif kind == rq.GROUP:
            _change_group(world, *args)
        elif kind == rq.MERGE:
            _merge(world, *args)
        elif kind == rq.KILL:
            _kill_forces(world, *args)
        elif kind == rq.DEFECT:
            _defect(world, *args)
        elif kind == rq.DEPLOY:
            _deploy(world, *args)
        elif kind == rq.TIES:
            alliances.splinter_ties(world, *args)
        else:  # pragma: no cover
            raise ValueError(f"unknown request {kind}")


# --- members ---------------------------------------------------------------------------------


def _births(world: World, group, region, role, counter) -> None:
    m = world.members
    n = len(group)
    if m.count + n > m.capacity:
        _grow(m, m.count + n)
    if counter == "recruits":
        counts, count_them = world.today.recruits, True
    elif counter == "defected_in":
        counts, count_them = world.today.defected_in, True
    else:
        counts, count_them = world.today.recruits, False
    _append(
        m.count, group, region, role, m.group, m.region, m.role, m.jailed_until, m.removed,
        world.cells, world.active_group, counts, count_them,
    )  # fmt: skip
    m.count += n


@numba.njit(cache=True)
def _append(
    start, group, region, role, group_col, region_col, role_col, jailed_col, removed_col, cells,
    active, counts, count_them,
):  # fmt: skip
    for k in range(len(group)):
        i = start + k
        group_col[i], region_col[i], role_col[i] = group[k], region[k], role[k]
        jailed_col[i], removed_col[i] = FREE, STAYS
        cells[group[k], region[k]] += 1
        active[group[k]] = True
        if count_them:
            counts[region[k]] += 1


def _grow(m: Members, needed: int) -> None:
    capacity = max(needed, 2 * m.capacity)
    m.group = _grown(m.group, m.count, capacity)
    m.region = _grown(m.region, m.count, capacity)
    m.role = _grown(m.role, m.count, capacity)
    m.jailed_until = _grown(m.jailed_until, m.count, capacity)
    m.removed = _grown(m.removed, m.count, capacity)


def _grown(column: np.ndarray, count: int, capacity: int) -> np.ndarray:
    new = np.zeros(capacity, dtype=column.dtype)
    new[:count] = column[:count]
    return new


def _jail(world: World, rows) -> None:
    """Jail for good (captured or removed leaders), counted as arrests."""
    m = world.members
    for row in rows:
        m.role[row] = LIEUTENANT
        if m.jailed_until[row] == FREE and m.removed[row] == STAYS:
            world.cells[m.group[row], m.region[row]] -= 1
        m.jailed_until[row] = NEVER
        world.today.arrests[m.region[row]] += 1


def _change_group(world: World, rows, group: int) -> None:
    m = world.members
    rows = rows[m.removed[rows] == STAYS]
    free = rows[m.jailed_until[rows] == FREE]
    np.subtract.at(world.cells, (m.group[free], m.region[free]), 1)
    np.add.at(world.cells, (np.full(len(free), group), m.region[free]), 1)
    m.group[rows] = group
    world.active_group[group] = True


def _merge(world: World, source: int, target: int) -> None:
    """Every member of source joins target; its leaders become lieutenants; its payroll too."""
    m = world.members
    rows = np.flatnonzero((m.view("group") == source) & (m.view("removed") == STAYS))
    m.role[rows[m.role[rows] == LEADER]] = LIEUTENANT
    _change_group(world, rows, target)
    world.active_group[source] = False
    corruption.merge_payroll(world, source, target)


def compact(m: Members) -> None:
    """Drop the rows marked removed (dead, left; arrested members stay, jailed)."""
    m.count = _compact(m.count, m.group, m.region, m.role, m.jailed_until, m.removed)


@numba.njit(cache=True)
def _compact(count, group, region, role, jailed_until, removed):
    """Move the rows that stay to the front, in order; returns their number."""
    n = 0
    for i in range(count):
        if removed[i] == STAYS:
            group[n], region[n], role[n] = group[i], region[i], role[i]
            jailed_until[n], removed[n] = jailed_until[i], STAYS
            n += 1
    return n


# --- state people ----------------------------------------------------------------------------


def people_in(world: World, region: int) -> np.ndarray:
    """Rows of the state people serving in `region`."""
    service = world.service
    return service.order[service.offsets[region] : service.offsets[region + 1]]


def _kill_forces(
    world: World, region: int, how_many: int, rng: np.random.Generator, who: int
) -> None:
    """Up to `how_many` active state forces serving in `region` die: army and federal
    police (rq.DEPLOYED: the forces in a clash), local police (rq.LOCAL) or any of them
    (rq.ANY_FORCE: a retaliation), drawn with the requester's Generator; their payroll and
    the serving counts follow. Counted apart: forces_killed (army and federal police, the
    sourced 395 + 384) and local_police_killed."""
    s = world.state
    rows = people_in(world, region)
    low = LOCAL_POLICE if who == rq.LOCAL else 0
    high = LOCAL_POLICE - 1 if who == rq.DEPLOYED else LOCAL_POLICE
    rows = rows[(s.kind[rows] >= low) & (s.kind[rows] <= high) & (s.status[rows] == ACTIVE)]
    if len(rows) == 0 or how_many <= 0:
        return
    victims = rng.choice(rows, size=min(how_many, len(rows)), replace=False)
    s.status[victims] = DEAD
    corruption.leave_payroll(world, victims)
    federal = int((s.kind[victims] < LOCAL_POLICE).sum())
    world.service.forces_in[region] -= federal
    world.service.informable[region] -= len(victims)
    world.today.forces_killed[region] += federal
    world.today.local_police_killed[region] += len(victims) - federal


def _defect(world: World, rows, groups) -> None:
    """Deserters leave the state and join the groups as soldiers where they serve (those
    killed earlier today stay dead)."""
    s = world.state
    serving = s.status[rows] == ACTIVE
    rows, groups = rows[serving], groups[serving]
    regions = s.region[rows].astype(np.int16)
    s.status[rows] = DEFECTED
    np.subtract.at(world.service.forces_in, regions, 1)
    np.subtract.at(world.service.informable, regions, 1)
    _births(world, groups, regions, np.full(len(rows), SOLDIER, np.int8), "defected_in")


def _deploy(world: World, army: np.ndarray, police: np.ndarray) -> None:
    """Army and federal police agents to the regions wanted; those taken off deployment
    leave any payroll."""
    s = world.state
    off = []
    for kind, counts in ((ARMY, army), (FEDERAL_POLICE, police)):
        rows = np.flatnonzero((s.kind == kind) & (s.status == ACTIVE))
        wanted = min(int(counts.sum()), len(rows))
        place = np.repeat(np.arange(world.R), counts)[:wanted].astype(np.int16)
        s.region[rows[:wanted]] = place
        s.region[rows[wanted:]] = -1
        off.append(rows[wanted:])
    service = service_of(s, world.R)
    world.service.order = service.order
    world.service.offsets = service.offsets
    world.service.forces_in = service.forces_in
    world.service.informable = service.informable
    corruption.after_deployment(world, np.concatenate(off))


def service_of(s: StatePeople, R: int) -> Service:  # noqa: N803 (regions)
    """The per-region lists and counts of the state people serving."""
    serving = np.flatnonzero(s.region >= 0)
    order = serving[np.argsort(s.region[serving], kind="stable")]
    offsets = np.searchsorted(s.region[order], np.arange(R + 1))
    active = s.status[serving] == ACTIVE
    informable = np.bincount(s.region[serving][active], minlength=R)
    armed = serving[active & (s.kind[serving] <= FEDERAL_POLICE)]
    forces_in = np.bincount(s.region[armed], minlength=R).astype(float)
    return Service(order, offsets, forces_in, informable)


# --- the day's releases, exits and moves -----------------------------------------------------


@numba.njit(cache=True, boundscheck=False)
def _resolve(
    day, next_release, n, group, region, role, jailed_until, removed, hazard, move_p, indptr,
    indices, move_cdf, sentence, cells, conflict_deaths, state_kills, arrests, left, released,
    exit_key, move_key,
):  # fmt: skip
    causes, G, R = hazard.shape
    # 1. releases, on the days a sentence ends
    if day >= next_release:
        next_release = NEVER
        for i in range(n):
            if removed[i] != STAYS or jailed_until[i] == FREE:
                continue
            if day >= jailed_until[i]:
                jailed_until[i] = FREE
                released[region[i]] += 1
                cells[group[i], region[i]] += 1
            else:
                next_release = min(next_release, jailed_until[i])
    # 2. exits: each occupied cell's chance p, members visited by thinning
    exit_p = np.zeros((G, R))
    envelope = 0.0
    for g in range(G):
        for r in range(R):
            if cells[g, r] == 0:
                continue
            total = 0.0
            for k in range(causes):
                total += hazard[k, g, r]
            exit_p[g, r] = -np.expm1(-total)
            envelope = max(envelope, exit_p[g, r])
    if envelope > 0.0:
        seed_kernel(exit_key, day)
        log_miss = np.log1p(-envelope) if envelope < 1.0 else -np.inf
        i = -1
        while True:
            gap = np.log(1.0 - np.random.random()) / log_miss  # rows skipped before the next
            if gap >= n - i - 1:
                break
            i += 1 + int(gap)
            if removed[i] != STAYS or jailed_until[i] != FREE or role[i] == LEADER:
                continue
            g, r = group[i], region[i]
            v = np.random.random() * envelope  # uniform on [0, p_gr) given an exit
            p = exit_p[g, r]
            if v >= p:
                continue
            cells[g, r] -= 1
            total = 0.0
            for k in range(causes):
                total += hazard[k, g, r]
            x = v / p * total  # the cause in proportion to its hazard
            cause = 0
            acc = hazard[0, g, r]
            while cause < causes - 1 and x >= acc:
                cause += 1
                acc += hazard[cause, g, r]
            if cause == 0:
                conflict_deaths[r] += 1
            elif cause == 1:
                state_kills[r] += 1
            elif cause == 2:
                arrests[r] += 1
            else:
                left[r] += 1
            if cause + 1 == ARRESTED:
                jailed_until[i] = day + sentence if sentence > 0 else NEVER
                next_release = min(next_release, jailed_until[i])
            else:
                removed[i] = cause + 1
    # 3. moves: each occupied cell's chance q, survivors visited by thinning
    envelope = 0.0
    for g in range(G):
        for r in range(R):
            if cells[g, r] > 0 and indptr[r + 1] > indptr[r]:
                envelope = max(envelope, move_p[g, r])
    if envelope <= 0.0:
        return next_release
    seed_kernel(move_key, day)
    log_miss = np.log1p(-envelope) if envelope < 1.0 else -np.inf
    i = -1
    while True:
        gap = np.log(1.0 - np.random.random()) / log_miss
        if gap >= n - i - 1:
            return next_release
        i += 1 + int(gap)
        if removed[i] != STAYS or jailed_until[i] != FREE or role[i] == LEADER:
            continue
        g, r = group[i], region[i]
        if indptr[r + 1] == indptr[r]:
            continue
        v = np.random.random() * envelope
        q = move_p[g, r]
        if v >= q:
            continue
        x = v / q  # the destination by its share
        k = indptr[r]
        while k < indptr[r + 1] - 1 and x >= move_cdf[g, k]:
            k += 1
        j = indices[k]
        region[i] = j
        cells[g, r] -= 1
        cells[g, j] += 1
