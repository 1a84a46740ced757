"""Local economy: violence closes businesses; closed businesses raise recruitment.

Daily, in region r with k_r killings per 100,000 people today (member deaths / cartel_share,
the observation model, in real numbers):

    closed_r += business_closure * k_r * (1 - closed_r) - business_recovery * closed_r

recruitment.py multiplies recruits by (1 + closure_recruitment_effect * closed_r). Both rates
are assumptions: no published series of business closures by state covers 2006-2012 (the
reports describe Ciudad Juarez's businesses dying, without a count).
"""

from __future__ import annotations

import numba

from cartelsim.agents.world import World


def step(world: World, day: int) -> None:
    p = world.settings.parameters
    share = world.plan.scenario.observation.cartel_share.value
    _close(
        world.closed, world.today.conflict_deaths, world.today.state_kills,
        1e5 / (share * world.scale), world.regions.population, p.business_closure.value,
        p.business_recovery.value,
    )  # fmt: skip


@numba.njit(cache=True)
def _close(closed, conflict_deaths, state_kills, per_death, population, closure, recovery):
    for r in range(len(closed)):
        per_100k = (conflict_deaths[r] + state_kills[r]) * per_death / population[r]
        value = closed[r] + closure * per_100k * (1.0 - closed[r])
        value -= recovery * value
        closed[r] = min(max(value, 0.0), 1.0)
