"""Movement along land borders, towards contested and valuable regions.

Each free member (not a leader) moves on a given day with probability `movement_rate`, to a
neighbour j of its region chosen with weight

    value_j * (1 + contest_attraction * rivals_j / (members_j + 1))

value_j = 1 + crossing_value * US crossings in j (World.value); rivals_j: members of other
groups in j. Groups push into rich plazas and into the fights for them. Moves are drawn and
applied by resolve.py, from the movement stream (streams.py), after the day's exits (a member
who dies today does not move). With `agents.movement = false`, or a map without borders,
nobody moves.
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents.world import World


def step(world: World, day: int) -> None:
    p = world.settings.parameters
    if not world.settings.movement or world.regions.indices.size == 0:
        world.move_probability[:] = 0.0
        return
    world.move_probability[:] = p.movement_rate.value
    _destination_cdf(
        world.cells, world.active_group, world.value, p.contest_attraction.value,
        world.regions.indptr, world.regions.indices, world.move_cdf,
    )  # fmt: skip


def destination_cdf(world: World) -> np.ndarray:
    """(G, edges): cumulative destination shares over each region's neighbours."""
    regions = world.regions
    cdf = np.empty((world.n_groups, max(len(regions.indices), 1)))
    _destination_cdf(
        world.cells, world.active_group, world.value,
        world.settings.parameters.contest_attraction.value, regions.indptr, regions.indices, cdf,
    )  # fmt: skip
    return cdf


@numba.njit(cache=True)
def _destination_cdf(cells, active, value, attraction, indptr, indices, cdf):
    """cdf[g, k] over k in each region's neighbour range: cumulative shares of the weights
    (for active groups: the others have no members to move)."""
    G, R = cells.shape
    everyone = np.zeros(R)
    for g in range(G):
        for r in range(R):
            everyone[r] += cells[g, r]
    for g in range(G):
        if not active[g]:
            cdf[g, :] = 1.0
            continue
        for r in range(R):
            total = 0.0
            for k in range(indptr[r], indptr[r + 1]):
                j = indices[k]
                rivals = everyone[j] - cells[g, j]
                total += value[j] * (1.0 + attraction * rivals / (everyone[j] + 1.0))
                cdf[g, k] = total
            for k in range(indptr[r], indptr[r + 1]):
                cdf[g, k] = cdf[g, k] / total if total > 0 else 1.0
