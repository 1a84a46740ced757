"""Hindcasts (issue "Hindcasts"): forecasts from the data before each origin, scored with
CRPS against naive baselines; variants with and without the later events; resume."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from cartelsim import cli, observe
from cartelsim.analysis import hindcast
from cartelsim.plan import make_plan
from cartelsim.scenario import load_scenario

#: A small hindcast of mexico: two origins, tiny calibrations, 40 draws.
SMALL = dict(
    origins=[dt.date(2011, 1, 1), dt.date(2016, 1, 1)], n_draws=40, particles=20,
    populations=1, seed=3, fix={"cartel_share": 0.1},
)  # fmt: skip


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small hindcast of mexico: two origins, tiny calibrations, 40 draws."""
    out = tmp_path_factory.mktemp("hc") / "out"
    said = []
    summary = hindcast.hindcast("mexico", out, progress=said.append, **SMALL)
    return out, summary, said


def test_small_hindcast_scores_every_series_and_baseline(small):
    out, summary, said = small
    assert (out / "hindcast.json").is_file() and (out / "hindcast.parquet").is_file()
    assert all("calibrating" in s for s in said)
    rows = summary["forecasts"]
    keys = {(r["origin"], r["variant"], r["series"], r["horizon"]) for r in rows}
    for origin in ("2011-01-01", "2016-01-01"):
        for variant in hindcast.VARIANTS:
            for h in (1, 2, 3):
                assert (origin, variant, "inegi_homicides", h) in keys
                assert (origin, variant, "inegi_homicides_monthly", h) in keys
    row = next(r for r in rows if r["origin"] == "2016-01-01" and r["horizon"] == 1)
    assert row["periods"] == ["2016"] and row["observed"] == [24559.0]
    # persistence is the last year before the origin (2015: 20,762), its CRPS the error
    persistence = row["baselines"]["persistence"]
    assert persistence["quantiles"]["point"] == [20762.0]
    assert persistence["crps"] == pytest.approx(24559 - 20762)
    assert row["baselines"]["persistence"]["skill"] == pytest.approx(
        1 - row["model"]["crps"] / persistence["crps"]
    )
    q = row["model"]["quantiles"]
    assert q["q05"][0] <= q["q50"][0] <= q["q95"][0]
    monthly = next(r for r in rows if r["series"] == "inegi_homicides_monthly")
    assert len(monthly["periods"]) == 12 and len(monthly["model"]["quantiles"]["q50"]) == 12
    means = [s for s in summary["skill"] if s["series"] == "mean" and s["forecast"] == "model"]
    assert {(s["variant"], s["baseline"], s["horizon"]) for s in means} == {
        (v, b, h) for v in hindcast.VARIANTS for b in hindcast.BASELINES for h in (1, 2, 3)
    }


def test_the_calibration_sees_only_the_years_before_the_origin(small):
    out, summary, _ = small
    first = summary["origins"][0]
    assert first["origin"] == "2011-01-01"
    # INEGI 2007-2010 and the database 2007-2010 (4 + 4) and the early-2009 claim
    assert first["calibration_points"] == 9
    assert "missing_persons" not in first["calibration_targets"]
    cal = hindcast.calibration_scenario(load_scenario("mexico"), dt.date(2011, 1, 1))
    assert cal.simulation.end() <= dt.date(2011, 1, 8)
    assert all(t.last_year is None or t.last_year <= 2010 for t in cal.calibration.targets)
    early = hindcast.calibration_scenario(load_scenario("mexico"), dt.date(2009, 1, 1))
    assert "foot_soldiers_early_2009" not in [t.name for t in early.calibration.targets]


def test_known_and_blind_share_draws_and_differ_by_the_events(small):
    out, summary, _ = small
    rows = {(r["origin"], r["variant"], r["series"], r["horizon"]): r for r in summary["forecasts"]}
    known = rows[("2011-01-01", "known-events", "inegi_homicides", 3)]["model"]
    blind = rows[("2011-01-01", "blind", "inegi_homicides", 3)]["model"]
    assert known["crps"] != blind["crps"]  # the 2013 fragmentation and deployments matter
    scenario = load_scenario("mexico")
    origin = dt.date(2011, 1, 1)
    cut_blind = hindcast.cut(scenario, dt.date(2014, 1, 1), origin)
    cut_known = hindcast.cut(scenario, dt.date(2014, 1, 1))
    assert all(e.date < origin for e in cut_blind.events + cut_blind.deployments)
    assert any(e.type == "fragment" for e in cut_known.events)
    assert cut_known.simulation.end() >= dt.date(2014, 1, 1)


def test_a_finished_hindcast_is_read_back_not_redone(small, tmp_path):
    out, summary, _ = small
    said = []
    again = hindcast.hindcast("mexico", out, progress=said.append, **SMALL)
    assert all("read back" in s for s in said)
    assert again["forecasts"] == summary["forecasts"]
    with pytest.raises(hindcast.HindcastError, match="seed changed"):
        hindcast.hindcast("mexico", out, **{**SMALL, "seed": 4})


def test_baselines():
    g = np.random.default_rng(0)
    assert hindcast.baseline_forecast("persistence", [5.0, 7.0], 3, 10, g)[:, 0].tolist() == [
        7.0, 7.0, 7.0,
    ]  # fmt: skip
    drift = hindcast.baseline_forecast("drift", [1.0, 10.0, 20.0, 30.0], 2, 10, g)
    assert drift[:, 0] == pytest.approx([40.0, 50.0])  # the line through the last three
    walk = hindcast.baseline_forecast("nb_random_walk", [900, 1100, 1000, 1200, 1000], 1, 4000, g)
    assert walk.shape == (1, 4000) and walk.mean() == pytest.approx(1000, rel=0.03)
    assert walk.std() > np.sqrt(1000) * 2  # overdispersed: the history moved by ~200 a year
    flat = hindcast.baseline_forecast("nb_random_walk", [1000, 1000, 1001], 1, 4000, g)
    assert flat.std() == pytest.approx(np.sqrt(1000), rel=0.1)  # Poisson when it barely moves
    assert hindcast.baseline_forecast("nb_random_walk", [1.0, 2.0], 1, 10, g) is None
    assert hindcast.baseline_forecast("drift", [1.0], 1, 10, g) is None


def test_score_is_crps_and_coverage():
    point = hindcast.score(np.array([3.0]), np.array([[5.0]]))
    assert point["crps"] == pytest.approx(2.0) and point["coverage_90"] is None
    sample = np.random.default_rng(1).normal(0, 1, (2, 20000))
    result = hindcast.score(np.array([0.0, 10.0]), sample)
    from scipy.stats import norm

    def exact(y):  # the CRPS of N(0, 1) at y (Gneiting & Raftery 2007)
        return y * (2 * norm.cdf(y) - 1) + 2 * norm.pdf(y) - 1 / np.sqrt(np.pi)

    assert result["crps"] == pytest.approx((exact(0.0) + exact(10.0)) / 2, rel=0.01)
    assert result["coverage_90"] == 0.5 and result["coverage_50"] == 0.5


def test_monthly_inegi_series_sums_to_the_yearly_one():
    monthly = observe.load_monthly("inegi:homicides_monthly")
    assert len(monthly.values) == 276
    yearly = observe.load_series("mexico:inegi_homicides_occurrence")
    for year in (2000, 2006):
        assert monthly.year_total(year) == pytest.approx(yearly.values[year], abs=1)
    assert "10.17605/OSF.IO/U8DC3" in monthly.source
    plan = make_plan(load_scenario("mexico"))
    weights = sum(observe.month_weights(plan, 2010, m) for m in range(1, 13))
    assert weights.sum() == pytest.approx(365 / (365.25 / 52), rel=0.01)
    assert weights.max() <= 1.0 + 1e-9


@pytest.mark.parametrize(
    "args, words",
    [
        (["--origins", "2011-03-01"], "--origins 2011-03-01: must be a 1 January"),
        (["--origins", "2030-01-01"], "--origins 2030-01-01: outside mexico's period"),
        (["--origins", "2006-01-01"], "--origins 2006-01-01: outside"),
        (["--origins", "2022-01-01"], "--horizons 3: from origin 2022-01-01"),
        (["--variants", "psychic"], "--variants psychic: unknown (known: known-events, blind)"),
        (["--baselines", "oracle"], "--baselines oracle: unknown"),
        (["--origins", "someday"], "--origins someday: not a date"),
    ],
)
def test_bad_options_are_one_line(args, words, tmp_path, capsys):
    code = cli.main(["hindcast", "mexico", "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and words in err, err
    assert not (tmp_path / "o").exists()


def test_report_and_json(small):
    out, summary, _ = small
    text = (out / "report.html").read_text() if (out / "report.html").exists() else ""
    assert text == ""  # the analysis writes no report itself: the CLI passes the writer
    from cartelsim.report import hindcast_report

    path = hindcast_report.write(out / "r.html", summary)
    page = path.read_text()
    assert "Skill against the baselines" in page and "predicted, not fitted" in page
    assert page.count("vegaEmbed(") >= 4
    assert "known-events" in hindcast_report.skill_text(summary)
    assert json.loads((out / "hindcast.json").read_text())["draws"] == 40


def test_anchoring_puts_every_run_on_the_jump_off_year():
    """Anchored runs match the year before the origin exactly (before observation noise),
    and keep each run's own change from there."""
    from cartelsim.analysis import draws

    scenario = hindcast.cut(load_scenario("mexico"), dt.date(2013, 1, 1))
    values = {"recruitment_rate": np.array([2.5e-3, 3.5e-3, 5e-3])}
    plan, traj = draws.simulate_draws(scenario, values, record="national")
    weekly = draws.observables(plan, traj, values)
    series = next(s for s in hindcast.scored_series(scenario) if s.name == "inegi_homicides")
    factor = hindcast._anchor(plan, weekly, series, dt.date(2012, 1, 1))
    jump = hindcast.model_values(plan, weekly, series, 2011)
    assert factor * jump == pytest.approx(np.full(3, series.values[2011]))
    after = hindcast.model_values(plan, weekly, series, 2012)
    assert (factor * after / series.values[2011]) == pytest.approx(after / jump)
    monthly = next(s for s in hindcast.scored_series(scenario) if s.monthly)
    factor_m = hindcast._anchor(plan, weekly, monthly, dt.date(2012, 1, 1))
    months = sum(hindcast.model_values(plan, weekly, monthly, (2011, m)) for m in range(1, 13))
    total = sum(monthly.values[(2011, m)] for m in range(1, 13))
    assert factor_m * months == pytest.approx(np.full(3, total))


def test_an_interrupted_hindcast_resumes_without_redoing_finished_origins(tmp_path, monkeypatch):
    options = dict(
        origins=[dt.date(2009, 1, 1), dt.date(2011, 1, 1)], n_draws=20, particles=20,
        populations=1, fix={"cartel_share": 0.1},
    )  # fmt: skip
    real = hindcast.forecast_origin

    def interrupted(scenario, origin, *args, **kwargs):
        if origin.year == 2011:
            raise KeyboardInterrupt
        return real(scenario, origin, *args, **kwargs)

    monkeypatch.setattr(hindcast, "forecast_origin", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hindcast.hindcast("mexico", tmp_path / "out", **options)
    assert (tmp_path / "out" / "origins" / "2009-01-01" / "forecast.json").is_file()
    assert not (tmp_path / "out" / "hindcast.json").exists()
    monkeypatch.setattr(hindcast, "forecast_origin", real)
    said = []
    summary = hindcast.hindcast("mexico", tmp_path / "out", progress=said.append, **options)
    assert said == [
        "origin 2009-01-01: finished before, read back",
        "origin 2011-01-01: calibrating on the data before it",
    ]
    assert [o["origin"] for o in summary["origins"]] == ["2009-01-01", "2011-01-01"]
