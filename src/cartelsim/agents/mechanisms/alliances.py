"""Alliances: the scheduled network, and truces and mergers the groups decide themselves.

Scheduled (`scheduled`, called by schedule.py between weeks, so in force from the week's
first day, before its mechanisms): plan.py compiles the scenario's dated events into network
epochs (as for the aggregate engine); this puts the epoch in force for the scenario's groups
(rivalry weights, -1 for truce pairs, alliance shields 1/(A+1), scheduled violence boosts),
leaving splinter groups' ties as leadership.py set them, and carries out the member
transfers planned for the week: a merger moves every member of the absorbed group (and its
payroll) to the first group; a scheduled split moves each member of the parent to the new
group with the event's fraction; a new group gets its members where its territory is
(resolve.py applies the transfers with the last day's requests, schedule.py). A truce
therefore ends the clashes between the pair (clashes.py: weight -1 + 1 = 0), and a merger
ends them for good.

Decided by groups (`step`, daily; every parameter is an assumption, no published rate was
found). Each pair of groups remembers its recent losses to each other: L_gh, the expected
deaths of the pair's members caused by each other (clashes.py), averaged exponentially over
`truce_memory_days`. A pair that fights (not in a truce) agrees a truce with daily
probability `truce_rate` when both hold:

- its losses are heavy for its size: 365 * L_gh / (C_g + C_h) > `truce_loss_threshold`
  (members killed by each other per member per year);
- it shares a stronger common enemy: a third group, larger than each of them, that fights
  both (in a truce with neither).

A decided truce sets the pair's rivalry weight to -1, like a scheduled one, and breaks with
daily probability `truce_break_rate`, restoring the weight. While it holds, the pair merges
with daily probability `merger_rate` if the smaller group has under `merger_size_ratio` of
the larger's members: the smaller is absorbed as in a scheduled merger. With `truce_rate` 0
groups decide nothing.

Member transfers are requested (requests.py) and applied by resolve.py: a merger as a rule
(every member the absorbed group has when it is applied, its payroll with it), a split as
the rows chosen here with the schedule stream. The decisions draw from the alliances stream
(streams.py). This module owns the network (rivalry weights, alliance shields, boosts,
decided truces), a splinter's ties included (`splinter_ties`: leadership.py requests them,
resolve.py applies the request through it).
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents import requests as rq
from cartelsim.agents.mechanisms import leadership
from cartelsim.agents.population import FREE, LEADER, SOLDIER, STAYS
from cartelsim.agents.streams import seed_kernel
from cartelsim.agents.world import World
from cartelsim.plan import ADD, MOVE

#: Outcomes of a pair's day in _decide.
NOTHING, TRUCE, BREAK, MERGE = 0, 1, 2, 3


def scheduled(world: World, week: int) -> None:
    """Put the week's network epoch in force and carry out its transfers."""
    epoch = _epoch_of(world, week)
    if epoch is not None:
        n = world.plan.n_groups
        world.excess[:n, :n] = epoch.excess
        world.inv_alliance[:n] = epoch.inv_alliance
        world.group_boost[:n] = epoch.boost
        # decided truces between scenario groups outlast the epoch change
        decided = world.decided_truce[:n, :n]
        world.weight_before_truce[:n, :n][decided] = epoch.excess[decided]
        world.excess[:n, :n][decided] = -1.0
    for row in world.plan.transfers[world.plan.transfers[:, 0] == week]:
        _, kind, source, target, amount = row
        if int(kind) == MOVE:
            move(world, int(source), int(target), float(amount), world.streams.schedule.rng)
        elif int(kind) == ADD:
            count = int(round(amount * world.scale))
            new_members(world, int(target), count, world.territory[int(target)])


def step(world: World, day: int) -> None:
    """Groups decide truces, break them and merge (module docstring)."""
    p = world.settings.parameters
    outcome = np.zeros((world.n_groups, world.n_groups), dtype=np.int8)
    events = _decide(
        world.streams.alliances.key, day, world.clash_losses, world.cells, world.excess,
        world.decided_truce,
        world.weight_before_truce, world.mutual_losses, 1.0 / p.truce_memory_days.value,
        p.truce_loss_threshold.value / 365.0, p.truce_rate.value, p.truce_break_rate.value,
        p.merger_rate.value, p.merger_size_ratio.value, outcome,
    )  # fmt: skip
    if events == 0:
        return
    t = world.tally
    t.truces_decided += int((outcome == TRUCE).sum())
    t.truces_broken += int((outcome == BREAK).sum())
    merged = set()
    for g, h in zip(*np.nonzero(outcome == MERGE), strict=True):
        if g in merged or h in merged:  # one merged already today
            continue
        small, large = (g, h) if world.cells[g].sum() < world.cells[h].sum() else (h, g)
        world.decided_truce[small, :] = world.decided_truce[:, small] = False
        move(world, int(small), int(large), 1.0)
        merged.add(small)
        t.mergers_decided += 1


@numba.njit(cache=True)
def _decide(
    key, day, losses, cells, excess, decided, weight_before, memory, decay, threshold,
    truce_rate, break_rate, merger_rate, size_ratio, outcome,
):  # fmt: skip
    """One day of the pairs' decisions; outcome[g, h] (g < h) says what each pair did.
    Returns the number of pairs that did something."""
    seed_kernel(key, day)
    G = cells.shape[0]
    events = 0
    size = np.zeros(G)
    for g in range(G):
        for r in range(cells.shape[1]):
            size[g] += cells[g, r]
    for g in range(G):
        for h in range(g + 1, G):
            today = losses[g, h] + losses[h, g]
            memory[g, h] += decay * (today - memory[g, h])
            if size[g] == 0 or size[h] == 0:
                continue
            if decided[g, h]:
                if np.random.random() < break_rate:
                    excess[g, h] = excess[h, g] = weight_before[g, h]
                    decided[g, h] = decided[h, g] = False
                    outcome[g, h] = BREAK
                    events += 1
                elif (
                    min(size[g], size[h]) < size_ratio * max(size[g], size[h])
                    and np.random.random() < merger_rate
                ):
                    outcome[g, h] = MERGE
                    events += 1
                continue
            if excess[g, h] <= -1.0 or memory[g, h] <= threshold * (size[g] + size[h]):
                continue
            enemy = False
            for k in range(G):
                if (
                    k != g and k != h and size[k] > max(size[g], size[h])
                    and excess[g, k] > -1.0 and excess[h, k] > -1.0
                ):  # fmt: skip
                    enemy = True
                    break
            if enemy and np.random.random() < truce_rate:
                weight_before[g, h] = weight_before[h, g] = excess[g, h]
                excess[g, h] = excess[h, g] = -1.0
                decided[g, h] = decided[h, g] = True
                outcome[g, h] = TRUCE
                events += 1
    return events


def _epoch_of(world: World, week: int):
    for epoch in world.plan.epochs:
        if epoch.start == week:
            return epoch
    return None


def move(
    world: World, source: int, target: int, fraction: float, rng: np.random.Generator | None = None
) -> None:
    """Each member of `source` joins `target` with probability `fraction` (drawn with `rng`);
    1: a merger, every member (requested as a rule: resolve applies it to the members the
    group has by then)."""
    m = world.members
    rows = np.flatnonzero((m.view("group") == source) & (m.view("removed") == STAYS))
    rows = rows[~np.isin(rows, world.requests.pending(rq.GROUP))]
    if fraction < 1.0:
        rows = rows[m.role[rows] != LEADER]
        rows = rows[~np.isin(rows, world.requests.pending_role(LEADER))]
        rows = rows[rng.random(len(rows)) < fraction]
        world.requests.group(rows, target)
    else:
        world.requests.merge(source, target)
        leadership.vacate(world, source)
    if world.leader_region[target] < 0:
        free = rows[m.jailed_until[rows] == FREE]
        own = np.flatnonzero(
            (m.view("group") == target) & (m.view("jailed_until") == FREE)
            & (m.view("removed") == STAYS)
        )  # fmt: skip
        pool = np.concatenate([own[~np.isin(own, world.requests.pending(rq.JAIL, rq.GROUP))], free])
        region = int(np.argmax(_cells_after(world, target, free)))
        leadership.promote(world, target, region, pool=np.sort(pool))


def _cells_after(world: World, g: int, joining: np.ndarray) -> np.ndarray:
    """(R,) free members of g once `joining` have joined it."""
    return world.cells[g] + np.bincount(world.members.region[joining], minlength=world.R)


def splinter_ties(world: World, parent: int, child: int) -> None:
    """A splinter's network (split by leadership.py): a rival of its parent, no boost, no
    allies."""
    weight = world.settings.parameters.split_rivalry_weight.value
    world.excess[parent, child] = world.excess[child, parent] = weight
    world.group_boost[child] = 1.0
    world.inv_alliance[child] = 1.0


def new_members(world: World, g: int, count: int, weights: np.ndarray) -> None:
    """Request `count` soldiers of group g spread over regions with `weights` (largest
    remainder), one of them (or of g's members) its leader if it has none."""
    per_region = largest_remainder(count, weights)
    region = np.repeat(np.arange(world.R), per_region).astype(np.int16)
    role = np.full(len(region), SOLDIER, np.int8)
    if world.leader_region[g] < 0 and count > 0:
        main = int(np.argmax(world.cells[g] + per_region))
        k = leadership.promote(world, g, main, newcomers=region)
        if k >= 0:
            role[k] = LEADER
    world.requests.births(np.full(len(region), g, np.int16), region, role)


def largest_remainder(count: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts summing to `count`, proportional to `weights`."""
    weights = np.asarray(weights, dtype=float)
    exact = count * weights / weights.sum()
    whole = np.floor(exact).astype(np.int64)
    rest = count - whole.sum()
    if rest > 0:
        whole[np.argsort(-(exact - whole), kind="stable")[:rest]] += 1
    return whole
