"""What the scenario fixes by date, put in force on the first day of each week.

- parameters: the aggregate parameters times the week's policy multipliers (plan.py);
- levers: the `[agents.levers]` values, then `lever_changes` from their dates;
- deployments: the army and federal police deployed nationally (plan.forces, with the
  scenario's split between troops and federal police), assigned first to the regions named
  by regional deployments (scaled down if they ask for more than there is), the rest spread
  in proportion to population. Agents are reassigned only when the targets change; a
  soldier taken off deployment leaves any payroll;
- scheduled `leader_removed` events: the leader is jailed, a successor takes over
  (leadership.py); the violence boost itself comes with the network epoch;
- the scheduled network: the week's epoch (truces, alliance and rivalry weights, boosts) and
  member transfers (mergers, splits, new groups), alliances.scheduled. It is in force before
  the day's clashes, so a truce or merger holds from its first day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from cartelsim.agents.mechanisms import alliances
from cartelsim.agents.mechanisms.alliances import largest_remainder
from cartelsim.agents.mechanisms.leadership import remove_leader
from cartelsim.agents.population import ACTIVE, ARMY, FEDERAL_POLICE
from cartelsim.agents.world import DAYS_PER_WEEK, World
from cartelsim.plan import FORCES_UNIT


def step(world: World, day: int, regional: list) -> None:
    if day % DAYS_PER_WEEK:
        return
    plan = world.plan
    week = day // DAYS_PER_WEEK
    today = world.dates[week]
    world.eff = plan.params * plan.multipliers[week]
    for change in world.settings.lever_changes:
        if change.date <= today:
            setattr(world.levers, change.lever, change.value)
    # what the targets depend on: national forces and the regional rows in force
    inputs = (world.national[0][week], world.national[1][week], _in_force(regional, today))
    if inputs != world.forces_inputs:
        target = forces_target(world, week, today, regional)
        if world.forces_target is None or any(
            not np.array_equal(a, b) for a, b in zip(target, world.forces_target, strict=True)
        ):
            deploy(world, *target)
            world.forces_target = target
        world.forces_inputs = inputs
    for event in plan.scenario.events:
        if (
            event.type == "leader_removed"
            and event.date >= plan.scenario.simulation.start
            and max(plan.week_of(event.date), 0) == week
        ):
            g = plan.shorts.index(event.group)
            if world.leader_region[g] >= 0:
                remove_leader(world, g, day)
    alliances.scheduled(world, week)


def _in_force(regional: list, today: dt.date) -> int:
    """How many regional rows are in force (they are in date order)."""
    return sum(1 for item in regional if item.date <= today)


def national_split(plan) -> tuple[np.ndarray, np.ndarray]:
    """(weeks,) real troops and federal police deployed, policies included."""
    troops, police = np.zeros(plan.weeks), np.zeros(plan.weeks)
    for item in plan.scenario.deployments:
        week = max(plan.week_of(item.date), 0)
        troops[week:], police[week:] = item.troops, item.federal_police
    base = (troops + police) / FORCES_UNIT
    factor = np.divide(plan.forces, base, out=np.zeros_like(base), where=base > 0)
    only_policy = (base == 0) & (plan.forces > 0)
    troops = np.where(only_policy, plan.forces * FORCES_UNIT, troops * factor)
    return troops, police * factor


def forces_target(world: World, week: int, today: dt.date, regional: list):
    """(R,) army agents and (R,) federal police agents wanted in each region this week."""
    troops, police = world.national[0][week], world.national[1][week]
    targets = []
    for total, field in ((troops, "troops"), (police, "federal_police")):
        total = int(round(total * world.scale))
        assigned = np.zeros(world.R)
        for item in regional:  # in date order: a later row for a region replaces an earlier
            if item.date <= today:
                assigned[world.regions.position(item.region)] = getattr(item, field)
        assigned = assigned * world.scale
        if assigned.sum() > total:
            assigned *= total / assigned.sum()
        counts = largest_remainder(int(round(assigned.sum())), assigned + 1e-12)
        counts += largest_remainder(total - int(counts.sum()), world.regions.population)
        targets.append(counts)
    return tuple(targets)


def deploy(world: World, army: np.ndarray, police: np.ndarray) -> None:
    s = world.state
    for kind, counts in ((ARMY, army), (FEDERAL_POLICE, police)):
        rows = np.flatnonzero((s.kind == kind) & (s.status == ACTIVE))
        wanted = min(int(counts.sum()), len(rows))
        place = np.repeat(np.arange(world.R), counts)[:wanted].astype(np.int16)
        s.region[rows[:wanted]] = place
        s.region[rows[wanted:]] = -1
        s.payroll[rows[wanted:]] = -1
    index(world)


def index(world: World) -> None:
    """Rebuild the per-region lists and counts of the state people."""
    s = world.state
    serving = np.flatnonzero(s.region >= 0)
    order = serving[np.argsort(s.region[serving], kind="stable")]
    world.state_order = order
    world.state_offsets = np.searchsorted(s.region[order], np.arange(world.R + 1))
    active = s.status[serving] == ACTIVE
    world.informable = np.bincount(s.region[serving][active], minlength=world.R)
    armed = serving[active & (s.kind[serving] <= FEDERAL_POLICE)]
    world.forces_in = np.bincount(s.region[armed], minlength=world.R).astype(float)
    paid = serving[active & (s.payroll[serving] >= 0)]
    world.payroll = np.zeros((world.n_groups, world.R), dtype=np.int64)
    np.add.at(world.payroll, (s.payroll[paid], s.region[paid]), 1)
