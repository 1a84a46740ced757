"""One test or two per mechanism of the agent engine: direction and size (issue 4 item 7)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small_document

from cartelsim.agents import resolve
from cartelsim.agents.engine import settings_of, simulate_agents
from cartelsim.agents.mechanisms import (
    clashes,
    corruption,
    economy,
    leadership,
    movement,
    raids,
    recruitment,
)
from cartelsim.agents.population import DEAD, LOCAL_POLICE
from cartelsim.agents.regions import load_regions
from cartelsim.agents.sim import build, run_world
from cartelsim.plan import FORCES_UNIT, make_plan
from cartelsim.scenario import validate

FORCES = [{"date": "2010-01-01", "troops": 40000, "federal_police": 10000}]


def world_for(agents: dict | None = None, regions: str = "states", seed: int = 0, **params):
    """A world on day 0 with forces deployed (by population), for stepping single mechanisms."""
    document = small_document(
        deployments=FORCES, agents={"regional_deployments": [], **(agents or {})}
    )
    document["parameters"].update(state_arrest_rate=0.002, state_kill_rate=0.0004, **params)
    scenario = validate(document, "small.toml")
    return build(
        make_plan(scenario), settings_of(scenario, None, None), load_regions(regions), seed
    )


def mean_arrest_hazard(world, days: int = 400) -> float:
    total = 0.0
    for day in range(days):
        raids.step(world, day)
        total += (world.hazards.arrest * world.cells).sum() / world.cells.sum()
    return total / days


def test_more_corruption_lowers_raid_success():
    # no incapacitation: the arrest hazard is the raids' alone
    settings = {"parameters": {"initial_payroll_share": 0, "leak_given_payroll": 0.5}}
    world = world_for(settings, incapacitation=0.0)
    clean = mean_arrest_hazard(world)
    # without corruption, raids arrest at the aggregate engine's rate: a * F / 10,000 per week
    forces = world.service.forces_in.sum() / (FORCES_UNIT * world.scale)
    assert clean == pytest.approx(0.002 * forces / 7, rel=0.1)
    hazards = [clean]
    for share in (0.2, 0.6):
        world.payroll[:] = 0
        world.payroll[0] = np.round(share * world.service.informable)  # group A buys a share
        world.payroll[1] = np.round(share * world.service.informable)  # and so does B
        hazards.append(mean_arrest_hazard(world))
    assert hazards[0] > hazards[1] > hazards[2]
    # size: P(leak) = 1 - (1 - 0.5 * share)^(5 * 1.5) with the default sharing of 0.5
    assert hazards[1] / clean == pytest.approx((1 - 0.5 * 0.2) ** 7.5, rel=0.15)


def test_a_leak_makes_the_raid_fail_and_may_draw_retaliation():
    settings = {
        "parameters": {
            "leak_given_payroll": 1,
            "leader_capture": 1,
            "retaliation_probability": 1,
            "retaliation_deaths": 3,
        }
    }
    world = world_for(settings)
    world.payroll[:] = 0
    world.payroll[0] = world.service.informable  # everyone serving is on A's payroll: all leak
    assert np.allclose(raids.leak_probability(world)[0], 1.0)
    killed_before = world.today.forces_killed.sum()
    for day in range(50):
        raids.step(world, day)
        resolve.apply_requests(world)  # the deaths raids requested
        baseline = raids._incapacitation(world)  # the aggregate's own, not from raids
        assert np.allclose(world.hazards.arrest[0], baseline)  # no raid arrests of A
        assert not world.captured[0]  # A's leader is never caught
    assert world.today.forces_killed.sum() > killed_before  # retaliation
    assert (world.hazards.arrest[1] > baseline).any()  # B, on nobody's payroll, is raided


def test_leader_capture_raises_violence_there_and_may_split_the_group():
    world = world_for({"parameters": {"split_probability": 0, "lieutenant_split_rate": 0}})
    r = int(world.leader_region[0])
    neighbour = int(world.regions.neighbours(r)[0])
    far = next(k for k in range(world.R) if k != r and k not in world.regions.neighbours(r))
    before = clashes.conflict_hazard(world, 0)
    world.captured[0] = True  # as raids.py marks a capture
    leadership.step(world, 0)
    resolve.apply_requests(world)
    after = clashes.conflict_hazard(world, 1)
    assert world.leader_region[0] >= 0  # a successor took over
    assert world.tally.leaders_removed == 1 and world.tally.splits == 0
    # Lindo & Padilla-Romo 2018: +80 % in the capture region, +30 % in neighbours, counted
    # once: every group's hazard there, and so the region's conflict deaths, rise by 1.8 and
    # 1.3 (a boost carried by both sides of a pair would give 1.8^2 = 3.24 and 1.69).
    # rel: the jailed leader no longer counts among the members present
    for g in np.flatnonzero(world.cells[:, r] > 0):
        assert after[g, r] / before[g, r] == pytest.approx(1.8, rel=1e-3)
    deaths = [(h[:, r] * world.cells[:, r]).sum() for h in (before, after)]
    assert deaths[1] / deaths[0] == pytest.approx(1.8, rel=1e-3)
    assert after[0, neighbour] / before[0, neighbour] == pytest.approx(1.3, rel=1e-3)
    assert after[0, far] == pytest.approx(before[0, far], rel=1e-3)
    assert clashes.conflict_hazard(world, 400)[0, r] == pytest.approx(before[0, r], rel=1e-3)
    # durations: 12 months in the capture region, 6 in neighbours
    assert clashes.conflict_hazard(world, 300)[0, r] / before[0, r] == pytest.approx(1.8, rel=1e-3)
    mid = clashes.conflict_hazard(world, 200)[0, neighbour]
    assert mid == pytest.approx(before[0, neighbour], rel=1e-3)

    world = world_for(
        {"parameters": {"split_probability": 1, "split_fraction": 0.5, "lieutenant_split_rate": 0}}
    )
    r = int(world.leader_region[0])
    area = [r, *world.regions.neighbours(r)]
    members_there = world.cells[0, area].sum()
    world.captured[0] = True
    leadership.step(world, 0)
    resolve.apply_requests(world)
    child = world.plan.n_groups
    assert world.tally.splits == 1 and world.active_group[child]
    assert world.cells[child].sum() == pytest.approx(0.5 * members_there, rel=0.15)
    assert world.excess[0, child] == 6  # split_rivalry_weight: the splinter fights its parent
    assert world.leader_region[child] in area


def test_without_captures_or_breakaways_groups_never_split():
    parameters = {"leader_capture": 0, "lieutenant_split_rate": 0}
    document = small_document(agents={"scale": 0.05, "parameters": parameters})
    out = simulate_agents(validate(document, "small.toml"))
    assert out.tallies[0].splits == 0 and out.traj.members.shape[1] == 3


def test_a_merger_ends_clashes_between_the_merged_groups(tmp_path):
    region = tmp_path / "one.csv"
    region.write_text("id,name,population,neighbours\n1,all,1e7,\n")
    merge = {"date": "2010-06-01", "type": "merge", "groups": ["A", "B"]}
    agents = {"regions": str(region), "scale": 0.2, "parameters": {"lieutenant_split_rate": 0}}
    document = small_document(events=[merge], agents=agents)
    out = simulate_agents(validate(document, "small.toml"))
    week = out.plan.week_of(out.plan.scenario.events[0].date)
    deaths = out.traj.flows[:, 3, 0]
    assert deaths[:week].sum() > 50
    assert deaths[week:].sum() == 0
    assert out.traj.members[week + 1, 1, 0] == 0  # B's members are in A


def test_a_truce_stops_clashes_until_it_ends(tmp_path):
    region = tmp_path / "one.csv"
    region.write_text("id,name,population,neighbours\n1,all,1e7,\n")
    truce = {"date": "2010-06-01", "type": "truce", "groups": ["A", "B"], "end": "2011-01-01"}
    agents = {"regions": str(region), "scale": 0.2, "parameters": {"lieutenant_split_rate": 0}}
    document = small_document(events=[truce], agents=agents)
    out = simulate_agents(validate(document, "small.toml"))
    event = out.plan.scenario.events[0]
    start, end = out.plan.week_of(event.date), out.plan.week_of(event.end)
    deaths = out.traj.flows[:, 3, 0]
    assert deaths[start:end].sum() == 0
    assert deaths[:start].sum() > 20 and deaths[end:].sum() > 20


def test_deployments_raise_clashes_where_they_go():
    chihuahua = 8
    kills = {}
    for name, regional in (("spread", []), ("chihuahua", [{**FORCES[0], "region": chihuahua}])):
        document = small_document(
            deployments=FORCES, agents={"scale": 0.1, "regional_deployments": regional}
        )
        document["parameters"].update(state_kill_rate=0.002)
        # 4 runs: one run's ratio varies by about 10 % from seed to seed
        out = simulate_agents(validate(document, "small.toml"), runs=4)
        k = out.regions.position(chihuahua)
        state_kills = out.regional[:, 2].sum(axis=(0, 2))
        kills[name] = (state_kills[k], state_kills.sum() - state_kills[k])
    assert kills["chihuahua"][0] > 3 * kills["spread"][0]  # where they go
    assert kills["chihuahua"][1] < 0.5 * kills["spread"][1]  # and less elsewhere


def mean_recruits(world, days: int = 300) -> float:
    """Recruits requested per day (the requests are dropped: the world stays as it is)."""
    total = 0
    for day in range(days):
        recruitment.step(world, day)
        total += world.requests.born()
        world.requests.take()
    return total / days


def test_recruitment_rises_with_closed_businesses_and_falls_with_prevention():
    world = world_for(regions="states")
    base = mean_recruits(world)
    expected = 0.003 / 7 * world.cells.sum()
    assert base == pytest.approx(expected, rel=0.1)  # the aggregate's rho, by day
    world.closed[:] = 0.5
    assert mean_recruits(world) / base == pytest.approx(1 + 0.3 * 0.5, rel=0.06)
    world.closed[:] = 0.0
    world.levers.recruitment_prevention = 0.5
    assert mean_recruits(world) / base == pytest.approx(0.5, rel=0.1)


def test_movement_heads_for_border_crossings():
    world = world_for()
    cdf = movement.destination_cdf(world)
    durango = world.regions.position(10)  # neighbours: Chihuahua (3 crossings), Zacatecas (0)
    lo, hi = world.regions.indptr[durango], world.regions.indptr[durango + 1]
    shares = np.diff(np.concatenate([[0.0], cdf[0, lo:hi]]))
    neighbours = world.regions.indices[lo:hi].tolist()
    chihuahua, zacatecas = world.regions.position(8), world.regions.position(32)
    assert shares[neighbours.index(chihuahua)] > 2 * shares[neighbours.index(zacatecas)]


def test_bribes_buy_payrolls_and_vetting_stops_them():
    world = world_for({"parameters": {"initial_payroll_share": 0, "bribe_offer_rate": 5}})
    for day in range(14):
        corruption.step(world, day)
    bought = world.payroll.sum()
    assert bought > 0 and (world.state.payroll >= 0).sum() == bought
    world = world_for({"parameters": {"initial_payroll_share": 0, "bribe_offer_rate": 5}})
    world.levers.anti_corruption_vetting = 1.0
    for day in range(14):
        corruption.step(world, day)
    assert world.payroll.sum() == 0


def test_killings_close_businesses_and_they_reopen():
    world = world_for()
    r = world.regions.position(8)
    for _ in range(30):
        world.today["conflict_deaths"][r] = 10 * world.scale
        economy.step(world, 0)
    assert world.closed[r] > 0.01 and world.closed[world.regions.position(31)] == 0
    closed = world.closed[r]
    world.today["conflict_deaths"][:] = 0
    economy.step(world, 0)
    assert world.closed[r] < closed


def test_intelligence_sharing_raises_raid_success_and_leaks():
    world = world_for()
    world.payroll[0] = np.round(0.2 * world.service.informable)
    low = (raids.success_probability(world, 0.0), raids.leak_probability(world)[0].mean())
    world.levers.intelligence_sharing = 1.0
    high = (raids.success_probability(world, 1.0), raids.leak_probability(world)[0].mean())
    assert high[0] == pytest.approx(low[0] + 0.3)  # sharing_success_gain
    assert high[1] > low[1]


def test_a_lever_change_takes_effect_from_its_date():
    change = {"date": "2010-07-01", "lever": "recruitment_prevention", "value": 1.0}
    document = small_document(agents={"scale": 0.05, "lever_changes": [change]})
    out = simulate_agents(validate(document, "small.toml"))
    week = out.plan.week_of(out.plan.scenario.agents.lever_changes[0].date)
    recruits = out.traj.flows[:, 0, 0]
    assert recruits[:week].sum() > 100 and recruits[week + 1 :].sum() == 0


def truce_world(tmp_path, enemy: int, seed: int = 0, **params):
    """One region: A (10,000) and B (8,000) fight hard (rivalry weight 5), C has `enemy`
    members and fights both at the base level. Returns the world after two years."""
    region = tmp_path / "one.csv"
    region.write_text("id,name,population,neighbours\n1,all,1e7,\n")
    params = {"lieutenant_split_rate": 0, **params}  # no splinters: the three groups alone
    document = small_document(agents={"regions": str(region), "scale": 0.1, "parameters": params})
    document["groups"][2]["initial_members"] = enemy
    scenario = validate(document, "small.toml")
    plan = make_plan(scenario)
    world = build(plan, settings_of(scenario, None, None), load_regions(str(region)), seed)
    return world, run_world(world)


def test_groups_decide_a_truce_after_heavy_losses_when_a_stronger_enemy_threatens(tmp_path):
    rule = {"truce_rate": 0.05, "truce_break_rate": 0, "merger_rate": 0}
    off, off_record = truce_world(tmp_path, enemy=30000, truce_rate=0)
    on, on_record = truce_world(tmp_path, enemy=30000, **rule)
    alone, _ = truce_world(tmp_path, enemy=0, **rule)
    # the pair's losses to each other qualify: > 2 % of its members a year (the threshold)
    yearly = 365 * off.mutual_losses[0, 1] / off.cells[:2].sum()
    assert yearly > 0.02
    assert off.tally.truces_decided == 0 and off.excess[0, 1] == 5  # rule off: nothing
    assert alone.tally.truces_decided == 0  # no stronger common enemy: no truce
    assert on.tally.truces_decided == 1 and on.decided_truce[0, 1] and on.excess[0, 1] == -1
    # afterwards the pair stops killing each other: its recent losses fade to nothing
    assert on.mutual_losses[0, 1] < 0.01 * off.mutual_losses[0, 1]
    # and with the A-B front closed, fewer members die in clashes over the two years
    deaths_on, deaths_off = on_record.flows[:, 3].sum(), off_record.flows[:, 3].sum()
    assert deaths_on < 0.8 * deaths_off


def test_decided_truces_break_and_unequal_partners_merge(tmp_path):
    broken, _ = truce_world(tmp_path, enemy=30000, truce_rate=0.05, truce_break_rate=0.02)
    assert broken.tally.truces_decided >= 2 and broken.tally.truces_broken >= 1
    if not broken.decided_truce[0, 1]:
        assert broken.excess[0, 1] == 5  # a broken truce restores the rivalry
    merged, record = truce_world(
        tmp_path, enemy=30000, truce_rate=0.05, truce_break_rate=0, merger_rate=0.05,
        merger_size_ratio=0.9,
    )  # fmt: skip
    assert merged.tally.mergers_decided == 1
    assert not merged.active_group[1] and merged.cells[1].sum() == 0  # B is absorbed by A
    assert record.members[-1, 1] == 0 and record.members[-1, 0] > 0


def clashes_for_20_days(federal: float, local: float):
    """A world whose state kills with these authorities-killed ratios, after 20 days of
    clashes, and the kinds of the agents who died."""
    world = world_for(
        {"parameters": {"forces_killed_per_state_kill": federal,
                        "local_police_killed_per_state_kill": local}}
    )  # fmt: skip
    for day in range(20):
        clashes.step(world, day)
        resolve.apply_requests(world)
    return world, world.state.kind[world.state.status == DEAD]


def test_clashes_with_the_state_kill_deployed_forces_counted_apart_from_local_police():
    # the state's clashes kill army and federal police (the sourced 395 + 384) with the
    # federal ratio, local police (CENAPI's 2,986) with the local one, each counted apart;
    # retaliation for a leaked raid may kill either
    world, dead = clashes_for_20_days(federal=5.0, local=0.0)
    assert len(dead) > 0 and (dead < LOCAL_POLICE).all()
    assert world.today.forces_killed.sum() == len(dead)
    assert world.today.local_police_killed.sum() == 0
    local, dead = clashes_for_20_days(federal=0.0, local=5.0)
    assert len(dead) > 0 and (dead == LOCAL_POLICE).all()
    assert local.today.local_police_killed.sum() == len(dead)
    assert local.today.forces_killed.sum() == 0
    r = int(np.argmax(world.service.informable))
    world.requests.kill_forces(r, 500, world.streams.raids.rng)  # as a retaliation asks
    resolve.apply_requests(world)
    assert world.today.local_police_killed.sum() > 0
    assert world.today.forces_killed.sum() + world.today.local_police_killed.sum() == len(
        world.state.kind[world.state.status == DEAD]
    )
