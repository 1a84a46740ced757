"""`compare --engine agents` (issue 13 item 5): base and policy paired with common random
numbers, each militarization form apart and averaged over the forms."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cartelsim import budget, cli
from cartelsim.analysis import compare
from cartelsim.scenario import load_scenario

START = "2007-03-01"


@pytest.fixture(scope="module")
def short_toml(tmp_path_factory):
    """mexico-2006-2012's first 30 weeks (its calibration's militarization forms included;
    loading drops the events after the end)."""
    path = tmp_path_factory.mktemp("scenarios") / "short.toml"
    path.write_text('name = "short"\nextends = "mexico-2006-2012"\n[simulation]\nweeks = 30\n')
    return path


@pytest.fixture
def short(short_toml):
    return load_scenario(str(short_toml))


def run(scenario, policies=("troop-surge",), **options):
    options = {"runs": 2, "scale": 0.05, "start": pd.Timestamp(START).date(), **options}
    return compare.compare_agents(scenario, list(policies), **options)


def test_a_policy_that_changes_nothing_changes_nothing_run_for_run(monkeypatch, short):
    # common random numbers: run i of the policy is seeded as run i of the base, with every
    # mechanism's stream the same, so a policy equal to the base gives 0 in every run
    monkeypatch.setattr(compare, "policy_scenario", lambda base, name, start: base)
    result = run(short)
    for form in ("suppression", "disruption"):
        change = result["policies"]["troop-surge"]["change_vs_base_pct_by_model"][form]
        for q in change.values():
            assert q == {"median": 0.0, "q05": 0.0, "q95": 0.0}


def test_each_militarization_form_and_their_average(short):
    scenario = compare.with_parameter(short, "deployment_disruption", 0.02)
    result = run(scenario)
    forms = result["forms"]
    assert forms["hypothesis"] == "militarization"
    assert forms["weights_from"] == "equal weights (no --posterior)"
    assert forms["forms"]["suppression"]["value"] == 0.0
    # the disruption form at the scenario's own value (inside the form's prior)
    own = scenario.parameters.deployment_disruption.value
    assert forms["forms"]["disruption"]["value"] == own
    assert result["model_weights"] == {"suppression": 0.5, "disruption": 0.5}
    policy = result["policies"]["troop-surge"]
    assert set(policy["change_vs_base_pct_by_model"]) == {"suppression", "disruption"}
    for key in compare.OUTCOMES:
        q = policy["change_vs_base_pct"][key]
        assert q["q05"] <= q["median"] <= q["q95"]
    assert "common random numbers" in result["interval"]
    assert result["simulations"] == 2 * 2 * 2
    text = compare.table(result)
    assert "under suppression (weight 0.50)" in text
    assert "under disruption (weight 0.50)" in text
    assert "equal weights" in text


def write_posterior(folder, probabilities=(0.3, 0.7), draws=10):
    rng = np.random.default_rng(0)
    rows = []
    for form, p in zip(("suppression", "disruption"), probabilities, strict=True):
        values = np.zeros(draws) if form == "suppression" else rng.uniform(0.05, 0.06, draws)
        rows.append(
            pd.DataFrame(
                {
                    "model": f"per_member / {form}",
                    "incapacitation_form": "per_member",
                    "militarization_form": form,
                    "model_probability": p,
                    "weight": np.full(draws, 1.0 / draws),
                    "deployment_disruption": values,
                }
            )
        )
    folder.mkdir()
    pd.concat(rows, ignore_index=True).to_parquet(folder / "posterior.parquet", index=False)
    return folder


def test_the_posterior_gives_the_weights_and_the_disruption_draws(tmp_path, short):
    folder = write_posterior(tmp_path / "abc")
    chosen = compare.agent_forms(short, None, folder, 6, 0)
    assert chosen["forms"]["suppression"]["weight"] == pytest.approx(0.3)
    assert chosen["forms"]["disruption"]["weight"] == pytest.approx(0.7)
    draws = chosen["forms"]["disruption"]["values"]
    assert len(draws) == 6 and np.all((draws >= 0.05) & (draws <= 0.06))
    assert np.all(chosen["forms"]["suppression"]["values"] == 0)
    assert "posterior's form probabilities" in chosen["weights_from"]


def test_the_prior_median_when_the_scenario_has_no_value_of_its_own(short):
    scenario = compare.with_parameter(short, "deployment_disruption", 0.0)
    chosen = compare.agent_forms(scenario, "militarization", None, 3, 0)
    # log-uniform 0.01-0.5: the geometric mean
    assert chosen["forms"]["disruption"]["value"] == pytest.approx(np.sqrt(0.01 * 0.5))
    assert "prior's median" in chosen["forms"]["disruption"]["value_from"]


def test_refusals():
    with pytest.raises(budget.BudgetError, match="agent runs"):
        run(load_scenario("mexico-2006-2012"), runs=10**6, scale=1.0)
    with pytest.raises(ValueError, match="no \\[calibration.hypotheses.militarization\\]"):
        compare.agent_forms(load_scenario("pc2023"), "militarization", None, 2, 0)


def test_cli(tmp_path, capsys, short_toml):
    base = short_toml
    out = tmp_path / "cmp"
    code = cli.main(
        ["compare", str(base), "--engine", "agents", "--scale", "0.02", "--runs", "1",
         "--policy", "troop-surge", "--start", START, "--out", str(out), "--json"]
    )  # fmt: skip
    assert code == 0
    result = json.loads((out / "compare.json").read_text())
    assert result["engine"] == "agents" and result["runs"] == 1
    assert set(result["model_weights"]) == {"suppression", "disruption"}
    assert (out / "compare.png").is_file()
    assert cli.main(["compare", str(base), "--scale", "0.1", "--policy", "troop-surge"]) != 0
    assert "--scale: only with --engine agents" in capsys.readouterr().err
