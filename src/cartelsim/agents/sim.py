"""The agent engine: build a world from a scenario, run it day by day, return its records.

A day, in this fixed order (the scenario cannot reorder it):

 1. recruitment  new members from the local population (requested); saturation hazard
 2. movement     move probabilities and destinations
 3. clashes      group-group and group-state death hazards; deaths of state forces requested
 4. raids        raids, leaks, retaliation; arrest hazards; leader captures
 5. corruption   bribes offered and accepted; payroll exits, vetting; desertions requested
 6. leadership   succession, regional violence boost, splits (requested)
 7. alliances    truces and mergers decided by groups (mergers requested); truces break
 8. schedule     on a week's last day, the next week is put in force: parameters, levers,
                 deployments, scheduled leader removals and network (truces, mergers,
                 splits, new groups: alliances.py), the member changes as requests
 9. resolve      every request of the day, in order, then releases, exits and moves for
                 every member at once (resolve.py); compaction on a week's last day
10. economy      killings close businesses
11. record       daily counts into weekly outputs and the run's tally

Mechanisms read the World and write only the fields they own (population.WRITERS): every
change to a member or to a state person's service is a request that resolve applies once a
day. Each mechanism draws from its own random stream (streams.py), so a change to one leaves
the others' draws as they were.

A model day is 1/7 of a model week (1/52 year, as in the aggregate engine), so both engines
share the weekly calendar of plan.py. Rates of the aggregate model are per week: each
mechanism divides by 7.

Speed: each mechanism does its per-cell arithmetic and draws in a Numba kernel of its own
module, and resolve.py touches only the members who have an event, so a day costs tens of
microseconds plus a few per event, not a pass of NumPy operations (benchmarks/agents.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from cartelsim.agents import record, resolve, schedule
from cartelsim.agents.mechanisms import (
    alliances,
    clashes,
    corruption,
    economy,
    leadership,
    movement,
    raids,
    recruitment,
)
from cartelsim.agents.population import (
    ACTIVE,
    ARMY,
    FEDERAL_POLICE,
    LEADER,
    LIEUTENANT,
    LOCAL_POLICE,
    OFFICIAL_FEDERAL,
    OFFICIAL_MUNICIPAL,
    OFFICIAL_STATE,
    SOLDIER,
    Members,
    StatePeople,
    Tally,
)
from cartelsim.agents.regions import Regions
from cartelsim.agents.requests import Requests
from cartelsim.agents.settings import AgentSettings, RegionalDeployment, Territory
from cartelsim.agents.streams import Streams
from cartelsim.agents.world import (
    DAYS_PER_WEEK,
    NEVER,
    Counters,
    Hazards,
    Levels,
    Week,
    World,
)
from cartelsim.datasets import fact_rows
from cartelsim.plan import Plan
from cartelsim.scenario import ScenarioError

MECHANISMS = (recruitment, movement, clashes, raids, corruption, leadership, alliances)
#: Officials by level: municipal, state, federal (assumption; no count by level was found).
OFFICIAL_LEVEL_SHARES = {OFFICIAL_MUNICIPAL: 0.7, OFFICIAL_STATE: 0.2, OFFICIAL_FEDERAL: 0.1}
#: Army and federal police agents beyond the largest deployment, to replace losses
#: (assumption).
RESERVE = 0.05
TERRITORIES_FILE = "mexico_state_territories.csv"
DEPLOYMENTS_FILE = "mexico_state_deployments.csv"
#: The "builtin" territories and regional deployments of each built-in region table (made
#: for the `mexico-2006-2012` groups by scripts/geography.py, every row with its source).
BUILTIN_TERRITORIES = {
    "states": TERRITORIES_FILE,
    "states-juarez": "mexico_regions_juarez_territories.csv",
}
BUILTIN_DEPLOYMENTS = {
    "states": DEPLOYMENTS_FILE,
    "states-juarez": "mexico_regions_juarez_deployments.csv",
}


def run_world(world: World) -> record.Recorder:
    plan = world.plan
    recorder = record.Recorder(plan.weeks, world.n_groups, world.R)
    recorder.start(world)
    days = plan.weeks * DAYS_PER_WEEK
    for day in range(days):
        for mechanism in MECHANISMS:
            mechanism.step(world, day)
        if day % DAYS_PER_WEEK == DAYS_PER_WEEK - 1 and day + 1 < days:
            schedule.step(world, (day + 1) // DAYS_PER_WEEK)
        resolve.resolve(world, day)
        economy.step(world, day)
        recorder.step(world, day)
    return recorder


# --- building a world ------------------------------------------------------------------------


def build(plan: Plan, settings: AgentSettings, regions: Regions, seed: int) -> World:
    """A world at the start of the scenario, for one run, with week 0 in force."""
    p = settings.parameters
    n = plan.n_groups
    G = n + int(p.max_new_groups.value)
    R = regions.n
    streams = Streams.from_seed(seed)
    levers = Levels(**{k: v.value for k, v in settings.levers})
    epoch = plan.epochs[0]
    excess = np.zeros((G, G))
    excess[:n, :n] = epoch.excess
    active = np.zeros(G, dtype=bool)
    active[:n] = True  # scenario groups keep their slots, whether or not they exist yet
    territory = _territories(plan, settings, regions, G)
    members, cells, leader_region = _initial_members(plan, settings, territory, G, streams)
    state = _state_people(plan, settings, regions)
    state = dataclasses.replace(
        state, payroll=_initial_payroll(state, cells, p.initial_payroll_share.value, streams)
    )
    service = resolve.service_of(state, R)
    payroll = np.zeros((G, R), dtype=np.int64)
    paid = service.order[(state.status[service.order] == ACTIVE)
                         & (state.payroll[service.order] >= 0)]  # fmt: skip
    np.add.at(payroll, (state.payroll[paid], state.region[paid]), 1)
    national = schedule.national_split(plan)
    regional = regional_deployments(settings, regions, plan.scenario.name)
    world = World(
        plan=plan,
        settings=settings,
        regions=regions,
        scale=settings.scale,
        n_groups=G,
        value=1.0 + p.crossing_value.value * regions.crossings,
        territory=territory,
        national=national,
        regional=regional,
        disruption=schedule.disruption_exposure(plan, national, regional, regions, settings.scale),
        dates=plan.dates(),
        reference_sharing=levers.intelligence_sharing,
        streams=streams,
        members=members,
        state=state,
        service=service,
        tally=Tally(start=members.count),
        requests=Requests(),
        levers=levers,
        week=Week(
            eff=plan.params * plan.multipliers[0],
            forces_target=(np.zeros(R, np.int64), np.zeros(R, np.int64)),
            forces_inputs=(),
        ),
        names=list(plan.names) + [f"splinter group {k + 1}" for k in range(G - n)],
        shorts=list(plan.shorts) + [f"new-{k + 1}" for k in range(G - n)],
        active_group=active,
        splinter_parent=np.concatenate([np.full(n, -1), np.full(G - n, -2)]),
        excess=excess,
        inv_alliance=np.concatenate([epoch.inv_alliance, np.ones(G - n)]),
        group_boost=np.concatenate([epoch.boost, np.ones(G - n)]),
        decided_truce=np.zeros((G, G), dtype=bool),
        weight_before_truce=np.zeros((G, G)),
        mutual_losses=np.zeros((G, G)),
        leader_region=leader_region,
        boost_level=np.zeros(R),
        boost_until=np.zeros(R, dtype=np.int64),
        captured=np.zeros(G, dtype=bool),
        cells=cells,
        payroll=payroll,
        hazards=Hazards.zeros(G, R),
        move_probability=np.zeros((G, R)),
        move_cdf=np.zeros((G, max(len(regions.indices), 1))),
        clash_losses=np.zeros((G, G)),
        closed=np.zeros(R),
        today=Counters.zeros(R),
    )
    schedule.step(world, 0)
    resolve.apply_requests(world)
    return world


def _initial_members(plan: Plan, settings: AgentSettings, territory: np.ndarray, G: int,
                     streams: Streams):  # fmt: skip
    """Each group's initial members (times the scale) spread over its territory by largest
    remainder; a leader drawn among them; one in `lieutenant_span` a lieutenant. Returns the
    table, the (G, R) cells and the leaders' regions."""
    rng = streams.setup.rng
    R = territory.shape[1]
    cells = np.zeros((G, R), dtype=np.int64)
    leader_region = np.full(G, -1)
    groups, regions, roles = [], [], []
    for g in range(plan.n_groups):
        count = int(round(plan.initial[g] * settings.scale))
        if count == 0:
            continue
        cells[g] = alliances.largest_remainder(count, territory[g])
        region = np.repeat(np.arange(R), cells[g]).astype(np.int16)
        role = np.full(count, SOLDIER, np.int8)
        lieutenants = rng.random(count) < 1.0 / settings.parameters.lieutenant_span.value
        role[lieutenants] = LIEUTENANT
        leader = int(rng.integers(count))
        role[leader] = LEADER
        leader_region[g] = region[leader]
        groups.append(np.full(count, g, np.int16))
        regions.append(region)
        roles.append(role)
    group = np.concatenate(groups) if groups else np.zeros(0, np.int16)
    region = np.concatenate(regions) if regions else np.zeros(0, np.int16)
    role = np.concatenate(roles) if roles else np.zeros(0, np.int8)
    capacity = int(plan.initial.sum() * settings.scale * 2) + 1024
    return Members.start(capacity, group, region, role, NEVER), cells, leader_region


def _state_people(plan: Plan, settings: AgentSettings, regions: Regions) -> StatePeople:
    p, s = settings.parameters, settings.scale
    troops, police = schedule.national_split(plan)
    per_100k = regions.population / 1e5 * s
    counts = {
        ARMY: _spread(troops.max(initial=0) * (1 + RESERVE) * s, regions.population),
        FEDERAL_POLICE: _spread(police.max(initial=0) * (1 + RESERVE) * s, regions.population),
        LOCAL_POLICE: np.round(p.local_police_per_100k.value * per_100k),
    }
    for level, share in OFFICIAL_LEVEL_SHARES.items():
        counts[level] = np.round(p.officials_per_100k.value * share * per_100k)
    return StatePeople.build(counts)


def _spread(total: float, weights: np.ndarray) -> np.ndarray:
    return alliances.largest_remainder(int(round(total)), weights)


def _initial_payroll(
    state: StatePeople, cells: np.ndarray, share: float, streams: Streams
) -> np.ndarray:
    """(people,) the group paying each state person: each serving person is on a payroll
    with `initial_payroll_share`, paid by a group present in the region, chosen in proportion
    to its members there."""
    rng = streams.setup.rng
    payroll = np.full(len(state.kind), -1, np.int16)
    serving = np.flatnonzero(state.region >= 0)
    paid = serving[rng.random(len(serving)) < share]
    presence = cells.astype(float)
    for r in range(cells.shape[1]):
        rows = paid[state.region[paid] == r]
        if len(rows) == 0 or presence[:, r].sum() == 0:
            continue
        weights = presence[:, r] / presence[:, r].sum()
        payroll[rows] = rng.choice(cells.shape[0], size=len(rows), p=weights)
    return payroll


def _territories(plan: Plan, settings: AgentSettings, regions: Regions, G: int) -> np.ndarray:
    """(G, R) weights of where each group's members start (population where none given)."""
    weights = np.tile(regions.population / regions.population.sum(), (G, 1))
    items = settings.territories
    if items == "builtin":
        file = BUILTIN_TERRITORIES.get(regions.label)
        items = _builtin_territories(file) if file else []
    given = np.zeros((G, regions.n))
    for item in items:
        if item.group not in plan.shorts:
            if settings.territories == "builtin":
                continue
            raise ScenarioError(
                f"{plan.scenario.name}.toml: agents.territories: unknown group {item.group!r}"
            )
        try:
            position = regions.position(item.region)
        except KeyError:
            raise ScenarioError(
                f"{plan.scenario.name}.toml: agents.territories: unknown region {item.region} "
                f"in {regions.label}"
            ) from None
        given[plan.shorts.index(item.group), position] += item.weight
    has = given.sum(axis=1) > 0
    weights[has] = given[has] / given[has].sum(axis=1, keepdims=True)
    return weights


def _builtin_territories(file: str = TERRITORIES_FILE) -> list[Territory]:
    return [
        Territory(group=r["group"], region=int(r["region"]), weight=float(r["weight"]),
                  source=f"{r['source']} ({r['date']})")
        for r in fact_rows(file)
    ]  # fmt: skip


def regional_deployments(settings: AgentSettings, regions: Regions, name: str) -> list:
    items = settings.regional_deployments
    if items == "builtin":
        file = BUILTIN_DEPLOYMENTS.get(regions.label)
        if file is None:
            return []
        items = [
            RegionalDeployment(
                date=dt.date.fromisoformat(r["date"]), region=int(r["region"]),
                troops=float(r["troops"]), federal_police=float(r["federal_police"]),
                source=r["source"],
            )
            for r in fact_rows(file)
        ]  # fmt: skip
    for k, item in enumerate(items):
        try:
            regions.position(item.region)
        except KeyError:
            raise ScenarioError(
                f"{name}.toml: agents.regional_deployments[{k}].region: unknown region "
                f"{item.region} in {regions.label}"
            ) from None
    return sorted(items, key=lambda item: item.date)
