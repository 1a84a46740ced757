"""The built-in Mexico 2006-2012 scenario: fitted to the government killings database."""

from __future__ import annotations

import pytest

from cartelsim import datasets
from cartelsim.runner import run
from cartelsim.scenario import load_scenario


@pytest.fixture(scope="module")
def mexico():
    return run("mexico-2006-2012")


def test_killings_follow_the_government_database_within_25_percent(mexico):
    """Recorded organized-crime killings are within 25 % of the database in 2007-2010."""
    rows = {
        r["year"]: r
        for r in mexico.summary()["observed_vs_simulated"]
        if r["series"] == "oc_killings"
    }
    assert {2007, 2008, 2009, 2010} <= set(rows)
    for year in (2007, 2008, 2009, 2010):
        assert abs(rows[year]["relative_error"]) <= 0.25, (year, rows[year])


def test_deployments_match_the_fact_file():
    """The scenario's deployments are the figures of facts/mexico_state_forces.csv."""
    facts = {
        r["date"]: (float(r["troops"]), float(r["federal_police"]))
        for r in datasets.fact_rows("mexico_state_forces.csv")
    }
    scenario = load_scenario("mexico-2006-2012")
    used = {d.date.isoformat(): (d.troops, d.federal_police) for d in scenario.deployments}
    assert used == facts


def test_groups_appear_at_their_events(mexico):
    """Groups born in splits have no members before their event and some after."""
    plan = mexico.plan
    members = mexico.traj.members[:, :, 0]
    for event in plan.scenario.events:
        if event.type != "split":
            continue
        week = plan.week_of(event.date)
        child = plan.shorts.index(event.new_group)
        assert members[week - 1, child] == 0.0 and members[week, child] > 0.0


def test_homicides_add_other_homicides_to_killings(mexico):
    """homicides = killings + other homicides per week."""
    w = mexico.weekly
    other = mexico.plan.scenario.observation.other_homicides_per_year.value / 52
    assert (w["homicides"] - w["killings"]) == pytest.approx(other)
