"""Corruption: groups buy officials, police and soldiers from their revenue; some defect.

Daily: group g makes Poisson(`bribe_offer_rate` * C_gr / 1,000 * value_r) offers in region r
(revenue grows with members and with the region's value, World.value). Each offer goes to a
random person serving in r (officials, local police, deployed forces); one on no payroll
accepts with probability `bribe_acceptance` * (1 - vetting).

Weekly (one pass over the state people; rates are daily, compounded over 7 days): a person
on a payroll leaves it with daily probability `payroll_exit_rate` + vetting *
`vetting_removal_rate`; a soldier or federal police officer on a payroll deserts to the
paying group with daily probability `defection_rate` and becomes a member (soldier) where
they serve. `anti_corruption_vetting` is the policy lever.
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents.population import ACTIVE, DEFECTED, FEDERAL_POLICE, SOLDIER
from cartelsim.agents.world import DAYS_PER_WEEK, World


def step(world: World, day: int) -> None:
    p, rng = world.settings.parameters, world.rng["corruption"]
    vetting = world.levers.anti_corruption_vetting
    acceptance = p.bribe_acceptance.value * (1.0 - vetting)
    if acceptance > 0 and p.bribe_offer_rate.value > 0:  # offers nobody accepts change nothing
        _offers(
            world.cells, p.bribe_offer_rate.value / 1000.0 * world.value(), acceptance,
            world.state_order, world.state_offsets, world.state.status, world.state.payroll,
            world.payroll,
        )  # fmt: skip
    if day % DAYS_PER_WEEK == DAYS_PER_WEEK - 1 and world.payroll.any():  # anyone paid?
        _weekly(world, vetting, rng)


@numba.njit(cache=True)
def _offers(cells, rate, acceptance, order, offsets, status, payroll, payroll_count):
    """Poisson(rate_r * C_gr) offers by g in r, each to a random person serving in r."""
    for g in range(cells.shape[0]):
        for r in range(cells.shape[1]):
            size = offsets[r + 1] - offsets[r]
            if cells[g, r] == 0 or size == 0:
                continue
            for _ in range(np.random.poisson(rate[r] * cells[g, r])):
                row = order[offsets[r] + np.random.randint(0, size)]
                if status[row] == ACTIVE and payroll[row] < 0 and np.random.random() < acceptance:
                    payroll[row] = g
                    payroll_count[g, r] += 1


def _weekly(world: World, vetting: float, rng: np.random.Generator) -> None:
    p, s = world.settings.parameters, world.state
    on = np.flatnonzero((s.payroll >= 0) & (s.status == ACTIVE))
    if len(on) == 0:
        return
    daily_exit = p.payroll_exit_rate.value + vetting * p.vetting_removal_rate.value
    leave = rng.random(len(on)) < 1.0 - (1.0 - min(daily_exit, 1.0)) ** DAYS_PER_WEEK
    armed = (s.kind[on] <= FEDERAL_POLICE) & (s.region[on] >= 0)
    daily_defect = min(p.defection_rate.value, 1.0)
    defect = armed & ~leave & (rng.random(len(on)) < 1.0 - (1.0 - daily_defect) ** DAYS_PER_WEEK)
    region = s.region[on]
    np.subtract.at(world.payroll, (s.payroll[on[leave]], region[leave]), 1)
    s.payroll[on[leave]] = -1
    if defect.any():
        rows = on[defect]
        groups, regions = s.payroll[rows].astype(np.int16), s.region[rows].astype(np.int16)
        np.subtract.at(world.payroll, (groups, regions), 1)
        np.subtract.at(world.forces_in, regions, 1)
        np.subtract.at(world.informable, regions, 1)
        s.status[rows], s.payroll[rows] = DEFECTED, -1
        world.members.add(groups, regions, np.full(len(rows), SOLDIER, np.int8))
        np.add.at(world.cells, (groups, regions), 1)
        np.add.at(world.today["defected_in"], regions, 1)
        world.tally.defected_in += len(rows)
