"""Recruitment from the local population, and the aggregate model's saturation exits.

Recruits per day in cell (group g, region r), drawn from a Poisson law with mean

    rho/7 * m_g * C_gr * (1 + e_c * closed_r) * V_g^e_v * (1 - prevention)

- rho: the scenario's `recruitment_rate` (per member per week, times policy multipliers),
  m_g the group's `recruitment_multiplier` (a splinter inherits its parent's): the aggregate
  engine's recruits, placed where the group's members are (presence);
- closed_r: share of businesses closed in the region (economy.py); e_c =
  `closure_recruitment_effect`: fewer legal jobs, more recruits;
- V_g: the group's revenue per member over the national mean (region value: US crossings,
  see World.value), e_v = `revenue_elasticity`: richer groups pay better;
- prevention: the `recruitment_prevention` lever.

One new member in `lieutenant_span` is a lieutenant. The recruits are requested as births
(requests.py): resolve.py adds them before the day's exits, so they face the day's hazards.
Saturation (the aggregate's omega C_g^2) is a daily hazard omega/7 * C_g of leaving the group,
C_g the group's national size (scaled), today's recruits in.

The day's cell arithmetic and draws run in two Numba kernels (count the recruits, then draw
their roles), from the recruitment stream (streams.py), so a day costs microseconds whatever
the number of groups and regions.
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents.population import LIEUTENANT, SOLDIER
from cartelsim.agents.streams import seed_kernel
from cartelsim.agents.world import DAYS_PER_WEEK, World
from cartelsim.scenario import RECRUITMENT_RATE, SATURATION


def step(world: World, day: int) -> None:
    p = world.settings.parameters
    eff = world.week.eff
    rate = eff[RECRUITMENT_RATE] / DAYS_PER_WEEK * (1.0 - world.levers.recruitment_prevention)
    recruits, total = _recruits(
        world.streams.recruitment.key, day, world.cells, world.value,
        world.plan.recruitment_multiplier, world.splinter_parent, world.closed, rate,
        p.revenue_elasticity.value, p.closure_recruitment_effect.value,
    )  # fmt: skip
    if total:
        group, region, role = _recruit_rows(recruits, total, 1.0 / p.lieutenant_span.value)
        world.requests.births(group, region, role, "recruits")
    # saturation: omega * C_g per member per week, C_g in real members (today's recruits in)
    rate = eff[SATURATION] / DAYS_PER_WEEK / world.scale
    _saturation(world.cells, recruits, rate, world.hazards.leaving)


@numba.njit(cache=True)
def _recruits(key, day, cells, value, base, parent, closed, rate, elasticity, closure):
    """recruits[g, r] ~ Poisson(the mean in the module docstring), and their total."""
    seed_kernel(key, day)
    G, R = cells.shape
    recruits = np.zeros_like(cells)
    multiplier = np.ones(G)
    multiplier[: len(base)] = base
    for g in range(G):  # in slot order: a parent comes before its splinter
        if parent[g] >= 0:
            multiplier[g] = multiplier[parent[g]]
    size = np.zeros(G)
    revenue = np.zeros(G)
    for g in range(G):
        for r in range(R):
            size[g] += cells[g, r]
            revenue[g] += cells[g, r] * value[r]
    total = size.sum()
    national = revenue.sum() / total if total > 0 else 1.0
    for g in range(G):
        if size[g] == 0:
            continue
        factor = rate * multiplier[g] * (revenue[g] / size[g] / national) ** elasticity
        for r in range(R):
            if cells[g, r] > 0:
                mean = factor * cells[g, r] * (1.0 + closure * closed[r])
                recruits[g, r] = np.random.poisson(mean)
    return recruits, recruits.sum()


@numba.njit(cache=True)
def _recruit_rows(recruits, total, lieutenant_share):
    """The recruits' group, region and role (one in `lieutenant_span` a lieutenant); draws
    continue the stream _recruits seeded."""
    group = np.empty(total, np.int16)
    region = np.empty(total, np.int16)
    role = np.empty(total, np.int8)
    k = 0
    for g in range(recruits.shape[0]):
        for r in range(recruits.shape[1]):
            for _ in range(recruits[g, r]):
                group[k], region[k] = g, r
                role[k] = LIEUTENANT if np.random.random() < lieutenant_share else SOLDIER
                k += 1
    return group, region, role


@numba.njit(cache=True)
def _saturation(cells, recruits, rate, hazard):
    for g in range(cells.shape[0]):
        size = 0
        for r in range(cells.shape[1]):
            size += cells[g, r] + recruits[g, r]
        hazard[g, :] = rate * size
