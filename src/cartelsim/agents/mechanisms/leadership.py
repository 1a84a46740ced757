"""Leadership: a leader captured in a raid is replaced, and the group may split.

Every group has one leader agent (the leader's region: world.leader_region). When raids
capture a leader (raids.py marks world.captured):

1. the leader is jailed and a successor takes over (a lieutenant of the group, else a
   soldier, preferring the leader's region);
2. violence in the capture region rises by `capture_violence_boost` (0.8) for
   `capture_boost_days` (365), and in its neighbours by `neighbour_violence_boost` (0.3) for
   `neighbour_boost_days` (182): every clash in the region, whoever fights, is that much
   deadlier (clashes.py multiplies the region's conflict hazard once by 1 + L_r, so the
   region's conflict deaths rise by +80 % / +30 %, not by 1.8^2 or 1.3^2 as when both groups
   of a pair carried the boost). Sizes and durations: Lindo & Padilla-Romo 2018, J. Health
   Economics 58:253-268 (docs/EVIDENCE.md section 1): homicides +80 % in the municipality
   of the capture for at least 12 months, +30 % for 6 months in other municipalities where
   the same organization operates. Overlapping captures in a region take the larger level
   and the later end (not their product).

   *From municipalities to regions.* The study measures municipalities; the regions here
   are usually states. A state's violence after a capture would rise by 0.8 w_c + 0.3 w_o,
   w_c and w_o the shares of the state's killings in the capture municipality and in the
   other municipalities where the group operates. Captures happen where a group's
   operations concentrate, and the model has no municipal detail to give w_c, so the
   region is taken as the capture municipality (w_c = 1): the full +80 % in the capture
   region, and the +30 % in the neighbouring regions, the model's stand-in for "other
   municipalities where the group operates" (the study also finds homicides *falling* in
   the municipalities immediately around the capture one; at state resolution they are
   inside the capture region and net out in the +80 %). This is an upper bound of the
   state-level effect (w_c < 1 in a real state); a region table of municipalities applies
   the measured effect as measured.
3. with probability `split_probability` the group splits: each of its free members in the
   capture region and its neighbours leaves with probability `split_fraction` to form a new
   group (a free group slot), a rival of the parent with weight `split_rivalry_weight`, led
   by one of them. DESIGN 3.2's fragmentation figures (Atuesta & Perez-Davila 2018: 5
   visible groups in 2007, ~80 in 2011) are the calibration target.
4. lieutenants break away: in each cell (g, r), splits happen as Poisson events at
   `lieutenant_split_rate` per lieutenant per year (a lieutenant for every `lieutenant_span`
   members: C_gr / (span * s) real lieutenants), and a splinter forms around r as in 3.
   but from the region alone (a lieutenant's faction), led by one of the leavers (the
   lieutenant there, if one leaves). So splits grow with the members the groups have, as
   the fragmentation of 2007-2011 grew with the war (Atuesta & Perez-Davila 2018: 5 visible
   groups in 2007, ~80 in 2011; Calderon et al. 2015, Phillips 2015: fragmentation follows
   the removal of leaders and lieutenants). The rate is derived from that target
   (settings.py): about 75 splits over 2007-2011 against ~950,000 member-years in the 1:1
   `mexico-2006-2012` run, 0.8 splits per 10,000 member-years, 0.004 per lieutenant-year.
   A splinter needs a free group slot (`max_new_groups`); when none is left, no split.

The jailing, the successor's new role and the splinter's members are requested
(requests.py) and applied by resolve.py the same day, before the day's exits (so the
successor, a leader from today, is exempt from them); the choices are made here, from the
members as they stand and this module's requests of the day, with the leadership stream
(streams.py). Scheduled `leader_removed` events (schedule.py) jail the leader and pass the
succession here, but never split a group: the scenario schedules the splits that happened.
"""

from __future__ import annotations

import numpy as np

from cartelsim.agents import requests as rq
from cartelsim.agents.population import FREE, LEADER, LIEUTENANT, STAYS
from cartelsim.agents.world import World


def step(world: World, day: int) -> None:
    p = world.settings.parameters
    if p.lieutenant_split_rate.value > 0:
        _breakaways(world)
    if not world.captured.any():
        return
    rng = world.streams.leadership.rng
    for g in np.flatnonzero(world.captured):
        r = int(world.leader_region[g])
        if r < 0:  # pragma: no cover (raids capture only a leader where he is)
            continue
        remove_leader(world, int(g))
        _boost(world, int(g), r, day)
        if rng.random() < p.split_probability.value:
            split(world, int(g), r)
        world.today.leaders_captured[r] += 1


def leaders(world: World, g: int) -> np.ndarray:
    """Rows of group g's leader(s), today's requests counted (a successor named today, not a
    leader jailed today)."""
    m, requests = world.members, world.requests
    rows = np.flatnonzero((m.view("group") == g) & (m.view("role") == LEADER))
    rows = rows[~np.isin(rows, requests.pending(rq.JAIL))]
    named = requests.pending_role(LEADER)
    named = named[(m.group[named] == g) & ~np.isin(named, requests.pending(rq.GROUP))]
    return np.union1d(rows, named)


def remove_leader(world: World, g: int) -> None:
    """Jail group g's leader and promote a successor."""
    rows = leaders(world, g)
    region = int(world.leader_region[g])
    world.requests.jail(rows)
    world.tally.leaders_removed += len(rows)
    world.leader_region[g] = -1
    promote(world, g, region)


def vacate(world: World, g: int) -> None:
    """Group g has no leader any more (it was absorbed: alliances.py)."""
    world.leader_region[g] = -1


def promote(
    world: World, g: int, region: int, pool: np.ndarray | None = None,
    newcomers: np.ndarray | None = None,
) -> int:  # fmt: skip
    """Make a free member of g the leader: a lieutenant in `region` if any, else any
    lieutenant, else any member. `pool`: the candidates (default: g's free members, less those
    leaving it or jailed today); `newcomers`: the regions of members requested today as
    soldiers of g, candidates after the pool. Returns the index of the newcomer chosen (the
    caller makes it the leader), else -1."""
    m, requests = world.members, world.requests
    if pool is None:
        free = (m.view("group") == g) & (m.view("jailed_until") == FREE)
        pool = np.flatnonzero(free & (m.view("removed") == STAYS))
        pool = pool[~np.isin(pool, requests.pending(rq.JAIL, rq.GROUP))]
    newcomers = np.zeros(0, np.int16) if newcomers is None else newcomers
    rng = world.streams.leadership.rng
    lieutenant = pool[m.role[pool] == LIEUTENANT]
    for candidates in (lieutenant[m.region[lieutenant] == region], lieutenant):
        if len(candidates):
            _name(world, g, int(candidates[rng.integers(len(candidates))]))
            return -1
    n = len(pool) + len(newcomers)
    if n == 0:
        return -1
    k = int(rng.integers(n))
    if k < len(pool):
        _name(world, g, int(pool[k]))
        return -1
    world.leader_region[g] = newcomers[k - len(pool)]
    return k - len(pool)


def _name(world: World, g: int, row: int) -> None:
    world.requests.role(np.array([row]), LEADER)
    world.leader_region[g] = world.members.region[row]


def _boost(world: World, g: int, r: int, day: int) -> None:
    """The capture region's and its neighbours' regional rise (once per region: clashes.py)."""
    p = world.settings.parameters
    _raise(world, r, p.capture_violence_boost.value, day, p.capture_boost_days.value)
    for j in world.regions.neighbours(r):
        _raise(world, int(j), p.neighbour_violence_boost.value, day, p.neighbour_boost_days.value)


def _raise(world: World, r: int, level: float, day: int, days: float) -> None:
    """Region r's rise: `level` for `days` from today; a rise still running keeps the larger
    level and the later end (simultaneous captures do not multiply)."""
    running = world.boost_until[r] > day
    world.boost_level[r] = max(world.boost_level[r], level) if running else level
    world.boost_until[r] = max(world.boost_until[r], day + int(days))


def _breakaways(world: World) -> None:
    """Lieutenants' splits today: Poisson per cell (item 4 of the module docstring)."""
    p = world.settings.parameters
    if not (~world.active_group & (world.splinter_parent == -2)).any():
        return  # no slot left
    per_day = p.lieutenant_split_rate.value / 365.0
    mean = world.cells.ravel() * (per_day / (p.lieutenant_span.value * world.scale))
    total = float(mean.sum())
    rng = world.streams.leadership.rng
    events = int(rng.poisson(total)) if total > 0 else 0
    if events == 0:
        return
    # the day's events, each in a cell drawn in proportion to its rate (a Poisson process
    # per cell, drawn as the total and its multinomial split)
    G, R = world.cells.shape
    for cell in rng.choice(G * R, size=events, p=mean / total):
        split(world, int(cell // R), int(cell % R), region_only=True)


def split(world: World, g: int, r: int, region_only: bool = False) -> int:
    """Form a splinter of g around region r (with its neighbours, unless `region_only`);
    returns its slot, or -1 when no slot is free or nobody leaves."""
    free_slots = np.flatnonzero(~world.active_group & (world.splinter_parent == -2))
    if len(free_slots) == 0:
        return -1
    child = int(free_slots[0])
    m, requests = world.members, world.requests
    area = [r] if region_only else np.append(world.regions.neighbours(r), r)
    candidates = np.flatnonzero(
        (m.view("group") == g)
        & np.isin(m.view("region"), area)
        & (m.view("jailed_until") == FREE)
        & (m.view("removed") == STAYS)
        & (m.view("role") != LEADER)
    )
    taken = np.concatenate([requests.pending(rq.JAIL, rq.GROUP), requests.pending_role(LEADER)])
    candidates = candidates[~np.isin(candidates, taken)]
    fraction = world.settings.parameters.split_fraction.value
    leaving = candidates[world.streams.leadership.rng.random(len(candidates)) < fraction]
    if len(leaving) == 0:
        return -1
    requests.group(leaving, child)
    world.splinter_parent[child] = g
    requests.splinter_ties(g, child)  # the network is alliances.py's: resolve asks it
    world.shorts[child] = f"{world.shorts[g]}-s{child - world.plan.n_groups + 1}"
    world.names[child] = f"splinter of {world.names[g]} ({world.regions.names[r]})"
    promote(world, child, r, pool=leaving)
    world.tally.splits += 1
    world.today.splits[r] += 1
    return child
