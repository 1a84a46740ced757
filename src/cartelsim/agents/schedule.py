"""What the scenario fixes by date, put in force between weeks.

After the last day's mechanisms of week w - 1 (before that day's resolution), `step` puts
week w in force (for week 0, sim.build does it):

- parameters: the aggregate parameters times the week's policy multipliers (plan.py);
- levers: the `[agents.levers]` values, then `lever_changes` from their dates;
- deployments: the army and federal police deployed nationally (plan.forces, with the
  scenario's split between troops and federal police), assigned first to the regions named
  by regional deployments (scaled down if they ask for more than there is), the rest spread
  in proportion to population. Redeployment is requested only when the targets change
  (resolve.py applies it; a soldier taken off deployment leaves any payroll);
- scheduled `leader_removed` events: the leader is jailed, a successor takes over
  (leadership.py); the violence boost itself comes with the network epoch;
- the scheduled network: the week's epoch (truces, alliance and rivalry weights, boosts) and
  member transfers (mergers, splits, new groups), alliances.scheduled.

Member changes and deployments are requests (requests.py), applied by the day's resolution
with the rest of the day's requests, so everything the week fixes holds from its first day,
before its clashes: a truce or merger holds from its first day, and the members recorded at
the start of the week include the week's transfers (as in the aggregate engine).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from cartelsim.agents.mechanisms import alliances, leadership
from cartelsim.agents.mechanisms.alliances import largest_remainder
from cartelsim.agents.world import World
from cartelsim.plan import FORCES_UNIT


def step(world: World, week: int) -> None:
    """Put week `week` in force."""
    plan = world.plan
    today = world.dates[week]
    world.week.eff[:] = plan.params * plan.multipliers[week]
    for change in world.settings.lever_changes:
        if change.date <= today:
            setattr(world.levers, change.lever, change.value)
    # what the targets depend on: national forces and the regional rows in force
    national = world.national
    inputs = (national[0][week], national[1][week], _in_force(world.regional, today))
    if inputs != world.week.forces_inputs:
        target = forces_target(world, week, today)
        if any(
            not np.array_equal(a, b) for a, b in zip(target, world.week.forces_target, strict=True)
        ):
            world.requests.deploy(*target)
            world.week.forces_target = target
        world.week.forces_inputs = inputs
    for event in plan.scenario.events:
        if (
            event.type == "leader_removed"
            and event.date >= plan.scenario.simulation.start
            and max(plan.week_of(event.date), 0) == week
        ):
            g = plan.shorts.index(event.group)
            if world.leader_region[g] >= 0:
                leadership.remove_leader(world, g)
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


def forces_target(world: World, week: int, today: dt.date):
    """(R,) army agents and (R,) federal police agents wanted in each region this week."""
    return targets_of(world.national, world.regional, world.regions, world.scale, week, today)


def targets_of(national, regional, regions, scale: float, week: int, today: dt.date):
    """forces_target from its inputs (the World's national split, regional rows, region
    table and scale), so that sim.build can compute every week's targets before the World
    exists (disruption_exposure)."""
    troops, police = national[0][week], national[1][week]
    targets = []
    for total, field in ((troops, "troops"), (police, "federal_police")):
        total = int(round(total * scale))
        assigned = np.zeros(regions.n)
        for item in regional:  # in date order: a later row for a region replaces one
            if item.date <= today:
                assigned[regions.position(item.region)] = getattr(item, field)
        assigned = assigned * scale
        if assigned.sum() > total:
            assigned *= total / assigned.sum()
        counts = largest_remainder(int(round(assigned.sum())), assigned + 1e-12)
        counts += largest_remainder(total - int(counts.sum()), regions.population)
        targets.append(counts)
    return tuple(targets)


def disruption_exposure(plan, national, regional, regions, scale: float) -> np.ndarray:
    """(weeks, R) z_r: the army and federal police added to region r during the
    `disruption_weeks` up to each week, in units of FORCES_UNIT real people, reductions not
    counted, the first week's deployment counted as added (as plan._disruption does
    nationally, from forces 0 before the start). clashes.py raises the region's clash
    lethality by deployment_disruption times z_r over the region's share of the population
    (docs/MODEL.md section 7, Deployments)."""
    span = max(int(round(plan.scenario.parameters.disruption_weeks.value)), 1)
    dates = plan.dates()
    deployed = np.zeros((plan.weeks, regions.n))
    inputs, last = None, None
    for week in range(plan.weeks):
        key = (national[0][week], national[1][week], _in_force(regional, dates[week]))
        if key != inputs:
            army, police = targets_of(national, regional, regions, scale, week, dates[week])
            last, inputs = army + police, key
        deployed[week] = last
    growth = np.maximum(np.diff(deployed, axis=0, prepend=0.0), 0.0) / (FORCES_UNIT * scale)
    exposure = np.zeros_like(growth)
    for week in np.flatnonzero(growth.any(axis=1)):
        exposure[week : week + span] += growth[week]
    return exposure
