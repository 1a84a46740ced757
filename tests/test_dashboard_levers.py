"""The dashboard's pure parts: levers to scenario content, the scenario catalog and uploads,
calibration posteriors, and the numbers its views show. The page itself is tested in a
browser (tests/browser/)."""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

import cartelsim
from cartelsim.dashboard import figures, views
from cartelsim.dashboard.catalog import Catalog
from cartelsim.dashboard.levers import apply_levers, make_levers
from cartelsim.dashboard.posteriors import Posteriors, posterior_parquet, run_sample
from cartelsim.scenario import ScenarioError

MEXICO = "mexico-2006-2012"


@pytest.fixture(scope="module")
def mexico():
    return cartelsim.load_scenario(MEXICO)


def _groups(scenario):
    return [g.short for g in scenario.groups]


def test_neutral_levers_leave_the_scenario_unchanged(mexico):
    assert apply_levers(mexico, make_levers(), _groups(mexico)) is mexico


def test_levers_become_policies_and_dated_events(mexico):
    levers = make_levers(
        recruitment_change=-0.5,
        recruitment_date=dt.date(2009, 1, 1),
        incapacitation_change=1.0,
        intel_sharing=True,
        pact="truce",
        pact_groups=("SIN", "ZET"),
        pact_date=dt.date(2010, 6, 1),
        kingpin_groups=("GOL",),
        kingpin_date=dt.date(2008, 3, 1),
    )
    changed = apply_levers(mexico, levers, _groups(mexico))
    added = changed.policies[len(mexico.policies) :]
    assert [(p.parameter, p.multiply) for p in added] == [
        ("recruitment_rate", 0.5),
        ("incapacitation", 2.0),
        ("state_arrest_rate", 2.0),
        ("state_arrest_rate", 1.5),
    ]
    assert added[0].date == dt.date(2009, 1, 1) and added[1].date == mexico.simulation.start
    events = [(e.type, e.date) for e in changed.events]
    assert ("truce", dt.date(2010, 6, 1)) in events
    assert ("leader_removed", dt.date(2008, 3, 1)) in events
    assert [d for _, d in events] == sorted(d for _, d in events)  # still in date order
    assert len(changed.events) == len(mexico.events) + 2


def test_levers_change_the_run(mexico):
    base = cartelsim.run(mexico).summary()["final"]["members_total"]
    fewer = apply_levers(mexico, make_levers(recruitment_change=-0.5), _groups(mexico))
    assert cartelsim.run(fewer).summary()["final"]["members_total"] < base


@pytest.mark.parametrize(
    ("positions", "message"),
    [
        ({"recruitment_change": 5.0}, "recruitment_change: Input should be less than or equal"),
        ({"pact": "merge"}, "pact_groups: a merge needs two groups"),
    ],
)
def test_out_of_range_levers_are_one_line_errors(positions, message):
    with pytest.raises(ScenarioError, match=message) as error:
        make_levers(**positions)
    assert "\n" not in str(error.value)


def test_lever_dates_and_groups_are_checked(mexico):
    late = make_levers(troop_change=0.5, troop_date=dt.date(2030, 1, 1))
    with pytest.raises(ScenarioError, match="troop_date: 2030-01-01 is outside the scenario"):
        apply_levers(mexico, late, _groups(mexico))
    unknown = make_levers(pact="truce", pact_groups=("SIN", "XYZ"))
    with pytest.raises(ScenarioError, match="pact_groups: unknown group 'XYZ'"):
        apply_levers(mexico, unknown, _groups(mexico))


def test_catalog_lists_a_folder_and_never_opens_other_names(tmp_path):
    (tmp_path / "mine.toml").write_text(f'extends = "{MEXICO}"\nname = "mine"\n')
    (tmp_path / f"{MEXICO}.toml").write_text("not used: a built-in has this name")
    catalog = Catalog.from_folder(tmp_path)
    assert "mine" in catalog.names() and catalog.names().count(MEXICO) == 1
    assert catalog.load("mine").name == "mine"
    with pytest.raises(ScenarioError, match="not a scenario of this server"):
        catalog.load(str(tmp_path / "mine.toml"))  # a path is not a name


def test_uploads_are_validated_in_memory():
    catalog = Catalog()
    good = f'extends = "{MEXICO}"\nname = "v"\n[parameters]\nrecruitment_rate = 0.01\n'
    assert catalog.parse_upload("v.toml", good.encode()).parameters.recruitment_rate.value == 0.01
    with pytest.raises(ScenarioError, match=r"bad.toml: parameters.recruitment_rate.value: must"):
        catalog.parse_upload("bad.toml", b"name = 'b'\n[parameters]\nrecruitment_rate = -1\n")
    with pytest.raises(ScenarioError, match="extends: must name a scenario of this server"):
        catalog.parse_upload("x.toml", b'extends = "/etc/passwd"\n')
    with pytest.raises(ScenarioError, match=r"x.toml: \(syntax\)"):
        catalog.parse_upload("x.toml", b"name = ")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        catalog.parse_upload("x.toml", b"\xff\xfe")


def test_views_bands_and_map_from_the_tidy_table(mexico):
    stochastic = mexico.model_copy(
        update={"simulation": mexico.simulation.model_copy(update={"mode": "stochastic"})}
    )
    table = cartelsim.run(stochastic, runs=20, seed=1).to_pandas()
    band = views.bands(views.by_run(table, "killings"))
    assert (band["q05"] <= band["q25"]).all() and (band["q75"] <= band["q95"]).all()
    assert (band["q95"] > band["q05"]).any()
    states = views.States.load()
    assert len(states.table) == 32
    years = views.map_years(table)
    assert years == [2007, 2008, 2009, 2010, 2011, 2012]
    frame = views.map_frame(table, states, 2009)
    killed = (frame.rate * states.table["population"] / views.PER).sum()
    national = views.yearly_totals(table, "killings").loc[2009].median()
    assert killed == pytest.approx(national)  # the apportioned map adds up to the nation
    assert frame.control is None  # the aggregate engine has no regions
    assert views.map_frame(table, states, 2007).rate.sum() < frame.rate.sum()


def test_difference_is_run_by_run(mexico):
    table = cartelsim.run(mexico).to_pandas()
    zero = views.difference(table, table, "killings")
    assert (zero.abs().to_numpy() == 0).all()


def test_agent_engine_levers_use_its_settings(mexico):
    levers = make_levers(
        region=8, region_troops=20_000, region_date=dt.date(2008, 3, 1), intel_sharing=True
    )
    agents = apply_levers(mexico, levers, _groups(mexico), engine="agents")
    added = agents.agents.regional_deployments[-1]
    assert (added.region, added.troops, added.date) == (8, 20_000, dt.date(2008, 3, 1))
    assert len(agents.agents.regional_deployments) > 1  # the built-in ones are kept
    assert [c.lever for c in agents.agents.lever_changes] == ["intelligence_sharing"]
    assert agents.policies == mexico.policies
    aggregate = apply_levers(mexico, levers, _groups(mexico), engine="aggregate")
    assert aggregate.agents is None  # a state deployment means nothing to a national engine
    assert [p.parameter for p in aggregate.policies[len(mexico.policies) :]] == [
        "state_arrest_rate"
    ]


# --- calibration posteriors ----------------------------------------------------------------


@pytest.fixture(scope="module")
def posteriors(tmp_path_factory):
    """A folder of calibration outputs: "tiny" (10 draws, one value held fixed), "broken" (a
    damaged table), one for another scenario, one without a summary, one with a bad one."""
    from dashboard_server import write_broken_posterior, write_posterior

    folder = tmp_path_factory.mktemp("posteriors")
    tiny = write_posterior(folder / "tiny", MEXICO, draws=10)
    summary = json.loads((tiny / "summary.json").read_text())
    (tiny / "summary.json").write_text(json.dumps({**summary, "fixed": {"saturation": 2e-8}}))
    write_broken_posterior(folder / "broken", MEXICO)
    write_posterior(folder / "other", "pc2023-status-quo", draws=5)
    (folder / "no-summary").mkdir()
    (folder / "no-summary" / "posterior.parquet").write_bytes(b"")
    write_broken_posterior(folder / "bad-summary", MEXICO)
    (folder / "bad-summary" / "summary.json").write_text("{not json")
    return folder


def test_posteriors_listed_by_scenario_and_bad_summaries_left_out(posteriors, capsys):
    found = Posteriors.from_folder(posteriors)
    assert found.names_for(MEXICO) == ["broken", "tiny"]
    assert found.names_for("pc2023-status-quo") == ["other"]
    assert found.names_for("pc2023") == []
    assert "bad-summary/summary.json left out" in capsys.readouterr().err
    assert Posteriors.from_folder(None).names_for(MEXICO) == []


def test_posterior_sample_is_seeded_and_keeps_the_fixed_values(posteriors):
    found = Posteriors.from_folder(posteriors)
    (form, values), *more = found.sample("tiny", 10, seed=3)
    assert not more and form == "per_member"
    assert np.all(values["saturation"] == 2e-8)  # held fixed by the calibration
    assert len(np.unique(values["recruitment_rate"])) > 1
    again = found.sample("tiny", 10, seed=3)[0][1]
    assert all(np.array_equal(values[k], again[k]) for k in values)
    with pytest.raises(ValueError, match="not a posterior of this server"):
        found.sample("../tiny", 10, 0)


def test_broken_posterior_is_a_one_line_error_without_its_path(posteriors):
    with pytest.raises(ValueError) as error:
        Posteriors.from_folder(posteriors).sample("broken", 10, 0)
    message = str(error.value)
    assert message.startswith("posterior broken: posterior.parquet: not a readable posterior")
    assert str(posteriors) not in message and "\n" not in message


def test_runs_over_a_posterior_use_one_draw_each_and_pair_a_with_b(posteriors, mexico):
    sample = Posteriors.from_folder(posteriors).sample("tiny", 10, 0)
    results = run_sample(mexico, sample, seed=0)
    table = results.to_pandas()
    assert table["run"].nunique() == 10
    killings = views.by_run(table, "killings")
    distinct = len(np.unique(sample[0][1]["recruitment_rate"]))  # drawn with replacement
    assert killings.sum().nunique() == distinct > 1  # deterministic runs, one per draw
    by_rivals = views.by_run(table, "conflict_deaths").to_numpy()
    civilians = views.by_run(table, "civilians_killed").to_numpy()
    share = sample[0][1]["cartel_share"]
    assert np.allclose(civilians, by_rivals * (1 - share) / share)  # each draw's share
    assert table.equals(run_sample(mexico, sample, seed=0).to_pandas())  # reproducible
    less = apply_levers(mexico, make_levers(recruitment_change=-0.5), _groups(mexico))
    difference = views.difference(run_sample(less, sample, 0).to_pandas(), table, "killings")
    assert (difference["q95"] <= 1e-9).all() and (difference["q05"] < 0).any()
    members, killings_chart, _ = figures.time_series(table, [], 10, posterior="tiny")
    assert "10 posterior draws (tiny)" in members.subtitle
    assert killings_chart.lines[0].low is not None  # the draws differ: a band
    assert "posterior draws" in killings_chart.band_label
    stored = pq.read_table(io.BytesIO(posterior_parquet(results, table, "tiny")))
    assert json.loads(stored.schema.metadata[b"posterior"]) == "tiny"
    assert stored.num_rows == len(table)


def test_oversized_requests_are_refused_with_the_reason():
    from cartelsim.dashboard import limits

    mexico = cartelsim.load_scenario("mexico-2006-2012")
    assert limits.request_error(mexico, 500, "aggregate", None) == ""
    assert "runs: must be between 1 and 500 (got 501)" in limits.request_error(
        mexico, 501, "aggregate", None
    )
    century = mexico.model_copy(
        update={"simulation": mexico.simulation.model_copy(update={"weeks": 5200})}
    )
    assert "horizon: 5200 weeks" in limits.request_error(century, 1, "aggregate", None)
    assert limits.request_error(mexico, 4, "agents", 1.0) == ""
    assert "agent runs x scale x years" in limits.request_error(mexico, 10, "agents", 1.0)
    assert limits.request_error(mexico, 50, "agents", 0.05) == ""
    pc2023 = cartelsim.load_scenario("pc2023")
    long_pc = pc2023.model_copy(
        update={"simulation": pc2023.simulation.model_copy(update={"weeks": 1040})}
    )
    assert "runs x weeks x groups" in limits.request_error(long_pc, 300, "aggregate", None)
    assert limits.request_error(pc2023, 500, "aggregate", None) == ""
