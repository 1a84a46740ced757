"""The agent engine: build a world from a scenario, run it day by day, return its records.

A day, in this fixed order (the scenario cannot reorder it):

 0. schedule     week starts: parameters, levers, deployments, scheduled leader removals,
                 the scheduled network (truces, mergers, splits, new groups: alliances.py)
 1. recruitment  new members from the local population; saturation exits requested
 2. movement     move probabilities and destinations
 3. clashes      group-group and group-state death hazards; state forces killed
 4. raids        raids, leaks, retaliation; arrest hazards; leader captures
 5. corruption   bribes offered and accepted; payroll exits, vetting and desertions
 6. leadership   succession, regional violence boost, splits
 7. alliances    truces and mergers decided by groups; decided truces break
 8. resolve      every member at once: exits, arrests, releases, moves (resolve.py)
 9. economy      killings close businesses
10. record       daily counts into weekly outputs

A model day is 1/7 of a model week (1/52 year, as in the aggregate engine), so both engines
share the weekly calendar of plan.py. Rates of the aggregate model are per week: each
mechanism divides by 7.

Speed: each mechanism does its per-cell arithmetic and draws in a Numba kernel of its own
module, and resolve.py touches only the members who have an event, so a day costs tens of
microseconds plus a few per event, not a pass of NumPy operations (benchmarks/agents.py).
"""

from __future__ import annotations

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
    ARMY,
    FEDERAL_POLICE,
    LEADER,
    LIEUTENANT,
    LOCAL_POLICE,
    OFFICIAL_FEDERAL,
    OFFICIAL_MUNICIPAL,
    OFFICIAL_STATE,
    Members,
    StatePeople,
    Tally,
)
from cartelsim.agents.regions import Regions
from cartelsim.agents.settings import AgentSettings, RegionalDeployment, Territory
from cartelsim.agents.world import DAYS_PER_WEEK, Levels, World
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


def run_world(world: World) -> record.Recorder:
    plan = world.plan
    recorder = record.Recorder(plan.weeks, world.n_groups, world.R)
    recorder.start(world)
    regional = regional_deployments(world.settings, world.regions, plan.scenario.name)
    for day in range(plan.weeks * DAYS_PER_WEEK):
        schedule.step(world, day, regional)
        for mechanism in MECHANISMS:
            mechanism.step(world, day)
        resolve.resolve(world, day)
        economy.step(world, day)
        _tally(world)
        recorder.step(world, day)
        if day % DAYS_PER_WEEK == DAYS_PER_WEEK - 1:
            world.members.compact()
    return recorder


def _tally(world: World) -> None:
    t = world.tally
    day = dict(
        zip(record.COUNTERS, world.today_table.sum(axis=1).astype(int).tolist(), strict=True)
    )
    t.recruited += day["recruits"]
    t.conflict_deaths += day["conflict_deaths"]
    t.state_kills += day["state_kills"]
    t.left += day["left"]
    t.released += day["released"]
    t.arrested += day["arrests"]


# --- building a world ------------------------------------------------------------------------


def build(plan: Plan, settings: AgentSettings, regions: Regions, seed: int) -> World:
    """A world at the start of the scenario, for one run."""
    p = settings.parameters
    n = plan.n_groups
    G = n + int(p.max_new_groups.value)
    R = regions.n
    streams = np.random.SeedSequence(seed).spawn(len(MECHANISMS) + 2)
    names = ("setup", "kernels", *(m.__name__.rsplit(".", 1)[-1] for m in MECHANISMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(names, streams, strict=True)}
    resolve.seed_kernels(int(streams[1].generate_state(1)[0]))
    levers = Levels(**{k: v.value for k, v in settings.levers})
    epoch = plan.epochs[0]
    excess = np.zeros((G, G))
    excess[:n, :n] = epoch.excess
    active = np.zeros(G, dtype=bool)
    active[:n] = True  # scenario groups keep their slots, whether or not they exist yet
    world = World(
        plan=plan,
        settings=settings,
        regions=regions,
        scale=settings.scale,
        members=Members(int(plan.initial.sum() * settings.scale * 2) + 1024),
        state=_state_people(plan, settings, regions),
        tally=Tally(),
        levers=levers,
        reference_sharing=levers.intelligence_sharing,
        rng=rng,
        n_groups=G,
        shorts=list(plan.shorts) + [f"new-{k + 1}" for k in range(G - n)],
        names=list(plan.names) + [f"splinter group {k + 1}" for k in range(G - n)],
        excess=excess,
        inv_alliance=np.concatenate([epoch.inv_alliance, np.ones(G - n)]),
        group_boost=np.concatenate([epoch.boost, np.ones(G - n)]),
        active_group=active,
        splinter_parent=np.concatenate([np.full(n, -1), np.full(G - n, -2)]),
        decided_truce=np.zeros((G, G), dtype=bool),
        weight_before_truce=np.zeros((G, G)),
        mutual_losses=np.zeros((G, G)),
        leader_region=np.full(G, -1),
        boost_level=np.zeros((G, R)),
        boost_until=np.zeros((G, R), dtype=np.int64),
    )
    world.cells = np.zeros((G, R), dtype=np.int64)
    world.hazard = np.zeros((4, G, R))
    world.clash_losses = np.zeros((G, G))
    world.move_probability = np.zeros((G, R))
    world.move_cdf = np.zeros((G, max(len(regions.indices), 1)))
    world.closed = np.zeros(R)
    world.territory = _territories(plan, settings, regions, G)
    world.national = schedule.national_split(plan)
    world.dates = plan.dates()
    record.reset(world)
    for g in range(n):
        count = int(round(plan.initial[g] * settings.scale))
        if count:
            alliances.new_members(world, g, count, world.territory[g])
    m = world.members
    lieutenants = rng["setup"].random(m.count) < 1.0 / p.lieutenant_span.value
    m.role[: m.count][lieutenants & (m.view("role") != LEADER)] = LIEUTENANT
    world.tally.start = m.count
    schedule.index(world)
    _initial_payroll(world, rng["setup"])
    return world


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


def _initial_payroll(world: World, rng: np.random.Generator) -> None:
    """Each serving person is on a payroll with `initial_payroll_share`, paid by a group
    present in the region, chosen in proportion to its members there."""
    s = world.state
    share = world.settings.parameters.initial_payroll_share.value
    serving = np.flatnonzero(s.region >= 0)
    paid = serving[rng.random(len(serving)) < share]
    presence = world.cells.astype(float)
    for r in range(world.R):
        rows = paid[s.region[paid] == r]
        if len(rows) == 0 or presence[:, r].sum() == 0:
            continue
        weights = presence[:, r] / presence[:, r].sum()
        s.payroll[rows] = rng.choice(world.n_groups, size=len(rows), p=weights)
    schedule.index(world)


def _territories(plan: Plan, settings: AgentSettings, regions: Regions, G: int) -> np.ndarray:
    """(G, R) weights of where each group's members start (population where none given)."""
    weights = np.tile(regions.population / regions.population.sum(), (G, 1))
    items = settings.territories
    if items == "builtin":
        items = _builtin_territories() if regions.label == "states" else []
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


def _builtin_territories() -> list[Territory]:
    return [
        Territory(group=r["group"], region=int(r["region"]), weight=float(r["weight"]),
                  source=r["source"])
        for r in fact_rows(TERRITORIES_FILE)
    ]  # fmt: skip


def regional_deployments(settings: AgentSettings, regions: Regions, name: str) -> list:
    items = settings.regional_deployments
    if items == "builtin":
        if regions.label != "states":
            return []
        items = [
            RegionalDeployment(
                date=dt.date.fromisoformat(r["date"]), region=int(r["region"]),
                troops=float(r["troops"]), federal_police=float(r["federal_police"]),
                source=r["source"],
            )
            for r in fact_rows(DEPLOYMENTS_FILE)
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
