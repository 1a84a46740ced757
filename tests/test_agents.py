"""The agent engine: regions, flow balance, reproducibility, and agreement with the aggregate
engine (issue 4 item 6). Mechanism tests are in test_agents_mechanisms.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import small_document

import cartelsim
from cartelsim.agents.engine import settings_of, simulate_agents
from cartelsim.agents.population import ACTIVE, DEAD, DEFECTED, FREE, LOCAL_POLICE
from cartelsim.agents.regions import RegionError, load_regions
from cartelsim.agents.sim import build, run_world
from cartelsim.analysis.agent_fit import killings_comparison
from cartelsim.cli import main
from cartelsim.plan import make_plan
from cartelsim.scenario import ScenarioError, load_scenario, validate

#: Agent settings that reduce the engine to the aggregate model: nothing the aggregate engine
#: lacks (corruption, captures, splits, releases, economy, movement).
WELL_MIXED = {
    "movement": False,
    "parameters": {
        "initial_payroll_share": 0,
        "truce_rate": 0,
        "lieutenant_split_rate": 0,
        "bribe_offer_rate": 0,
        "leader_capture": 0,
        "sentence_days": 0,
        "business_closure": 0,
        "retaliation_probability": 0,
    },
}


def one_region_csv(tmp_path, population: float = 1e7) -> str:
    path = tmp_path / "one.csv"
    path.write_text(f"id,name,population,neighbours\n1,everywhere,{population},\n")
    return str(path)


def agent_scenario(tmp_path, agents: dict | None = None, **changes):
    document = small_document(**changes)
    document["agents"] = {"regions": one_region_csv(tmp_path), **(agents or WELL_MIXED)}
    return validate(document, "small.toml")


def test_states_are_the_32_states_with_2020_census_population():
    states = load_regions("states")
    assert states.n == 32 and sorted(states.ids.tolist()) == list(range(1, 33))
    assert states.population.sum() == 126_014_024  # INEGI Censo 2020, national total
    edges = {(a, b) for a in range(32) for b in states.neighbours(a)}
    assert len(edges) == 2 * 69 and all((b, a) in edges for a, b in edges)
    chihuahua = states.position(8)
    assert states.crossings[chihuahua] > 0 and states.crossings[states.position(9)] == 0


def test_a_region_table_is_loaded_and_bad_ones_are_one_line_errors(tmp_path):
    path = tmp_path / "towns.csv"
    path.write_text("id,name,population,neighbours,crossings\n7,A,100,9,1\n9,B,50,,\n")
    towns = load_regions(str(path))
    assert towns.ids.tolist() == [7, 9] and towns.neighbours(1).tolist() == [0]
    path.write_text("id,name,population,neighbours\n7,A,100,8\n")
    with pytest.raises(RegionError, match=r"towns.csv: row 2: neighbours: unknown region '8'"):
        load_regions(str(path))
    with pytest.raises(RegionError, match="no such region table"):
        load_regions(str(tmp_path / "missing.csv"))


def test_bad_agent_settings_are_one_line_errors(tmp_path):
    document = small_document(agents={"scale": 2})
    with pytest.raises(ScenarioError, match=r"^small.toml: agents.scale: must be <= 1 \(got 2\)$"):
        validate(document, "small.toml")
    document = small_document(agents={"territories": [{"group": "Z", "region": 1}]})
    with pytest.raises(ScenarioError, match="agents.territories: unknown group 'Z'"):
        simulate_agents(validate(document, "small.toml"), scale=0.01)


def test_every_member_and_state_agent_is_accounted_for():
    """start + recruited + deserters = free + jailed + dead + left, every day of a run with
    every mechanism on (states map, corruption, raids, splits, releases)."""
    document = small_document(
        deployments=[{"date": "2010-01-01", "troops": 30000, "federal_police": 5000}],
        agents={"scale": 0.05, "parameters": {"sentence_days": 60, "leader_capture": 0.05}},
    )
    document["parameters"].update(state_arrest_rate=0.003, state_kill_rate=0.0005)
    scenario = validate(document, "small.toml")
    plan = make_plan(scenario)
    world = build(plan, settings_of(scenario, None, None), load_regions("states"), seed=3)
    start_state = len(world.state.kind)
    run_world(world)
    t, m = world.tally, world.members
    jailed = int((m.view("jailed_until") != FREE).sum())
    free = m.count - jailed
    assert free == world.cells.sum()
    out = free + jailed + t.conflict_deaths + t.state_kills + t.left
    assert t.start + t.recruited + t.defected_in == out
    assert t.arrested > 0 and t.released > 0 and t.conflict_deaths > 0 and t.state_kills > 0
    status = world.state.status
    assert (status == ACTIVE).sum() + (status == DEAD).sum() + (status == DEFECTED).sum() == (
        start_state
    )
    assert (status == DEFECTED).sum() == t.defected_in
    assert (status == DEAD).sum() == t.forces_killed + t.local_police_killed
    dead = world.state.kind[status == DEAD]
    assert (dead < LOCAL_POLICE).sum() == t.forces_killed  # army and federal police


def test_same_seed_same_results_and_run_r_does_not_depend_on_the_ensemble(tmp_path):
    scenario = agent_scenario(tmp_path, {"scale": 0.02})
    a = simulate_agents(scenario, runs=2, seed=5)
    b = simulate_agents(scenario, runs=1, seed=5, first_run=1)
    # group slots: as many as the run of the ensemble that used most (splinters), 0 beyond
    used = b.traj.members.shape[1]
    np.testing.assert_array_equal(a.traj.members[:, :used, 1], b.traj.members[..., 0])
    assert not a.traj.members[:, used:, 1].any()
    c = simulate_agents(scenario, runs=2, seed=5)
    np.testing.assert_array_equal(a.traj.flows, c.traj.flows)
    assert not np.array_equal(a.traj.members[..., 0], a.traj.members[..., 1])


def test_mean_of_20_runs_follows_the_aggregate_engine_within_5_percent(tmp_path):
    """Issue 4 item 6: one region, no movement, well-mixed clashes, two simulated years."""
    document = small_document(
        deployments=[{"date": "2010-01-01", "troops": 40000, "federal_police": 10000}]
    )
    document["parameters"].update(
        recruitment_rate=0.012, state_arrest_rate=0.0005, state_kill_rate=0.0002
    )
    aggregate = cartelsim.run(validate(document, "small.toml"))
    document["agents"] = {"regions": one_region_csv(tmp_path), **WELL_MIXED}
    agents = simulate_agents(validate(document, "small.toml"), runs=20, seed=1, scale=0.1)
    expected = aggregate.traj.members[:, :3, 0]  # (weeks + 1, groups)
    got = agents.traj.members[:, :3].mean(axis=-1)
    assert expected[-1, 0] > 1.3 * expected[0, 0]  # it grows: the test is not trivial
    assert np.allclose(got[:, :2], expected[:, :2], rtol=0.05)
    for k in (1, 2, 3):  # cumulative incapacitated, state kills, conflict deaths
        want = aggregate.traj.flows[:, k, 0].sum()
        assert want > 100
        assert agents.traj.flows[:, k].sum(axis=0).mean() == pytest.approx(want, rel=0.05)


@pytest.mark.xfail(
    strict=True,
    reason="the agent parameters were fitted (agent_fit.py) to the old mexico-2006-2012: share "
    "0.2 and killings = member deaths / share. Under issue 11's counting and the recalibrated "
    "world (pacts of 2008-2010 as the end of a rivalry), scale 0.1, 4 runs gave the database "
    "2007 +52 %, 2008 +12 %, 2009 -14 %, 2010 -44 % (2026-12-01). Re-fit under issue 13, then "
    "remove this mark.",
)
def test_mexico_national_killings_follow_the_government_database_2007_2010():
    """Regression guard for the fitted agent parameters (agents/fit.py, settings.py): at 1:1
    the built-in run is within 25 % of the database each year 2007-2010 (docs/MODEL.md
    section 8). At a tenth of the agents and 4 runs the worst year measured +28 % (2009);
    the defaults before the fit gave +47 % there, which this bound of 35 % rejects."""
    rows = killings_comparison(load_scenario("mexico-2006-2012"), runs=4, seed=0, scale=0.1)
    errors = {
        r["year"]: r["relative_error"]
        for r in rows
        if r["series"] == "oc_killings" and 2007 <= r["year"] <= 2010
    }
    assert sorted(errors) == [2007, 2008, 2009, 2010]
    assert all(abs(e) < 0.35 for e in errors.values()), errors


def test_cli_runs_the_agent_engine_and_writes_regions(capsys, tmp_path):
    scenario = tmp_path / "small.toml"
    lines = [
        'name = "small"',
        'description = "two rival groups"',
        "[simulation]",
        "start = 2010-01-01",
        "weeks = 60",
        "[parameters]",
        "recruitment_rate = 0.003",
        "incapacitation = 0.0",
        "conflict_lethality = 2e-8",
        "saturation = 1e-8",
        "[observation]",
        "cartel_share = 0.2",
        "[[groups]]",
        'name = "Alpha"',
        'short = "A"',
        "initial_members = 10000",
        "[[groups]]",
        'name = "Beta"',
        'short = "B"',
        "initial_members = 8000",
        "[[network.rivalries]]",
        'groups = ["A", "B"]',
        "weight = 5",
    ]
    scenario.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    args = ["run", str(scenario), "--engine", "agents", "--scale", "0.02", "--out", str(out)]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["engine"] == "agents"
    assert summary["agents"]["cartel_members_start"] == 18000
    assert summary["agents"]["officials_start"] > 0 and summary["agents"]["state_forces_start"] > 0
    by_region = summary["yearly_by_region"]
    assert {row["region"] for row in by_region} == set(range(1, 33))
    yearly = {row["year"]: row for row in summary["yearly"]}
    for year in (2010, 2011):
        members = sum(r["members_total"] for r in by_region if r["year"] == year)
        assert members == pytest.approx(yearly[year]["members_total"])
    table = cartelsim.results.read_results(out / "results.parquet")
    assert set(table["region"].unique()) == set(range(0, 33))
    held = table[(table["variable"] == "members") & (table["region"] > 0)]
    assert {"A", "B"} <= set(held["group"].unique()), "members by group and region"
    last = held[held["date"] == held["date"].max()]
    by_group = last.groupby("group", observed=True)["value"].sum()
    final = table[(table["variable"] == "members") & (table["region"] == 0)]
    final = final[final["date"] == final["date"].max()].groupby("group", observed=True)["value"]
    assert by_group.to_dict() == pytest.approx(final.sum().to_dict()), "regions add up"
    report = (out / "report.html").read_text()
    assert "killings per 100,000 by year" in report and "Ranking of states" not in report
    assert main([*args, "--force", "--regions", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv: (file): no such region table" in capsys.readouterr().err
    assert main(["run", str(scenario), "--scale", "0.5", "--out", str(tmp_path / "x")]) == 2
    assert "only with --engine agents" in capsys.readouterr().err
