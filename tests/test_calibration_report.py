"""The calibration report: one self-contained page whose charts are the chart module's
Vega-Lite specs (no matplotlib image, no CDN), every section of before, bands that say what
they span and misfits flagged; sections are functions a later change can add to.

The report is built here from a calibration problem and a made-up posterior (no ABC run):
the report only reads what `calibrate` hands it."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from cartelsim.analysis import calibrate
from cartelsim.report import calibration_report

EXTERNAL = re.compile(r"<(?:script|img|iframe)[^>]*\ssrc\s*=|<link", re.IGNORECASE)
SPECS = re.compile(r"vegaEmbed\('#(chart-[^']+)', (\{.*?\}), \{actions: false, ")


def made_up_calibration(seed: int = 0, particles: int = 80):
    """(problem, table, predictive, summary) for mexico-2006-2012 as `calibrate.summarize`
    hands them to the report, with particles drawn around the scenario's values."""
    problem = calibrate.setup("mexico-2006-2012")
    rng = np.random.default_rng(seed)
    form = problem.forms[0]
    priors = problem.priors[0]
    columns = {}
    for name, prior in priors.items():
        if prior.distribution == "log_uniform":
            low, high = np.log(prior.low), np.log(prior.high)
            middle, half = (low + high) / 2, (high - low) / 8
            columns[name] = np.exp(rng.uniform(middle - half, middle + half, particles))
        elif prior.distribution == "uniform":
            middle, half = (prior.low + prior.high) / 2, (prior.high - prior.low) / 8
            columns[name] = rng.uniform(middle - half, middle + half, particles)
        else:
            columns[name] = rng.normal(prior.mean, prior.sd / 4, particles)
    weights = rng.uniform(0.5, 1.5, particles)
    weights /= weights.sum()
    table = pd.DataFrame(
        {
            "incapacitation_form": form,
            "model_probability": 1.0,
            "weight": weights,
            **columns,
        }
    )
    pred = calibrate.predictive(problem, table, seed)
    params = [c for c in table.columns if c not in calibrate.meta_columns(table)]
    summary = {
        "scenario": problem.scenario.name,
        "populations": 3,
        "particles": particles,
        "incapacitation_form": form,
        "model_probabilities": {form: 1.0},
        "fixed": problem.fixed,
        "posterior": {n: calibrate.quantiles(table[n].to_numpy(), weights) for n in params},
        "derived": {
            "members_total_end": calibrate.quantiles(pred["traj"].members[-1].sum(axis=0)),
            "deaths_per_week_end": calibrate.quantiles(pred["weekly"]["member_deaths"][-1]),
        },
        "epsilon": [30.0, 20.0, 12.5],
        "simulations": 1234,
    }
    return problem, table, pred, summary


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    problem, table, pred, summary = made_up_calibration()
    path = tmp_path_factory.mktemp("calibration") / "report.html"
    calibration_report.write(path, problem, table, pred, summary)
    return (problem, table, pred, summary), path.read_text(encoding="utf-8")


def _specs(text: str) -> dict[str, dict]:
    return {k: json.loads(v.replace("<\\/", "</")) for k, v in SPECS.findall(text)}


def test_every_figure_is_a_chart_spec_and_the_page_is_self_contained(calibration):
    _, text = calibration
    assert "data:image/png" not in text  # no matplotlib figure left
    assert text.count("window.vegaEmbed=") == 1  # the Vega bundle, inlined once
    page = re.sub(r"<script>.*?</script>", "<script></script>", text, flags=re.DOTALL)
    assert not EXTERNAL.search(page) and "<script src" not in text
    specs = _specs(text)
    # one chart per target (inegi_homicides, oc_killings, the foot-soldiers claim) + pairs
    assert {"chart-target-0", "chart-target-1", "chart-target-2", "chart-pairs"} <= set(specs)


def test_every_chart_compiles_with_hover_legend_and_zoom(calibration):
    import vl_convert

    _, text = calibration
    for key, spec in _specs(text).items():
        vega = vl_convert.vegalite_to_vega(spec)
        assert vega["marks"] or vega.get("signals"), key
        body = json.dumps(spec)
        assert '"tooltip"' in body, key
        if key.startswith("chart-target"):
            assert '"bind": "legend"' in body and '"bind": "scales"' in body, key


def test_every_section_of_before_is_there(calibration):
    _, text = calibration
    for heading in (
        "<h1>Calibration of mexico-2006-2012</h1>",
        "At the end date",
        "<h2>Posterior predictive check</h2>",
        "Every observation against the draws",
        "<h2>Posterior</h2>",
        "Pair matrix",
    ):
        assert heading in text, heading
    assert "recruitment_rate" in text and "\u03c1" in text  # names with PC2023's symbols
    assert "log_uniform(" in text  # the priors and their sources


def test_bands_say_what_they_span(calibration):
    (_, _, pred, _), text = calibration
    draws = pred["traj"].members.shape[2]
    label = f"{draws:,} posterior draws"
    assert f"middle 90 % of {label}" in text  # the legend of every predictive chart
    assert f"the bands are over {label}" in text  # the table
    for key, spec in _specs(text).items():
        if key.startswith("chart-target"):
            legend = spec["layer"][0]["encoding"]["color"]["scale"]["domain"]
            assert legend[0] == f"middle 90 % of {label}", key


def test_misfits_are_flagged_where_the_observation_is_outside_the_band(calibration):
    (problem, _, pred, _), text = calibration
    sims = calibration_report.Calibration(problem, None, pred, {}).simulated
    q05, q95 = np.quantile(sims, [0.05, 0.95], axis=1)
    outside = [
        k
        for k, p in enumerate(problem.points)
        if (p.comparison == "equal" and not q05[k] <= p.observed <= q95[k])
        or (p.comparison == "at_least" and q95[k] < p.observed)
    ]
    assert outside, "the made-up posterior should miss at least one observation"
    assert text.count("NO: outside the 90 % band (a misfit)") == len(outside)
    assert text.count("<tr class='misfit'>") == len(outside)
    assert f"{len(outside)} of {len(problem.points)} observations lie outside" in text
    flagged = []
    for key, spec in _specs(text).items():
        if key.startswith("chart-target"):
            rows = spec["datasets"]["checks"]
            flagged += [r for r in rows if r["fit"] != "inside the 90 % band"]
    assert len(flagged) == len(outside)


def test_sources_are_deduplicated_references(calibration):
    (problem, _, _, _), text = calibration
    refs = text.split("Sources of the observations")[1].split("</ol>")[0]
    keys = [re.sub(r"^https?://(www\.)?", "", u) for u in re.findall(r'href="([^"]+)"', refs)]
    assert len(keys) == len(set(keys)) and keys


def test_sections_are_functions_a_change_can_add_to(tmp_path):
    problem, table, pred, summary = made_up_calibration(particles=20)

    def claims(c: calibration_report.Calibration) -> str:
        return f"<h2>Claims</h2><p>{c.draws} draws, {len(c.targets)} targets</p>"

    sections = [*calibration_report.SECTIONS, claims]
    path = calibration_report.write(tmp_path / "r.html", problem, table, pred, summary, sections)
    text = path.read_text(encoding="utf-8")
    targets = len({p.target for p in problem.points})
    claims_at = text.index(f"<h2>Claims</h2><p>400 draws, {targets} targets")
    assert text.index("<h2>Posterior</h2>") < claims_at
