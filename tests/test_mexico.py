"""The built-in Mexico scenarios: one world from Dec 2006 to 2023, every death counted once."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from cartelsim import datasets
from cartelsim.analysis import draws
from cartelsim.plan import FORCES_UNIT, make_plan
from cartelsim.runner import run
from cartelsim.scenario import DEPLOYMENT_DISRUPTION, ScenarioError, load_scenario, validate


@pytest.fixture(scope="module")
def mexico():
    return run("mexico")


def test_each_death_is_counted_once(mexico):
    """Killings add the groups' victims found, the members the state kills and the forces
    the groups kill; only the victims of the groups are scaled by the share, never a death
    at the hands of the state."""
    w = mexico.weekly
    obs = mexico.plan.scenario.observation
    s, missing = obs.cartel_share.value, obs.missing_share.value
    np.testing.assert_allclose(w["member_deaths_by_state"], w["state_kills"])
    np.testing.assert_allclose(w["member_deaths_by_rivals"], w["conflict_deaths"])
    victims = w["member_deaths_by_rivals"] / s
    np.testing.assert_allclose(w["civilians_killed"], victims - w["member_deaths_by_rivals"])
    np.testing.assert_allclose(w["missing_persons"], missing * victims)
    np.testing.assert_allclose(
        w["killings"],
        (1 - missing) * victims + w["member_deaths_by_state"] + w["state_forces_killed"],
    )
    ratio = obs.forces_killed_per_state_kill.value
    np.testing.assert_allclose(w["state_forces_killed"], ratio * w["member_deaths_by_state"])


def test_the_yearly_rows_name_who_killed_whom(mexico):
    rows = mexico.summary()["yearly"]
    assert [r["year"] for r in rows] == list(range(2006, 2024))
    names = [
        "member_deaths_by_rivals",
        "member_deaths_by_state",
        "state_forces_killed",
        "civilians_killed",
        "oc_killings",
        "other_homicides",
        "homicides",
        "arrests",
        "recruits",
        "members_total",
    ]
    for row in rows:
        assert set(names) <= set(row)
        assert row["homicides"] == pytest.approx(row["oc_killings"] + row["other_homicides"])
        assert row["conflict_deaths"] == row["member_deaths_by_rivals"]


def test_the_2011_breakdown_sets_the_models_killings_beside_the_databases(mexico):
    """The summary's killings_breakdown: the database's Jan-Sep 2011 killings by kind (12.8 %
    clashes with authorities) beside the model's, each from the variable it maps to."""
    rows = {r["category"]: r for r in mexico.summary()["killings_breakdown"]}
    clashes = rows["clashes with authorities"]
    assert clashes["observed_share"] == pytest.approx(1652 / 12903, rel=1e-9)
    assert rows["executions and clashes between groups"]["observed"] == 10200 + 311
    plan, w = mexico.plan, mexico.weekly
    from cartelsim import observe

    for row in rows.values():
        sim = observe.window_value(plan, w[row["variable"]], row["variable"], 2011, (1, 9))
        assert row["simulated"] == pytest.approx(float(sim.mean()))
    total = sum(r["simulated"] for r in rows.values())
    killings = observe.window_value(plan, w["killings"], "killings", 2011, (1, 9)).mean()
    assert total == pytest.approx(float(killings))
    assert sum(r["simulated_share"] for r in rows.values()) == pytest.approx(1.0)


def test_the_built_in_run_shares_the_2011_killings_as_the_database_does(mexico):
    """Issue 'One Mexico': in the built-in run (its calibrated particle) the share of the
    database's Jan-Sep 2011 killings that are clashes with authorities is within 10 points of
    the database's 12.8 %, and so are the other two kinds. Guards the scenario's values: a
    recalibration whose particle misses it fails here (the README says which particles do)."""
    rows = mexico.summary()["killings_breakdown"]
    for row in rows:
        assert abs(row["simulated_share"] - row["observed_share"]) < 0.10, row["category"]


def test_other_homicides_follow_their_yearly_factor(mexico):
    obs = mexico.plan.scenario.observation
    years = mexico.plan.week_year()[:-1] - mexico.plan.start_year
    expected = (
        obs.other_homicides_per_year.value / 52 * obs.other_homicides_yearly_factor.value**years
    )
    np.testing.assert_allclose(mexico.weekly["other_homicides"][:, 0], expected)
    np.testing.assert_allclose(
        mexico.weekly["homicides"], mexico.weekly["killings"] + mexico.weekly["other_homicides"]
    )


def test_the_families_become_pc2023s_groups_without_losing_members(mexico):
    """At 2013-01-01 every family's members move onto its PC2023 groups (and the local
    groups' share): the total is unchanged across the move, all 150 groups hold members
    after it, and every family's largest named group keeps the family's short name."""
    plan = mexico.plan
    week = plan.week_of(dt.date(2013, 1, 1))
    members = mexico.traj.members[:, :, 0]
    assert plan.n_groups == 150
    before, after = members[week - 1], members[week]
    assert (members[week - 1, 9:] == 0).all()
    assert (after > 0).all()
    change = mexico.weekly["recruits"][week - 1, 0] - sum(
        mexico.weekly[k][week - 1, 0]
        for k in ("incapacitated", "state_kills", "conflict_deaths", "saturation")
    )
    assert after.sum() == pytest.approx(before.sum() + change, rel=1e-6)
    assert plan.shorts[:9] == [g.short for g in plan.scenario.groups]
    frag = plan.fragmentation
    seated = [g for groups in frag.members_of.values() for g in groups] + frag.local
    assert sorted(seated) == list(range(150))


def test_the_2006_2012_variant_ends_with_2012_and_drops_later_events():
    base, variant = load_scenario("mexico"), load_scenario("mexico-2006-2012")
    last = variant.simulation.week_start(variant.simulation.weeks - 1)
    assert dt.date(2012, 12, 24) <= last < dt.date(2013, 1, 1)  # all of 2012, 52 weeks
    assert [e for e in base.events if e.date <= last] == variant.events
    assert all(d.date <= last for d in variant.deployments)
    assert max(d.date for d in base.deployments) > last  # there was something to leave out
    assert variant.parameters == base.parameters
    assert variant.observation == base.observation


def test_a_variant_may_not_write_its_own_event_past_its_end(tmp_path):
    path = tmp_path / "short.toml"
    path.write_text(
        'name = "short"\ndescription = "x"\nextends = "mexico"\n[simulation]\nweeks = 100\n'
        '[[events]]\ndate = 2010-01-01\ntype = "leader_removed"\ngroup = "SIN"\n'
    )
    with pytest.raises(ScenarioError, match=r"events\[\d+\]\.date: not before the end"):
        load_scenario(path)


def test_deployments_match_the_fact_file():
    """The 2006-2012 deployments are the figures of facts/mexico_state_forces.csv."""
    facts = {
        r["date"]: (float(r["troops"]), float(r["federal_police"]))
        for r in datasets.fact_rows("mexico_state_forces.csv")
    }
    scenario = load_scenario("mexico-2006-2012")
    used = {d.date.isoformat(): (d.troops, d.federal_police) for d in scenario.deployments}
    assert used == facts


def test_groups_appear_at_their_events():
    result = run("mexico-2006-2012")
    plan = result.plan
    members = result.traj.members[:, :, 0]
    for event in plan.scenario.events:
        if event.type != "split":
            continue
        week = plan.week_of(event.date)
        child = plan.shorts.index(event.new_group)
        assert members[week - 1, child] == 0.0 and members[week, child] > 0.0


def test_disruption_exposure_is_the_growth_of_forces_in_the_window():
    """The deployment_disruption column of the plan's multipliers holds z: forces added
    (per 10,000) in the last disruption_weeks; reductions add nothing."""
    plan = make_plan(load_scenario("mexico"))
    span = int(plan.scenario.parameters.disruption_weeks.value)
    growth = np.maximum(np.diff(plan.forces, prepend=0.0), 0.0)
    expected = np.array([growth[max(w - span + 1, 0) : w + 1].sum() for w in range(plan.weeks)])
    np.testing.assert_allclose(plan.multipliers[:, DEPLOYMENT_DISRUPTION], expected)
    jan_2007 = plan.week_of(dt.date(2007, 1, 1))
    assert expected[jan_2007] == pytest.approx(
        (45000 + 6000) / FORCES_UNIT
    )  # Dec 2006's 11,400 plus 2007's rise to 51,000: all within a year
    assert expected[jan_2007 + span + 2] < expected[jan_2007]


def test_disruption_raises_killings_only_after_forces_grow():
    """Militarization as disruption: with deployment_disruption > 0 conflict deaths rise
    in the year after a surge and not before the first deployment."""
    scenario = load_scenario("mexico-2006-2012")
    off = {"deployment_disruption": np.array([0.0])}
    on = {"deployment_disruption": np.array([0.1])}
    plan, quiet = draws.simulate_draws(scenario, off)
    _, disrupted = draws.simulate_draws(scenario, on)
    deaths_off, deaths_on = quiet.flows[:, 3, 0], disrupted.flows[:, 3, 0]
    first = plan.week_of(dt.date(2006, 12, 11))
    assert deaths_on[:first] == pytest.approx(deaths_off[:first])
    year = slice(plan.week_of(dt.date(2007, 1, 1)), plan.week_of(dt.date(2007, 12, 1)))
    assert (deaths_on[year] > deaths_off[year] * 1.3).all()


def test_leader_removal_effect_scales_the_boost_once():
    """leader_removal_effect = 0 removes the removals' effect; at 1 the removed group's
    conflict rate is multiplied by 1 + violence_boost (not its square)."""
    document = {
        "name": "two",
        "description": "two groups, one removal",
        "simulation": {"start": dt.date(2010, 1, 1), "weeks": 20},
        "parameters": {
            "recruitment_rate": 0.0,
            "incapacitation": 0.0,
            "conflict_lethality": 1e-6,
            "saturation": 0.0,
        },
        "observation": {"cartel_share": 0.1},
        "groups": [
            {"name": "A", "short": "A", "initial_members": 1000},
            {"name": "B", "short": "B", "initial_members": 1000},
        ],
        "events": [
            {"date": dt.date(2010, 2, 1), "type": "leader_removed", "group": "A",
             "violence_boost": 0.5, "duration_weeks": 52},
        ],
    }  # fmt: skip
    scenario = validate(document, "two.toml")
    plan, zero = draws.simulate_draws(scenario, {"leader_removal_effect": np.array([0.0])})
    _, one = draws.simulate_draws(scenario, {"leader_removal_effect": np.array([1.0])})
    week = plan.week_of(dt.date(2010, 2, 1))
    ratio = one.flows[week, 3, 0] / zero.flows[week, 3, 0]
    assert ratio == pytest.approx(1.5, rel=0.02)
    assert one.flows[week - 1, 3, 0] == pytest.approx(zero.flows[week - 1, 3, 0])
