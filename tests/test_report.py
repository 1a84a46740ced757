"""The HTML report: one self-contained file with figures, provenance, inputs and claims."""

from __future__ import annotations

import datetime as dt
import html
import re

import matplotlib.pyplot as plt
import pytest
from conftest import small_document

from cartelsim import datasets
from cartelsim.report.run_report import write_report
from cartelsim.runner import run
from cartelsim.scenario import load_scenario, validate

EMBEDDED_PNG = re.compile(r"<img[^>]*src=\"data:image/png;base64,")
JANUARY_2009 = {dt.date(2009, 1, 1) + dt.timedelta(d) for d in range(31)}
EXTERNAL = re.compile(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE)


def _stochastic_pc2023():
    scenario = load_scenario("pc2023")
    simulation = scenario.simulation.model_copy(update={"mode": "stochastic"})
    return scenario.model_copy(update={"simulation": simulation})


@pytest.fixture(scope="module", params=["deterministic", "stochastic"])
def pc2023_report(request, pc2023_dir, tmp_path_factory):
    """(results, report text) for pc2023, deterministic (1 run) and stochastic (3 runs)."""
    if request.param == "stochastic":
        results = run(_stochastic_pc2023(), runs=3, seed=1, data_dir=pc2023_dir)
    else:
        results = run("pc2023", runs=1, seed=1, data_dir=pc2023_dir)
    path = write_report(results, tmp_path_factory.mktemp(request.param) / "report.html")
    return results, path.read_text(encoding="utf-8")


def test_report_embeds_at_least_three_figures(pc2023_report):
    """Figures are PNGs embedded as base64 data, at least three of them."""
    _, text = pc2023_report
    assert len(EMBEDDED_PNG.findall(text)) >= 3


def test_report_needs_no_external_resources(pc2023_report):
    """No src= or href= points outside the file, and no stylesheet or script is linked."""
    _, text = pc2023_report
    assert not EXTERNAL.search(text)
    assert "<link" not in text and "<script" not in text


def test_report_names_scenario_and_provenance(pc2023_report):
    """The title, seed, version and scenario hash of the run are in the report."""
    results, text = pc2023_report
    provenance = results.summary()["provenance"]
    assert f"<h1>{results.plan.scenario.name}</h1>" in text
    assert provenance["scenario_sha256"] in text and provenance["cartelsim_version"] in text


def test_report_lists_every_parameter_with_its_source(pc2023_report):
    """Each parameter and observation setting appears with its (escaped) source text."""
    results, text = pc2023_report
    scenario = results.plan.scenario
    params = [(n, getattr(scenario.parameters, n)) for n in type(scenario.parameters).model_fields]
    observation = ("cartel_share", "other_homicides_per_year")
    params += [(n, getattr(scenario.observation, n)) for n in observation]
    for name, param in params:
        assert f"<td>{name}</td>" in text
        if hasattr(param, "source"):
            assert html.escape(param.source) in text


def test_report_flags_assumptions(pc2023_report):
    """cartel_share, an assumption in pc2023, sits in a highlighted row."""
    _, text = pc2023_report
    assert "<tr class='assumption'><td>cartel_share</td>" in text


def test_report_shows_observed_series_and_sources(pc2023_report):
    """Every observed-vs-simulated row is tabled and each source is named in full."""
    results, text = pc2023_report
    rows = results.summary()["observed_vs_simulated"]
    assert text.count("<td>homicides_and_missing</td><td class='num'>20") == sum(
        r["series"] == "homicides_and_missing" for r in rows
    )
    for source in {part.strip() for r in rows for part in r["source"].split(";")}:
        assert html.escape(source) in text


def test_report_bands_only_with_several_runs(pc2023_report):
    """The 5 %-95 % band and its column appear when runs > 1, not for one run."""
    results, text = pc2023_report
    assert ("simulated 5 %-95 %" in text) == (results.runs > 1)


def test_report_says_how_to_reproduce(pc2023_report):
    """The footer gives the command line with runs and seed."""
    results, text = pc2023_report
    assert f"cartelsim run pc2023 --runs {results.runs} --seed 1" in text


def test_report_has_no_claims_for_pc2023(pc2023_report):
    """pc2023 (2012-2022, no SIN/GOL/ZET) has no claims section."""
    _, text = pc2023_report
    assert "Claims in the news reports" not in text


def test_report_replaces_file_atomically_and_closes_figures(tmp_path, pc2023_dir):
    """Writing twice leaves one file, no temporary files, and no open figures."""
    results = run("pc2023", runs=1, seed=2, data_dir=pc2023_dir)
    path = tmp_path / "out" / "report.html"
    write_report(results, path)
    write_report(results, path)
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
    assert plt.get_fignums() == []


# --- claims in the news reports -------------------------------------------------------------


def _claims_scenario():
    """Sinaloa, Gulf and Zetas from 2008 to 2010, with no observed series."""
    groups = [
        {"name": "Sinaloa", "short": "SIN", "initial_members": 20000},
        {"name": "Gulf", "short": "GOL", "initial_members": 15000},
        {"name": "Zetas", "short": "ZET", "initial_members": 5000},
    ]
    document = small_document(
        groups=groups,
        simulation={"start": "2008-01-01", "weeks": 130},
        network={"rivalries": [{"groups": ["SIN", "GOL"], "weight": 5}]},
    )
    return validate(document, "claims.toml")


def _claim(claim: str, date: str, value: float, comparison: str) -> dict[str, str]:
    source = f"source of {claim}"
    return {
        "claim": claim,
        "date": date,
        "value": str(value),
        "unit": "x",
        "comparison": comparison,
        "source": source,
        "status": "claim",
    }


def _report_with_claims(monkeypatch, tmp_path, rows) -> tuple:
    """Run the claims scenario and report it with these rows as the fact file."""
    monkeypatch.setattr(datasets, "fact_rows", lambda file: rows)
    results = run(_claims_scenario())
    text = write_report(results, tmp_path / "report.html").read_text(encoding="utf-8")
    return results, text


def test_claims_verdicts_follow_the_numbers(monkeypatch, tmp_path):
    """A claim below the model's members is supported; ten times its killings is not."""
    results = run(_claims_scenario())
    members = results.traj.members[results.plan.week_of(dt.date(2009, 1, 1)), :, 0].sum()
    rows = [
        _claim("foot_soldiers_sinaloa_gulf_zetas", "2009-01-01", members / 2, ">"),
        _claim("deaths_past_year", "2009-02", 1e9, "~"),
    ]
    _, text = _report_with_claims(monkeypatch, tmp_path, rows)
    assert "Claims in the news reports" in text
    assert "The model supports the claim (more than" in text
    assert "a factor of 2.00" in text
    assert "The model does not support the claim (about" in text
    assert "source of deaths_past_year" in text


def test_january_claim_counts_the_days_of_january(monkeypatch, tmp_path):
    """The January 2009 claim is set against killings on the 31 days of January, each day
    carrying its week's killings divided by the week's length."""
    results = run(_claims_scenario())
    dates, killings = results.plan.dates(), results.weekly["killings"][:, 0]
    expected = 0.0
    for k in range(len(dates) - 1):
        days = (dates[k + 1] - dates[k]).days
        expected += (
            killings[k]
            * sum(dates[k] + dt.timedelta(d) in JANUARY_2009 for d in range(days))
            / days
        )
    rows = [_claim("deaths_january_2009", "2009-01-31", expected, "approx")]
    _, text = _report_with_claims(monkeypatch, tmp_path, rows)
    assert f"it gives {expected:,.0f} for killings in January 2009" in text
    assert "a factor of 1.00" in text


def test_claims_skipped_without_fact_file(monkeypatch, tmp_path):
    """A missing fact file (being written elsewhere) leaves the section out, no error."""

    def missing(file):
        raise FileNotFoundError(file)

    monkeypatch.setattr(datasets, "fact_rows", missing)
    text = write_report(run(_claims_scenario()), tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Claims in the news reports" not in text and "<h2>Inputs</h2>" in text
