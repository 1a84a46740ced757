"""Resolve the day for every member at once: exits requested by the mechanisms, moves, releases.

Mechanisms never remove or move a member themselves: clashes, raids and recruitment's
saturation each set a daily hazard per (group, region) cell, movement sets a move probability
and destination shares; this pass then applies them (Starsim's request-then-resolve pattern)
and keeps the count of free members per cell (world.cells) up to date. Leaders are exempt
from the cell hazards: they are taken only by raids (leadership.py) and scheduled events.

The rule for each free member of cell (g, r), not a leader: with probability
p = 1 - exp(-sum of the four hazards) it leaves the free population today, by the cause k
with probability hazard_k / sum (competing risks: conflict death, state kill, arrest,
leaving); otherwise it moves with probability q (movement.py) to a neighbour drawn from the
cell's destination shares. So a member has an event today with probability
P_gr = p + (1 - p) q.

How it is computed (the same rule, in less time): on most days few members have an event
(P is of the order of 1e-3), so instead of one draw per member the kernel visits members with
probability e = max P_gr each, by geometric gaps between visited rows (thinning, Lewis &
Shedler 1979), and a visited member has its event with probability P_gr / e. Every member
then has its event with probability exactly P_gr, independently of the others, and a day
costs a few draws per event. The cell counts are kept up to date by every writer (here,
recruitment, leadership, alliances, corruption's deserters) rather than recounted, and the
members are scanned for releases only on days when a sentence ends (world.next_release).
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents.population import ARRESTED, FREE, LEADER, STAYS
from cartelsim.agents.record import COUNTERS
from cartelsim.agents.world import NEVER, World

#: Order of the hazards in World.hazard and of the removal codes 1..4.
CAUSES = ("conflict_deaths", "state_kills", "arrests", "left")
#: Rows of world.today_table the kernel counts into: the causes, then releases.
COUNT_ROWS = np.array([COUNTERS.index(name) for name in (*CAUSES, "released")])


def resolve(world: World, day: int) -> None:
    """Apply today's hazards and moves; refresh world.cells; add to today's counters."""
    m = world.members
    sentence = int(world.settings.parameters.sentence_days.value)
    world.next_release = _resolve(
        day, world.next_release, m.count, m.group, m.region, m.role, m.jailed_until, m.removed,
        world.hazard, world.move_probability, world.regions.indptr, world.regions.indices,
        world.move_cdf, sentence if sentence > 0 else -1, world.cells, world.today_table,
        COUNT_ROWS,
    )  # fmt: skip


@numba.njit(cache=True, boundscheck=False)
def _resolve(
    day, next_release, n, group, region, role, jailed_until, removed, hazard, move_p, indptr,
    indices, move_cdf, sentence, cells, today, rows,
):  # fmt: skip
    released = rows[len(rows) - 1]
    causes, G, R = hazard.shape
    # 1. releases, on the days a sentence ends
    if day >= next_release:
        next_release = NEVER
        for i in range(n):
            if removed[i] != STAYS or jailed_until[i] == FREE:
                continue
            if day >= jailed_until[i]:
                jailed_until[i] = FREE
                today[released, region[i]] += 1
                cells[group[i], region[i]] += 1
            else:
                next_release = min(next_release, jailed_until[i])
    # 2. each occupied cell's chance of an exit (p) and of any event (P)
    exit_p = np.zeros((G, R))
    event_p = np.zeros((G, R))
    envelope = 0.0
    for g in range(G):
        for r in range(R):
            if cells[g, r] == 0:
                continue
            total = 0.0
            for k in range(causes):
                total += hazard[k, g, r]
            p = -np.expm1(-total)
            q = move_p[g, r] if indptr[r + 1] > indptr[r] else 0.0
            exit_p[g, r] = p
            event_p[g, r] = p + (1.0 - p) * q
            envelope = max(envelope, event_p[g, r])
    if envelope <= 0.0:
        return next_release
    # 3. visit each member with probability `envelope`, by geometric gaps between rows
    log_miss = np.log1p(-envelope) if envelope < 1.0 else -np.inf
    i = -1
    while True:
        gap = np.log(1.0 - np.random.random()) / log_miss  # rows skipped before the next visit
        if gap >= n - i - 1:
            return next_release
        i += 1 + int(gap)
        if removed[i] != STAYS or jailed_until[i] != FREE or role[i] == LEADER:
            continue
        g, r = group[i], region[i]
        v = np.random.random() * envelope  # uniform on [0, P_gr) given an event
        if v >= event_p[g, r]:
            continue
        p = exit_p[g, r]
        cells[g, r] -= 1
        if v < p:  # an exit: the cause in proportion to its hazard
            total = 0.0
            for k in range(causes):
                total += hazard[k, g, r]
            x = v / p * total
            cause = 0
            acc = hazard[0, g, r]
            while cause < causes - 1 and x >= acc:
                cause += 1
                acc += hazard[cause, g, r]
            today[rows[cause], r] += 1
            if cause + 1 == ARRESTED:
                jailed_until[i] = day + sentence if sentence > 0 else NEVER
                next_release = min(next_release, jailed_until[i])
            else:
                removed[i] = cause + 1
            continue
        x = (v - p) / (event_p[g, r] - p)  # a move: the destination by its share
        k = indptr[r]
        while k < indptr[r + 1] - 1 and x >= move_cdf[g, k]:
            k += 1
        r = indices[k]
        region[i] = r
        cells[g, r] += 1


@numba.njit(cache=True)
def seed_kernels(seed: int) -> None:
    """Seed the generator Numba kernels use (one per thread; runs are single-threaded)."""
    np.random.seed(seed)
