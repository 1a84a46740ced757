"""The agent engine's starting geography (issue 13 item 1) and the Ciudad Juarez region
(item 2): sources dated before the start, weights made by scripts/geography.py, the
`states-juarez` table and the Juarez comparison in the summary and the report."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

import cartelsim
from cartelsim import budget
from cartelsim.agents.regions import load_regions
from cartelsim.datasets import PACKAGE_DATA, fact_rows
from cartelsim.region_table import check_region_table
from cartelsim.report import agent_map

ROOT = Path(__file__).resolve().parents[1]
START = dt.date(2007, 1, 1)
TERRITORY_FILES = ("mexico_state_territories.csv", "mexico_regions_juarez_territories.csv")


def _script():
    spec = importlib.util.spec_from_file_location("geography", ROOT / "scripts" / "geography.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("file", (*TERRITORY_FILES, "mexico_group_presence_2006.csv"))
def test_every_territory_row_has_a_source_dated_before_2007(file):
    rows = fact_rows(file)
    assert rows
    for row in rows:
        assert row["source"].strip() and row["status"].strip()
        assert dt.date.fromisoformat(row["date"]) < START, row
        assert row["date"] in row["source"]  # the date is the cited document's


def test_the_weights_are_what_the_script_computes():
    for path, text in _script().outputs(ROOT).items():
        written = (ROOT / path).read_text(encoding="utf-8")
        assert written == text, f"{path}: out of date, run python scripts/geography.py"


def test_the_rule_is_presence_level_times_homicides_2000_2006():
    inegi = agent_map.inegi_state_homicides()
    before = {code: sum(inegi[y].get(code, 0.0) for y in range(2000, 2007)) for code in inegi[2006]}
    presence = {
        (r["group"], int(r["region"])): r for r in fact_rows("mexico_group_presence_2006.csv")
    }
    for row in fact_rows(TERRITORY_FILES[0]):
        p = presence[(row["group"], int(row["region"]))]
        h = before[int(row["region"])]
        if p["part"]:  # one part of Chihuahua: its share of the state's population
            share = 1_512_450 / 3_741_869
            h *= share if p["part"] == "juarez" else 1 - share
        assert float(row["weight"]) == pytest.approx(float(p["level"]) * h, abs=0.05)


def test_no_weight_depends_on_2007_or_later(tmp_path):
    """The script reads 2000-2006 only: changing the file's 2007 rows changes nothing."""
    script = _script()
    root = tmp_path / "repo"
    for path in (script.PRESENCE, script.STATES, script.DEPLOYMENTS, script.INEGI):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, root / path)
    text = (root / script.INEGI).read_text(encoding="utf-8").splitlines()
    rows = list(csv.DictReader(text))
    with open(root / script.INEGI, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            if row["year"] == "2007" and row["homicides"]:
                row["homicides"] = str(100 * float(row["homicides"]))
            writer.writerow(row)
    assert script.outputs(root) == script.outputs(ROOT)


def test_the_juarez_table_splits_chihuahua():
    states, juarez = load_regions("states"), load_regions("states-juarez")
    check_region_table("states-juarez")
    assert juarez.n == states.n + 1 and juarez.label == "states-juarez"
    k, rest = juarez.position(33), juarez.position(8)
    assert juarez.names[k] == "Ciudad Juárez" and juarez.abbr[k] == "CJS"
    assert juarez.population[k] == 1_512_450
    assert juarez.population[k] + juarez.population[rest] == states.population[states.position(8)]
    assert juarez.population.sum() == states.population.sum()
    assert juarez.crossings[k] == 1 and juarez.crossings.sum() == states.crossings.sum()
    assert juarez.ids[juarez.neighbours(k)].tolist() == [8]
    assert 33 in juarez.ids[juarez.neighbours(rest)].tolist()
    assert tuple(juarez.grid[k]) not in {tuple(g) for j, g in enumerate(juarez.grid) if j != k}
    for r in range(states.n):  # every other state as in the states table
        if states.ids[r] != 8:
            j = juarez.position(int(states.ids[r]))
            assert juarez.population[j] == states.population[r]
    scenario = cartelsim.load_scenario("mexico-2006-2012")
    estimate = budget.agent_estimate(scenario, 0.1, "states-juarez")
    assert "33 regions" in estimate.basis


def test_the_juarez_deployments_keep_the_other_states_rows():
    states = [r for r in fact_rows("mexico_state_deployments.csv") if r["region"] != "8"]
    juarez = fact_rows("mexico_regions_juarez_deployments.csv")
    assert [r for r in juarez if r["region"] not in ("8", "33")] == states
    surge = [r for r in juarez if r["date"] == "2009-03-17" and r["region"] == "33"]
    assert surge and float(surge[0]["troops"]) == 8500 and float(surge[0]["federal_police"]) == 2300


@pytest.fixture(scope="module")
def juarez_run():
    return cartelsim.run(
        "mexico-2006-2012", runs=1, seed=0, engine="agents", scale=0.03, regions="states-juarez"
    )


def test_the_juarez_comparison_is_in_the_summary_and_the_report(juarez_run):
    summary = juarez_run.summary()
    juarez = summary["juarez"]
    observed = {int(r["year"]): float(r["value"]) for r in fact_rows("mexico_yearly.csv")
                if r["series"] == "juarez_homicides"}  # fmt: skip
    assert [r["year"] for r in juarez["rows"]] == sorted(observed)
    first = juarez["rows"][0]
    assert first["year"] == 2007 and first["baseline_share_of_nation"] == pytest.approx(300.0)
    for row in juarez["rows"]:
        assert row["observed"] == observed[row["year"]] and row["model"] >= 0
        assert row["model_error"] == pytest.approx(row["model"] / row["observed"] - 1)
    assert set(juarez["mean_abs_log_error"]) == {
        "model", "baseline_share_of_nation", "baseline_share_of_model_nation",
        "baseline_share_of_model_chihuahua",
    }  # fmt: skip
    html = agent_map.section(juarez_run)
    assert "Ciudad Juárez: homicides" in html and "Ranking of states" in html


def test_the_state_table_folds_juarez_into_chihuahua(juarez_run):
    rows = agent_map.baseline_rows(juarez_run)
    assert {(r["year"], r["series"]) for r in rows} >= {(2007, "INEGI homicides")}
    assert all(r["states"] == 32 or r["series"] != "INEGI homicides" for r in rows)
    for row in rows:
        assert -1 <= row["model_rho"] <= 1 and 0 <= row["model_error"] <= 1


def test_a_states_run_has_no_juarez_comparison():
    results = cartelsim.run("mexico-2006-2012", runs=1, seed=0, engine="agents", scale=0.02)
    assert "juarez" not in results.summary()
    assert agent_map.juarez_section(results) == ""
    assert np.isfinite(results.extra.regions.population).all()
    assert (PACKAGE_DATA / "facts" / "mexico_regions_juarez.csv").is_file()
