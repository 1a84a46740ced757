"""ABC calibration (pyabc), policy comparison and Sobol sensitivity, end to end on small
settings. The full pc2023 calibration is timed in benchmarks/calibration.py."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pyabc
import pytest
from conftest import small_document

from cartelsim import cli, observe
from cartelsim.aggregate import simulate
from cartelsim.analysis import calibrate, compare, sensitivity
from cartelsim.plan import make_plan
from cartelsim.report import calibration_report
from cartelsim.scenario import ScenarioError, validate

TRUTH = {"recruitment_rate": 0.004, "conflict_lethality": 2.0e-8}


def synthetic_scenario(folder, **calibration_changes):
    """A three-group scenario whose 'observed' killings and members were simulated by the
    model itself at TRUTH, written as CSV series, with both parameters free."""
    document = small_document(simulation={"start": "2010-01-01", "weeks": 260})
    document["parameters"].update(TRUTH)
    truth = validate(document, "truth.toml")
    plan = make_plan(truth)
    weekly = observe.national_weekly(plan, simulate(plan))
    for variable in ("killings", "members_total"):
        lines = ["year,value,source"]
        for year in range(2010, 2015):
            value = observe.window_value(plan, weekly[variable], variable, year)[0]
            lines.append(f"{year},{value:.3f},simulated at the true values")
        (folder / f"{variable}.csv").write_text("\n".join(lines) + "\n")
    # away from the truth, at the prior's lower bounds (a prior may not exclude them)
    document["parameters"].update(recruitment_rate=0.001, conflict_lethality=3e-9)
    document["calibration"] = {
        "particles": 100,
        "populations": 4,
        "free": {
            "recruitment_rate": {"distribution": "log_uniform", "low": 1e-3, "high": 1e-2},
            "conflict_lethality": {"distribution": "log_uniform", "low": 3e-9, "high": 1e-7},
        },
        "targets": [
            {
                "name": "killings",
                "data": f"csv:{folder / 'killings.csv'}",
                "variable": "killings",
                "relative_error": 0.05,
            },
            {
                "name": "members",
                "data": f"csv:{folder / 'members_total.csv'}",
                "variable": "members",
                "relative_error": 0.05,
            },
        ],
        **calibration_changes,
    }
    return validate(document, "synthetic.toml")


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    scenario = synthetic_scenario(folder)
    out = folder / "calibration"
    # the section's 4 populations; the report is written as the CLI writes it
    summary = calibrate.calibrate(scenario, out, seed=1, write_report=calibration_report.write)
    return scenario, out, summary


def test_calibration_recovers_the_parameters_that_made_the_data(calibrated):
    _, out, summary = calibrated
    for name, value in TRUTH.items():
        q = summary["posterior"][name]
        assert q["q05"] <= value <= q["q95"], (name, value, q)
        assert q["q95"] / q["q05"] < 4.0, f"{name}: the prior spans a factor 10-33 ({q})"
    assert summary["populations"] == 4
    assert summary["particles"] == 100
    for key in ("members_total_end", "recruits_net_per_week_end", "deaths_per_week_end"):
        assert set(summary["derived"][key]) == {"median", "q05", "q95"}
    table = __import__("pandas").read_parquet(out / "posterior.parquet")
    assert len(table) == 100 and np.isclose(table.weight.sum(), 1.0)
    page = (out / "report.html").read_text()
    assert "Posterior predictive check" in page and page.count("vegaEmbed('#chart-") >= 2


def test_derived_members_are_the_posteriors_weighted_quantiles(calibrated, tmp_path):
    """The summary's members at the end are quantiles over every particle of the final
    population run once, weighted, not over a resample: the same for any summary seed (this
    scenario is deterministic), while the resampled predictive check may move with it."""
    scenario, out, _ = calibrated
    problem = calibrate.setup(scenario)
    history = pyabc.History(f"sqlite:///{out / 'abc.db'}")
    table = calibrate.posterior_table(problem, history)
    every = calibrate.particle_runs(problem, table, seed=0)
    members = every["traj"].members[-1].sum(axis=0)
    assert members.shape == (len(table),) and np.isclose(every["weights"].sum(), 1.0)
    exact = pyabc.weighted_statistics.weighted_median(members, every["weights"])
    summaries = [
        calibrate.summarize(problem, history, tmp_path / f"s{seed}", seed) for seed in (1, 2)
    ]
    for summary in summaries:
        assert summary["derived"]["members_total_end"]["median"] == pytest.approx(exact)
    assert summaries[0]["derived"] == summaries[1]["derived"]


def test_a_second_invocation_continues_the_history(calibrated):
    scenario, out, first = calibrated
    history = pyabc.History(f"sqlite:///{out / 'abc.db'}")
    before = history.get_all_populations()
    again = calibrate.calibrate(scenario, out, seed=1)
    assert again["simulations"] == first["simulations"], "a finished history is not rerun"
    more = calibrate.calibrate(scenario, out, populations=5, seed=1)
    after = pyabc.History(f"sqlite:///{out / 'abc.db'}").get_all_populations()
    assert more["populations"] == 5 and list(after.t) == [-1, 0, 1, 2, 3, 4]
    assert more["simulations"] > first["simulations"]
    kept = after[after.t <= 3].reset_index(drop=True)
    assert kept.epsilon.tolist() == before.epsilon.tolist(), "populations 0-3 were recomputed"


def test_the_summary_gives_the_effective_sample_size_of_the_last_population(tmp_path):
    scenario = synthetic_scenario(tmp_path)
    summary = calibrate.calibrate(scenario, tmp_path / "run", populations=2, particles=20)
    ess = summary["effective_sample_size"]
    table = calibrate.read_posterior(tmp_path / "run" / "posterior.parquet")
    weight = table[calibrate.SAMPLER_WEIGHT]  # the sampler's, before smoothing
    assert weight.sum() == pytest.approx(1.0)
    assert ess["all"] == pytest.approx(weight.sum() ** 2 / np.square(weight).sum())
    smoothed = table.weight * table.model_probability
    assert summary["effective_sample_size_smoothed"] == pytest.approx(
        smoothed.sum() ** 2 / np.square(smoothed).sum()
    )
    assert 1 <= ess["all"] < 20, "unequal weights: fewer effective particles than particles"
    assert calibrate.effective_sample_size(np.ones(7)) == pytest.approx(7.0)
    assert set(summary["pareto_k"]) == set(ess)
    # 20 particles are too few to fit the tail (fewer than 5 in it): null, not NaN, in JSON
    assert all(k is None for k in summary["pareto_k"].values())


def test_the_last_population_is_the_factor_larger_and_alone_is_the_posterior(tmp_path):
    scenario = synthetic_scenario(tmp_path, final_population_factor=3)
    out = tmp_path / "run"
    summary = calibrate.calibrate(scenario, out, populations=3, particles=20, seed=2)
    counts = pyabc.History(f"sqlite:///{out / 'abc.db'}").get_nr_particles_per_population()
    assert [counts[t] for t in (0, 1, 2)] == [20, 20, 60]
    assert summary["particles"] == 60
    assert len(calibrate.read_posterior(out / "posterior.parquet")) == 60
    assert calibrate.population_sizes(8, 2000, 4) == [2000] * 7 + [8000]
    # raising --populations later keeps the finished large population and adds a larger last
    more = calibrate.calibrate(scenario, out, populations=4, particles=20, seed=2)
    counts = pyabc.History(f"sqlite:///{out / 'abc.db'}").get_nr_particles_per_population()
    assert counts[3] == 60 and more["particles"] == 60
    # a different factor is a different calibration: refused, not mixed in
    other = synthetic_scenario(tmp_path, final_population_factor=2)
    with pytest.raises(ValueError, match="made for a different calibration"):
        calibrate.calibrate(other, out, populations=4, particles=20)


def test_a_last_population_over_the_bound_is_refused_before_any_simulation(tmp_path):
    scenario = synthetic_scenario(tmp_path, final_population_factor=20)
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="final_population_factor 20 is 120,000, over the"):
        calibrate.calibrate(scenario, out, populations=2, particles=6000)
    assert not (out / "abc.db").exists()


def test_a_changed_calibration_or_a_damaged_history_is_refused(tmp_path):
    scenario = synthetic_scenario(tmp_path)
    out = tmp_path / "run"
    calibrate.calibrate(scenario, out, populations=1, particles=20)
    changed = synthetic_scenario(tmp_path, distance="l1")
    with pytest.raises(ValueError, match="made for a different calibration"):
        calibrate.calibrate(changed, out, populations=1, particles=20)
    (out / "abc.db").write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    with pytest.raises(ValueError, match=r"abc\.db: (not a readable|damaged)"):
        calibrate.calibrate(scenario, out, populations=1, particles=20)


def test_model_selection_weighs_both_incapacitation_forms(tmp_path):
    forms = {
        "fixed_count": {"distribution": "log_uniform", "low": 1, "high": 100},
        "per_member": {"distribution": "log_uniform", "low": 1e-4, "high": 1e-2},
    }
    scenario = synthetic_scenario(tmp_path, forms=forms)
    summary = calibrate.calibrate(scenario, tmp_path / "sel", populations=2, particles=60)
    probabilities = summary["model_probabilities"]
    assert set(probabilities) <= set(forms) and np.isclose(sum(probabilities.values()), 1.0)
    assert "incapacitation" in summary["posterior"]


def test_calibrate_cli_prints_the_specified_json(tmp_path, capsys, pc2023_dir):
    code = cli.main(
        [
            "calibrate",
            "pc2023",
            "--populations",
            "1",
            "--particles",
            "20",
            "--data-dir",
            pc2023_dir,
            "--fix",
            "cartel_share=0.1",
            "--out",
            str(tmp_path),
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:5] == ["scenario", "populations", "particles", "posterior", "derived"]
    assert "cartel_share" not in out["posterior"] and out["fixed"] == {"cartel_share": 0.1}
    assert {"recruitment_rate", "initial_members_total", "incarceration_share"} <= set(
        out["posterior"]
    )


def test_bad_calibration_sections_give_one_line_errors():
    document = small_document()
    document["calibration"] = {
        "free": {"recruitment_rte": {"distribution": "uniform", "low": 0, "high": 1}},
        "targets": [{"name": "x", "data": "mexico:oc_killings", "variable": "killings",
                     "relative_error": 0.1}],
    }  # fmt: skip
    with pytest.raises(ScenarioError, match=r"^s\.toml: calibration\.free\.recruitment_rte: "):
        validate(document, "s.toml")
    document["calibration"]["free"] = {
        "recruitment_rate": {"distribution": "log_uniform", "low": 0, "high": 1}
    }
    with pytest.raises(ScenarioError, match="low > 0"):
        validate(document, "s.toml")
    with pytest.raises(ScenarioError, match="no \\[calibration\\] section"):
        calibrate.setup(validate(small_document(), "s.toml"))


def test_a_damaged_sqlite_file_is_named(tmp_path):
    out = tmp_path / "c"
    out.mkdir()
    with sqlite3.connect(out / "abc.db") as con:
        con.execute("create table something (x)")
    scenario = synthetic_scenario(tmp_path)
    with pytest.raises(ValueError, match="not a pyabc history"):
        calibrate.calibrate(scenario, out, populations=1, particles=20)


# --- compare -------------------------------------------------------------------------------


def test_compare_pc2023_policies_match_the_paper_scenarios(pc2023_dir):
    result = compare.compare(
        "pc2023-status-quo",
        ["halve-recruitment", "double-incapacitation", "pc2023-halve-recruitment"],
        data_dir=pc2023_dir,
    )
    assert result["horizon"] == "2027-01-01"
    halve = result["policies"]["halve-recruitment"]
    assert halve == result["policies"]["pc2023-halve-recruitment"]
    assert halve["members_total"]["median"] == pytest.approx(156_683, rel=1e-4)
    double = result["policies"]["double-incapacitation"]
    assert double["members_total"]["median"] == pytest.approx(184_036, rel=1e-4)
    assert halve["change_vs_base_pct"]["deaths_per_week"]["median"] < -40


def test_compare_over_posterior_draws_gives_intervals(calibrated, tmp_path, capsys):
    scenario, out, _ = calibrated
    path = tmp_path / "synthetic.toml"
    base = scenario.model_dump(mode="json", exclude_none=True)
    path.write_text(_toml(base))
    code = cli.main(
        [
            "compare",
            str(path),
            "--policy",
            "halve-recruitment",
            "--policy",
            "merger:A+B",
            "--posterior",
            str(out),
            "--runs",
            "50",
            "--out",
            str(tmp_path / "cmp"),
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    halve = result["policies"]["halve-recruitment"]["change_vs_base_pct"]["members_total"]
    assert halve["q05"] < halve["median"] < halve["q95"] < 0
    merger = result["policies"]["merger:A+B"]["change_vs_base_pct"]["deaths_per_week"]
    assert merger["q95"] < -90, "after the merger only the base-level fighting is left"
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 1000


def test_compare_refuses_an_unknown_policy_or_group():
    with pytest.raises(ValueError, match="neither a built-in policy"):
        compare.compare("mexico-2006-2012", ["pc2023-halve-recruitment"])
    with pytest.raises(ValueError, match=r"--policy merger:SIN\+XYZ: .*'XYZ'"):
        compare.compare("mexico-2006-2012", ["merger:SIN+XYZ"])


# --- sensitivity ---------------------------------------------------------------------------


def test_sobol_indices_rank_what_matters(tmp_path):
    scenario = synthetic_scenario(tmp_path)
    document = scenario.model_dump(mode="json", exclude_none=True)
    document["calibration"]["free"]["cartel_share"] = {
        "distribution": "uniform",
        "low": 0.05,
        "high": 0.25,
    }
    result = sensitivity.sensitivity(validate(document, "s.toml"), samples=64)
    members = result["indices"]["members_total_end"]
    assert members["recruitment_rate"]["ST"] > 0.3
    assert abs(members["cartel_share"]["ST"]) < 1e-9, "s only changes what is recorded"
    assert result["indices"]["recorded_killings_total"]["cartel_share"]["ST"] > 0.05
    assert result["runs"] == 64 * (3 + 2)


def _toml(document: dict) -> str:
    """A scenario document as TOML (tests only): JSON values are valid TOML inline values
    for the strings, numbers, lists and tables used here."""
    lines = []
    for key, value in document.items():
        lines.append(f"{key} = {_inline(value)}")
    return "\n".join(lines) + "\n"


def _inline(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def test_calibrate_samples_on_a_dask_cluster(tmp_path):
    from distributed import LocalCluster

    scenario = synthetic_scenario(tmp_path)
    # In-process workers: the same scheduler/client path without minutes of process start-up.
    cluster = LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    with cluster:
        summary = calibrate.calibrate(
            scenario,
            tmp_path / "dask",
            populations=2,
            particles=30,
            scheduler=cluster.scheduler_address,
        )
    assert summary["populations"] == 2 and summary["particles"] == 30
    assert summary["simulations"] >= 60


def test_the_posterior_weights_are_smoothed_over_all_models_together():
    # two models; model b's particle 3 was proposed where its population was thin
    generator = np.random.default_rng(3)
    within = {"a": generator.lognormal(0.0, 0.3, 300), "b": generator.lognormal(0.0, 0.3, 300)}
    within["b"][3] = 400.0
    table = pd.DataFrame(
        {
            "model": ["a"] * 300 + ["b"] * 300,
            "incapacitation_form": "per_member",
            "model_probability": [0.5] * 300 + [0.5] * 300,
            "weight": np.concatenate([within["a"], within["b"]]),
            "saturation": 1e-8,
        }
    )
    smoothed = calibrate.smooth_weights(table)
    joint = smoothed[calibrate.SAMPLER_WEIGHT].to_numpy()
    assert joint.sum() == pytest.approx(1.0) and joint[303] == joint.max()
    assert joint[:300].sum() == pytest.approx(0.5), "the sampler's weights are kept"
    p = smoothed.groupby("model").model_probability.first()
    assert p.sum() == pytest.approx(1.0) and p["b"] < 0.5, "b's outlier was cut, and b with it"
    assert smoothed.groupby("model").weight.sum().to_numpy() == pytest.approx([1.0, 1.0])
    b = smoothed[smoothed.model == "b"].weight.to_numpy()
    assert b.max() / b.sum() < within["b"].max() / within["b"].sum()
    assert calibrate.meta_columns(smoothed).count(calibrate.SAMPLER_WEIGHT) == 1


def test_one_model_keeps_a_probability_of_at_most_1():
    # 0.1 added ten times is 0.9999999999999999 and other sums overshoot 1 by a rounding
    # error; the smoothed probability of a lone model must still read back as one
    for n in (12, 30, 40, 1000):  # sizes whose smoothed weights here sum to just above 1
        table = pd.DataFrame(
            {
                "incapacitation_form": "per_member",
                "model_probability": 1.0,
                "weight": np.random.default_rng(n).lognormal(0.0, 1.0, n),
                "saturation": 1e-8,
            }
        )
        assert calibrate.smooth_weights(table).model_probability.max() <= 1.0
