"""The agent report's state table with its null baselines (issue 13 item 4)."""

from __future__ import annotations

import numpy as np
import pytest

import cartelsim
from cartelsim.report import agent_map


@pytest.fixture(scope="module")
def results():
    return cartelsim.run("mexico-2006-2012", runs=1, seed=0, engine="agents", scale=0.03)


def test_the_package_holds_state_homicides_up_to_2007_only():
    inegi = agent_map.inegi_state_homicides()
    assert sorted(inegi) == list(range(2000, 2008))
    assert all(len(per_state) == 32 for per_state in inegi.values())
    assert 8_000 < sum(inegi[2007].values()) < 9_500  # INEGI: 8,867 homicides in 2007


def test_every_comparison_has_the_three_baselines_for_counts_and_per_capita(results):
    rows = agent_map.baseline_rows(results)
    keys = {(r["year"], r["series"], r["measure"]) for r in rows}
    for measure in ("counts", "per capita"):
        assert (2007, "INEGI homicides", measure) in keys
        for paper in ("Milenio", "El Universal", "Reforma"):
            assert (2009, f"{paper} executions", measure) in keys
    for row in rows:
        for name in ("model", "territories", "persistence"):
            assert -1 <= row[f"{name}_rho"] <= 1 and 0 <= row[f"{name}_error"] <= 1
        assert row["persistence_year"] == (2006 if row["year"] == 2007 else 2007)
        if row["measure"] == "per capita":
            assert np.isnan(row["population_rho"])  # equal rates: no ranking
        else:
            assert -1 <= row["population_rho"] <= 1
    html = agent_map.baseline_section(results)
    assert "rho persistence" in html and "OSF.IO/U8DC3" in html


def test_later_state_data_a_user_gives_are_compared_with_persistence_as_the_bar(results, tmp_path):
    # the upstream file's layout ('|', cve_ent), with a 2008 that repeats 2007 doubled:
    # persistence of 2007 shares is then exact (rho 1, share error 0)
    inegi = agent_map.inegi_state_homicides()
    lines = ["cve_ent|year|month|homicides|pop_est|homicide_rate"]
    for year, per_state in [
        (2007, inegi[2007]),
        (2008, {k: 2 * v for k, v in inegi[2007].items()}),
    ]:
        for code, v in per_state.items():
            lines.append(f"{code}|{year}|1|{v:g}|1|1")
    path = tmp_path / "upstream.csv"
    path.write_text("\n".join(lines) + "\n")
    later = agent_map.inegi_state_homicides(path)
    assert later[2008][9] == 2 * inegi[2007][9]
    rows = [r for r in agent_map.baseline_rows(results, later) if r["year"] == 2008]
    assert {r["measure"] for r in rows} == {"counts", "per capita"}
    for row in rows:
        assert row["persistence_year"] == 2007
        assert row["persistence_rho"] == pytest.approx(1.0)
        assert row["persistence_error"] == pytest.approx(0.0, abs=1e-12)


def test_the_ranking_flags_states_far_from_the_tallys_share(results):
    """A state whose share of the simulated killings is over 3 times (or under a third of)
    its share of Milenio's 2009 tally is flagged in the ranking table (issue 14)."""
    rows, _ = agent_map.ranking_rows(results)
    flagged = [r for r in rows if r[-1]]
    for row in flagged:
        ratio = float(row[-1].split(" x ")[0])
        assert not 1 / agent_map.MISFIT_FACTOR <= ratio <= agent_map.MISFIT_FACTOR
    assert agent_map.section(results).count("<tr class='misfit'>") == len(flagged)
