"""`calibrate --engine agents`: an ABC posterior over agent assumptions that is the same for
the same seed, continues or re-reports in its folder, refuses a folder made for another
calibration, and refuses bad options in one line before anything is written."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from cartelsim.analysis import agent_calibrate as abc
from cartelsim.analysis import targets
from cartelsim.analysis.hindcast import calibration_scenario
from cartelsim.cli import main
from cartelsim.plan import make_plan
from cartelsim.report import agent_calibration_report
from cartelsim.scenario import load_scenario

#: mexico-2006-2012 to the end of 2008, fitting INEGI homicides and the database 2007-2008
#: and the active groups of 2007 (2011's is after the end); two assumptions, 3 particles,
#: one population, at scale 0.01: a dozen short agent runs.
PARAMETERS = ["leak_given_payroll", "raid_rate"]


@pytest.fixture(scope="module")
def small():
    return calibration_scenario(load_scenario("mexico-2006-2012"), dt.date(2009, 1, 1))


def _calibrate(scenario, out, **options):
    settings = {"particles": 3, "populations": 1, "scale": 0.01, "draws": 2, "seed": 4,
                "write_report": agent_calibration_report.write}  # fmt: skip
    return abc.calibrate_agents(scenario, out, parameters=PARAMETERS, **{**settings, **options})


@pytest.fixture(scope="module")
def calibrated(small, tmp_path_factory):
    root = tmp_path_factory.mktemp("agent-abc")
    for name in ("a", "b"):
        _calibrate(small, root / name)
    return root


def test_the_posterior_covers_the_assumptions_within_their_priors(calibrated):
    """posterior.parquet: one row per particle, the weights sum to 1, every value inside its
    prior; summary.json says what was fitted and at what scale."""
    table = pd.read_parquet(calibrated / "a" / "posterior.parquet")
    summary = json.loads((calibrated / "a" / "summary.json").read_text())
    assert len(table) == 3 and abs(table.weight.sum() - 1) < 1e-9
    for name in PARAMETERS:
        prior = summary["priors"][name]
        assert table[name].between(prior["low"], prior["high"]).all(), name
        assert prior["low"] == pytest.approx(prior["value"] / 2)
    assert summary["engine"] == "agents" and summary["scale"] == 0.01
    fitted = {(r["target"], r["label"]) for r in summary["predictive_check"]}
    assert {t for t, _ in fitted} == {"inegi_homicides", "oc_killings", "active_groups"}
    assert ("active_groups", "2007") in fitted and ("active_groups", "2011") not in fitted
    assert summary["simulations"] >= 3
    report = (calibrated / "a" / "report.html").read_text()
    assert "Posterior predictive" in report and "leak_given_payroll" in report


def test_same_seed_gives_the_same_posterior(calibrated):
    """Same seed: identical particles, weights and predictive check."""
    a, b = (calibrated / n for n in ("a", "b"))
    assert (a / "posterior.parquet").read_bytes() == (b / "posterior.parquet").read_bytes()
    first, again = (json.loads((f / "summary.json").read_text()) for f in (a, b))
    first.pop("seconds"), again.pop("seconds")
    assert first == again


def test_a_finished_calibration_re_reports_without_simulating(small, calibrated, tmp_path):
    """Called again with the same settings, it simulates nothing new (the history is done)."""
    folder = tmp_path / "again"
    folder.mkdir()
    for name in ("abc.db", "calibration.json"):
        (folder / name).write_bytes((calibrated / "a" / name).read_bytes())
    before = json.loads((calibrated / "a" / "summary.json").read_text())
    summary = _calibrate(small, folder)
    assert summary["simulations"] == before["simulations"]
    assert summary["posterior"] == before["posterior"]


def test_another_scale_does_not_continue_the_history(small, calibrated, tmp_path):
    """A history made at scale 0.01 is not continued at 0.02: one error naming what changed."""
    folder = tmp_path / "other"
    folder.mkdir()
    for name in ("abc.db", "calibration.json"):
        (folder / name).write_bytes((calibrated / "a" / name).read_bytes())
    with pytest.raises(ValueError, match=r"made for a different calibration \(scale changed\)"):
        _calibrate(small, folder, scale=0.02)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scale", "0"], "--scale: must be in (0, 1]"),
        (["--factor", "1"], "--factor: must be > 1"),
        (["--parameters", "raid_rate,nonsense"], "--parameters: 'nonsense' is not"),
        (["--fix", "cartel_share=0.1"], "--fix: only with --engine aggregate"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, extra, message):
    args = ["calibrate", "mexico-2006-2012", "--engine", "agents", *extra]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"cartelsim: {message}"), err
    assert not (tmp_path / "out").exists()


def test_agent_options_are_refused_with_the_aggregate_engine(tmp_path, capsys):
    assert main(["calibrate", "pc2023", "--scale", "0.1", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == "cartelsim: --scale: only with --engine agents"
    assert not (tmp_path / "o").exists()


def test_the_group_targets_count_in_the_misfit_in_log_units(small):
    """Active groups enter the distance as the other targets do: log(simulated / observed)
    over the relative error (10 groups against 2007's 5, error 0.5: log 2 / 0.5)."""
    plan = make_plan(small)
    points = targets.target_points(plan, small.calibration, None)
    model = abc.AgentParticle(small, points, abc.group_targets(plan), 0.01, None)
    assert [t.year for t in model.groups] == [2007]
    sims = np.array([p.observed for p in points] + [10.0])
    residuals = model.residuals(sims)
    assert np.allclose(residuals[:-1], 0.0)
    assert residuals[-1] == pytest.approx(np.log(2.0) / 0.5)
