"""The HTML report: one self-contained file with charts, findings, provenance, inputs and
claims; the chart module's specs (every one compiles with Vega-Lite); the CLI's PNGs."""

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

EMBEDDED_CHART = re.compile(r"<script>vegaEmbed\('#chart-")
JANUARY_2009 = {dt.date(2009, 1, 1) + dt.timedelta(d) for d in range(31)}
#: What a browser would fetch: a script, image or frame from elsewhere, a style sheet.
EXTERNAL = re.compile(r"<(?:script|img|iframe)[^>]*\ssrc\s*=|<link", re.IGNORECASE)


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


def test_report_embeds_at_least_three_charts(pc2023_report):
    """Charts are Vega-Lite specs drawn by the inlined Vega script, at least three of them."""
    _, text = pc2023_report
    assert len(EMBEDDED_CHART.findall(text)) >= 3
    assert text.count("window.vegaEmbed=") == 1  # the bundle, inlined once


def test_report_needs_no_external_resources(pc2023_report):
    """No src= or href= points outside the file, and no stylesheet or script is linked."""
    _, text = pc2023_report
    page = re.sub(r"<script>.*?</script>", "<script></script>", text, flags=re.DOTALL)
    assert not EXTERNAL.search(page)
    assert "<script src" not in text


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
    assert text.count("<td>homicides_and_missing</td><td>20") == sum(
        r["series"] == "homicides_and_missing" for r in rows
    )
    for source in {part.strip() for r in rows for part in r["source"].split(";")}:
        assert html.escape(source) in text


def test_report_bands_only_with_several_runs(pc2023_report):
    """The 5 %-95 % band and its column appear when runs > 1, not for one run."""
    results, text = pc2023_report
    assert ("<th>simulated 5 %-95 %</th>" in text) == (results.runs > 1)


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


# --- the Mexico report: findings, misfits, events, partial years, sources ------------------


@pytest.fixture(scope="module")
def mexico_report(tmp_path_factory):
    results = run("mexico-2006-2012", runs=1, seed=0)
    path = write_report(results, tmp_path_factory.mktemp("mexico") / "report.html")
    return results, path.read_text(encoding="utf-8")


def test_findings_come_first_with_computed_numbers(mexico_report):
    """3-6 findings, before the first chart, each with what it cannot say; the killings total
    is the results' own number."""
    results, text = mexico_report
    findings = text.split("<ol class='findings'>")[1].split("</ol>")[0]
    assert 3 <= findings.count("<li>") <= 6
    assert findings.count("What it cannot say:") == findings.count("<li>")
    assert text.index("What the model says") < text.index("vegaEmbed('#chart-")
    total = results.weekly["killings"].sum()
    assert f"{total:,.0f} killings" in findings
    assert "no interval" in findings  # one deterministic run: said, not a zero-width band


def test_misfits_are_flagged(mexico_report):
    """INEGI homicides 2007 (+29 %) lies outside the fit band: flagged in table and findings."""
    results, text = mexico_report
    rows = results.summary()["observed_vs_simulated"]
    inegi_2007 = next(r for r in rows if r["series"] == "inegi_homicides" and r["year"] == 2007)
    assert inegi_2007["relative_error"] > 0.2
    assert "<tr class='misfit'><td>inegi_homicides</td><td>2007 (full year)</td>" in text
    assert "MISFIT" in text and "All intentional homicides (INEGI death records) 2007" in text


def test_partial_years_are_named_and_averaged_by_month(mexico_report):
    """2011 of the killings series covers 9 months: named so, and drawn as monthly averages."""
    _, text = mexico_report
    assert "2011, January-September (9 months)" in text
    assert "December 2006 (1 month)" in text
    assert "killings per month" in text


def test_events_table_gives_weights_and_full_names(mexico_report):
    """The alliance whose weight is set to 0 reads as ending; splits give their fraction."""
    _, text = mexico_report
    assert "alliance of Sinaloa cartel (Federation) and Juarez cartel (Carrillo Fuentes) ends" in (
        html.unescape(text)
    )
    assert "alliance weight set to 0 (tie removed)" in text
    assert "rivalry weight set to 8" in text
    assert "20% of Sinaloa cartel (Federation)&#x27;s members form Beltran-Leyva" in text


def test_agent_runs_are_not_called_deterministic(pc2023_dir):
    from cartelsim.report.run_report import _mode_text

    class Fake:
        engine = "agents"

    assert _mode_text(Fake()).startswith("stochastic")


def test_sources_are_deduplicated_and_marked(mexico_report):
    """Each source once per series (an /amp copy and http/https spellings are one), with the
    years it supports; news pages are marked secondary."""
    from cartelsim.report import page

    entries = page.reference_list(
        {
            "https://24-horas.mx/2012/01/12/a/amp": [2007],
            "http://24-horas.mx/2012/01/12/a": [2008],
            "https://www.inegi.org.mx/x": [2009],
        }
    )
    assert [e["years"] for e in entries] == [[2009], [2007, 2008]]
    assert entries[0]["primary"] and not entries[1]["primary"]
    assert page.year_ranges([2006, 2007, 2008, 2010]) == "2006-2008, 2010"
    _, text = mexico_report
    refs = text.split("Sources of the observed series")[1].split("<h2>")[0]
    links = re.findall(r'<a href="([^"]+)"', refs)
    assert len(links) == len(set(links))
    assert "secondary: news or web page" in refs


# --- the chart module ------------------------------------------------------------------------


def _compiles(spec: dict) -> None:
    """Vega-Lite (vl-convert) compiles the spec to Vega: a wrong field or mark fails here."""
    import vl_convert

    vega = vl_convert.vegalite_to_vega(spec)
    assert vega["marks"] or vega.get("signals")


def test_every_report_chart_compiles(mexico_report):
    """Each chart in the report is a complete Vega-Lite spec that compiles, with hover
    (tooltips), a legend that toggles its series, and zoom on the time axis."""
    import json

    _, text = mexico_report
    specs = re.findall(r"vegaEmbed\('#chart-[^']+', (\{.*?\}), \{actions: false, ", text)
    assert len(specs) >= 7
    for raw in specs:
        spec = json.loads(raw.replace("<\\/", "</"))
        _compiles(spec)
        layers = json.dumps(spec)
        assert '"tooltip"' in layers and '"bind": "legend"' in layers
        assert '"bind": "scales"' in layers


def test_compare_and_sobol_pngs_come_from_the_specs(tmp_path):
    """compare.png and sobol.png are drawn from the chart module's specs by vl-convert."""
    import pandas as pd

    from cartelsim.report import charts, figures

    q = {"median": -10.0, "q05": -12.0, "q95": -8.0}
    result = {
        "horizon": "2012-12-01",
        "policies": {"more troops": {"change_vs_base_pct": {"members_total": q,
                                                             "deaths_per_week": q}}},
    }  # fmt: skip
    path = figures.compare_figure(result, tmp_path / "compare.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _compiles(charts.spec(charts.compare_chart(result)))
    table = pd.DataFrame(
        [{"output": "killings", "parameter": "recruitment_rate", "S1": 0.4, "S1_conf": 0.1,
          "ST": 0.5, "ST_conf": 0.1}]
    )  # fmt: skip
    sobol = {"scenario": "pc2023", "runs": 16, "indices": {}}
    _compiles(charts.spec(charts.sobol_chart(sobol, table)))


def test_compare_chart_shows_each_form_beside_the_average():
    """With competing forms the chart has a row per form under its policy's averaged row
    (labelled with its share of the draws), a form without draws is left out rather than
    drawn as an empty interval, and the first-year killings get their own panel."""
    from cartelsim.report import charts

    def q(m):
        return {"median": m, "q05": m - 2.0, "q95": m + 2.0}

    empty = {"median": float("nan"), "q05": float("nan"), "q95": float("nan")}
    keys = ("members_total", "deaths_per_week", "killings_first_year")
    result = {
        "horizon": "2012-12-01",
        "model_share_of_draws": {"suppression": 0.75, "disruption": 0.25, "unused": 0.0},
        "policies": {
            "troop-surge": {
                "change_vs_base_pct": {k: q(5.0) for k in keys},
                "change_vs_base_pct_by_model": {
                    "suppression": {k: q(1.0) for k in keys},
                    "disruption": {k: q(20.0) for k in keys},
                    "unused": {k: empty for k in keys},
                },
            }
        },
    }
    spec = charts.compare_chart(result)
    panels = spec["vconcat"]
    assert [p["title"] for p in panels][2] == "Change in killings in the policy's first year"
    names = [r["name"] for r in panels[2]["data"]["values"]]
    assert names == [
        "troop-surge (averaged)",
        "troop-surge: under suppression (75% of draws)",
        "troop-surge: under disruption (25% of draws)",
    ]
    medians = [r["median"] for r in panels[2]["data"]["values"]]
    assert medians == [5.0, 1.0, 20.0]
    _compiles(charts.spec(spec))


def test_tile_map_compiles():
    from cartelsim.report import charts

    tiles = [
        {"abbr": "SIN", "name": "Sinaloa", "row": 1, "col": 1, "value": 12.0},
        {"abbr": "SON", "name": "Sonora", "row": 1, "col": 2, "value": None},
    ]
    _compiles(charts.spec(charts.tile_map(tiles, "Killings per 100,000", "per 100,000", 12.0)))


def test_agent_map_is_one_tile_chart_per_year():
    """The agent report's map: a tile chart per year, two per row, one colour scale."""
    from types import SimpleNamespace

    import numpy as np

    from cartelsim.report import agent_map, charts

    grid = np.array([[0, 0], [0, 1], [1, 1]])
    regions = SimpleNamespace(abbr=["A", "B", "C"], names=["Aa", "Bb", "Cc"], grid=grid, n=3)
    spec = agent_map._map(regions, np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]]), [2007, 2008])
    assert [p["title"] for p in spec["concat"]] == ["2007", "2008"]
    assert spec["concat"][0]["width"] >= 400  # tiles large enough to read
    _compiles(charts.spec(spec))
