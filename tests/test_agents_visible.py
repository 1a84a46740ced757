"""Every mechanism of the agent engine visible (issue 13 item 3): the summary's yearly rows,
national and by region, and one report section per mechanism."""

from __future__ import annotations

import numpy as np
import pytest

import cartelsim
from cartelsim.agents.output import national_mechanisms
from cartelsim.report import agent_mechanisms

NATIONAL = (
    "leaders_captured", "leaders_removed", "splits", "active_groups", "truces_decided",
    "truces_broken", "mergers_decided", "raids", "raids_leaked", "payroll_share_municipal",
    "payroll_share_state", "payroll_share_federal", "payroll_share_local_police",
    "payroll_share_forces", "forces_killed", "local_police_killed", "businesses_closed",
)  # fmt: skip
REGIONAL = (
    "raids", "raids_leaked", "leaders_captured", "splits", "forces_killed",
    "local_police_killed", "businesses_closed", "payroll_share_municipal",
    "payroll_share_state", "payroll_share_federal",
)  # fmt: skip


@pytest.fixture(scope="module")
def results():
    return cartelsim.run("mexico-2006-2012", runs=2, seed=0, engine="agents", scale=0.03)


def test_the_yearly_rows_carry_every_mechanism_nationally_and_by_region(results):
    summary = results.summary()
    for row in summary["yearly"]:
        assert set(NATIONAL) <= set(row), set(NATIONAL) - set(row)
        assert "homicides" in row and "members_total" in row  # the core's columns stay
    for row in summary["yearly_by_region"]:
        assert set(REGIONAL) <= set(row), set(REGIONAL) - set(row)
    # the yearly rows add up to the run's tallies (ensemble mean)
    tallies = results.extra.tallies
    for field in ("splits", "truces_decided", "mergers_decided", "leaders_removed"):
        total = sum(row[field] for row in summary["yearly"])
        assert total == pytest.approx(np.mean([getattr(t, field) for t in tallies]))
    forces = sum(row["forces_killed"] for row in summary["yearly"])
    assert forces == pytest.approx(np.mean([t.forces_killed for t in tallies]) / 0.03)
    by_region = sum(row["raids"] for row in summary["yearly_by_region"])
    assert by_region == pytest.approx(sum(row["raids"] for row in summary["yearly"]))
    assert all(0 <= row["payroll_share_state"] <= 1 for row in summary["yearly"])
    assert summary["yearly"][-1]["active_groups"] >= 5


def test_the_report_has_one_section_with_a_chart_and_a_number_per_mechanism(results):
    html = agent_mechanisms.section(results)
    titles = ("Leader captures", "Splits and active groups", "Truces and mergers",
              "Raids and leaks", "Payrolls by level", "State forces killed",
              "Business closures")  # fmt: skip
    for title in titles:
        assert f"<h3>{title}" in html
    assert html.count('class="chart" id="chart-mechanism-') == len(titles)
    raids = national_mechanisms(results)["raids"].sum(axis=0).mean()
    assert f"{raids:,.0f} raids" in html


def test_every_mechanism_chart_compiles(results):
    import json
    import re

    import vl_convert

    html = agent_mechanisms.section(results)
    specs = re.findall(r"vegaEmbed\('#chart-mechanism-[^']+', (\{.*?\}), \{actions: false, ", html)
    assert len(specs) == 7
    for raw in specs:
        vega = vl_convert.vegalite_to_vega(json.loads(raw.replace("<\\/", "</")))
        assert vega["marks"]


def test_the_killings_add_the_authorities_the_engine_killed_once(results):
    # the agent engine counts the army, federal and local police its groups kill; the
    # national series use that count, not the observation model's ratio to the state's kills
    weekly, mech = results.weekly, national_mechanisms(results)
    own = mech["forces_killed"] + mech["local_police_killed"]
    assert np.allclose(weekly["state_forces_killed"], own)
    assert own.sum() > 0 and mech["local_police_killed"].sum() > mech["forces_killed"].sum()
    by_state, group = weekly["member_deaths_by_state"], weekly["group_killings"]
    assert np.allclose(weekly["killings"], group + by_state + own)
    ratio = results.plan.scenario.observation.forces_killed_per_state_kill.value
    assert not np.allclose(own, ratio * by_state)
    # region by region the same count, and the regions add up to the nation
    rows = results.summary()["yearly_by_region"]
    regional = sum(r["forces_killed"] + r["local_police_killed"] for r in rows)
    assert regional == pytest.approx(own.sum(axis=0).mean())
