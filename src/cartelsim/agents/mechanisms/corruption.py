"""Corruption: groups buy officials, police and soldiers from their revenue; some defect.

Daily: group g makes Poisson(`bribe_offer_rate` * C_gr / 1,000 * value_r) offers in region r
(revenue grows with members and with the region's value, World.value). Each offer goes to a
random person serving in r (officials, local police, deployed forces); one on no payroll
accepts with probability `bribe_acceptance` * (1 - vetting).

Weekly (one pass over the state people; rates are daily, compounded over 7 days): a person
on a payroll leaves it with daily probability `payroll_exit_rate` + vetting *
`vetting_removal_rate`; a soldier or federal police officer on a payroll deserts to the
paying group with daily probability `defection_rate` and becomes a member (soldier) where
they serve (the desertion is requested, requests.py; resolve.py applies it).
`anti_corruption_vetting` is the policy lever. Draws: the corruption stream (streams.py).

This module owns the payrolls (the person's `state.payroll` and the counts `world.payroll`
by group and serving region); resolve.py calls `leave_payroll`, `merge_payroll` and
`after_deployment` when it takes paid people out of service, absorbs a group or redeploys
the forces, so the counts stay exact.
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents.population import ACTIVE, FEDERAL_POLICE
from cartelsim.agents.streams import seed_kernel
from cartelsim.agents.world import DAYS_PER_WEEK, World


def step(world: World, day: int) -> None:
    p, stream = world.settings.parameters, world.streams.corruption
    vetting = world.levers.anti_corruption_vetting
    acceptance = p.bribe_acceptance.value * (1.0 - vetting)
    if acceptance > 0 and p.bribe_offer_rate.value > 0:  # offers nobody accepts change nothing
        _offers(
            stream.key, day, world.cells, p.bribe_offer_rate.value / 1000.0 * world.value,
            acceptance, world.service.order, world.service.offsets, world.state.status,
            world.state.payroll, world.payroll,
        )  # fmt: skip
    if day % DAYS_PER_WEEK == DAYS_PER_WEEK - 1 and world.payroll.any():  # anyone paid?
        _weekly(world, vetting, stream.rng)


@numba.njit(cache=True)
def _offers(key, day, cells, rate, acceptance, order, offsets, status, payroll, payroll_count):
    """Poisson(rate_r * C_gr) offers by g in r, each to a random person serving in r."""
    seed_kernel(key, day)
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
        s.payroll[rows] = -1
        world.requests.defect(rows, groups)


def leave_payroll(world: World, rows: np.ndarray) -> None:
    """These people leave service (resolve.py: killed): off any payroll."""
    s = world.state
    paid = rows[s.payroll[rows] >= 0]
    np.subtract.at(world.payroll, (s.payroll[paid], s.region[paid]), 1)
    s.payroll[paid] = -1


def merge_payroll(world: World, source: int, target: int) -> None:
    """Group source is absorbed by target (resolve.py): its payroll passes to target."""
    s = world.state
    world.payroll[target] += world.payroll[source]
    world.payroll[source] = 0
    s.payroll[s.payroll == source] = target


def after_deployment(world: World, off: np.ndarray) -> None:
    """The forces were redeployed (resolve.py): those taken off deployment (`off`) leave any
    payroll, and the counts by serving region are rebuilt."""
    s = world.state
    s.payroll[off] = -1
    serving = np.flatnonzero(s.region >= 0)
    paid = serving[(s.status[serving] == ACTIVE) & (s.payroll[serving] >= 0)]
    world.payroll[:] = 0
    np.add.at(world.payroll, (s.payroll[paid], s.region[paid]), 1)
