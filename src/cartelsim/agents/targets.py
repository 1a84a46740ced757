"""Picking state people in a region: the targets of bribes, retaliation and clashes.

State people serving in a region (its officials and local police, and the army and federal
police deployed there) are listed contiguously in `world.state_order`, region by region
(`state_offsets`), rebuilt by schedule.py whenever deployments change. Picks are uniform
over that list, drawn by the caller's generator.
"""

from __future__ import annotations

import numpy as np

from cartelsim.agents.population import ACTIVE, DEAD, LOCAL_POLICE
from cartelsim.agents.world import World


def people_in(world: World, region: int) -> np.ndarray:
    """Rows of the state people serving in `region`."""
    lo, hi = world.state_offsets[region], world.state_offsets[region + 1]
    return world.state_order[lo:hi]


def kill_forces(world: World, region: int, how_many: int, rng: np.random.Generator) -> int:
    """Kill up to `how_many` active army, federal or local police in `region`; returns the
    number killed. Payroll and deployed counts follow."""
    s = world.state
    rows = people_in(world, region)
    rows = rows[(s.kind[rows] <= LOCAL_POLICE) & (s.status[rows] == ACTIVE)]
    if len(rows) == 0 or how_many <= 0:
        return 0
    victims = rng.choice(rows, size=min(how_many, len(rows)), replace=False)
    s.status[victims] = DEAD
    for row in victims:
        g = s.payroll[row]
        if g >= 0:
            world.payroll[g, region] -= 1
            s.payroll[row] = -1
        if s.kind[row] < LOCAL_POLICE:
            world.forces_in[region] -= 1
    world.informable[region] -= len(victims)
    world.today["forces_killed"][region] += len(victims)
    world.tally.forces_killed += len(victims)
    return len(victims)
