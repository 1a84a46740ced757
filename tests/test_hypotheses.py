"""Competing model forms in a calibration (calibration.hypotheses) and their bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cartelsim.analysis import calibrate, claims
from cartelsim.scenario import ScenarioError, load_scenario, merge, validate


def _mexico_with(change: dict):
    base = load_scenario("mexico").model_dump(mode="python")
    return validate(merge(base, change), "variant.toml")


def test_every_combination_of_forms_is_a_model():
    problem = calibrate.setup("mexico")
    labels = [problem.label(m) for m in range(len(problem.forms))]
    forms = [(m, r) for m in ("suppression", "disruption") for r in ("none", "boost")]
    assert labels == [f"{m} / {r}" for m, r in forms]
    # a form's number fixes the parameter in that model; its prior frees it there
    assert problem.model_fixed[0] == {"deployment_disruption": 0.0, "leader_removal_effect": 0.0}
    assert "deployment_disruption" in problem.priors[2]
    assert "leader_removal_effect" in problem.priors[3]
    assert "deployment_disruption" not in problem.priors[1]
    # the fragment factors are free in every model (same rates is their point 1, 1)
    for priors in problem.priors:
        assert {"fragment_lethality_factor", "fragment_saturation_factor"} <= set(priors)


def test_two_forms_that_do_not_differ_are_refused():
    change = {
        "calibration": {
            "hypotheses": {
                "militarization": {
                    "suppression": {"deployment_disruption": 0.0},
                    "disruption": {"deployment_disruption": 0.0},
                }
            }
        }
    }
    with pytest.raises(
        ScenarioError,
        match=r"hypotheses\.militarization\.disruption: no parameter differs from form 'suppr",
    ):
        _mexico_with(change)


def test_a_form_naming_a_free_parameter_is_refused():
    change = {"calibration": {"hypotheses": {"leader_removal": {"none": {"cartel_share": 0.1}}}}}
    with pytest.raises(
        ScenarioError, match=r"leader_removal\.none\.cartel_share: also in calibration\.free"
    ):
        _mexico_with(change)


def test_a_prior_excluding_the_scenarios_own_value_is_refused():
    scenario = _mexico_with({"observation": {"cartel_share": {"value": 0.3}}})  # runs fine
    with pytest.raises(
        ScenarioError,
        match=r"cartel_share: its bounds \[0\.05, 0\.25\] exclude the scenario's own value 0\.3",
    ):
        calibrate.setup(scenario)


def test_a_target_with_no_data_in_the_period_is_refused():
    scenario = load_scenario("mexico-2006-2012").model_dump(mode="python")
    targets = scenario["calibration"]["targets"]
    targets[0] = {**targets[0], "first_year": 2015, "last_year": 2020}
    bad = validate(scenario, "short.toml")
    with pytest.raises(
        ValueError,
        match=r"calibration\.targets\[0\] \(inegi_homicides\): no data in the simulated period",
    ):
        calibrate.setup(bad)


def test_form_probabilities_sum_over_the_models_using_each_form():
    table = pd.DataFrame(
        {
            "model": ["a / x", "a / y", "b / x"],
            "incapacitation_form": ["per_member"] * 3,
            "militarization_form": ["a", "a", "b"],
            "leader_removal_form": ["x", "y", "x"],
            "model_probability": [0.5, 0.2, 0.3],
            "weight": [1.0, 1.0, 1.0],
            "recruitment_rate": [0.01, 0.02, 0.03],
        }
    )
    forms = calibrate.form_probabilities(table)
    assert forms["militarization"] == pytest.approx({"a": 0.7, "b": 0.3})
    assert forms["leader_removal"] == pytest.approx({"x": 0.8, "y": 0.2})
    sample = calibrate.posterior_sample_models(table, 1000, seed=0)
    counts = {model: len(values["recruitment_rate"]) for model, _, values in sample}
    assert counts["a / x"] == pytest.approx(500, abs=60)


def test_claims_become_probabilities():
    """'more than 100,000' is the share of runs above it; an input claim is not scored."""
    assert claims.probability("above", 100.0, np.array([50.0, 150.0, 250.0, 90.0])) == 0.5
    assert claims.probability("about", 100.0, np.array([80.0, 130.0, 100.0])) == pytest.approx(
        2 / 3
    )
    assert claims.kind_of("greater_than") == "above"
    assert claims.kind_of("approx") == "about"


def test_the_agent_engine_refuses_a_fragment_event_in_one_line():
    from cartelsim.engines import get

    with pytest.raises(ScenarioError, match=r"mexico\.toml: events\[\d+\]: a fragment event"):
        get("agents").prepare(load_scenario("mexico"), 0, 0, 1, None)


def test_the_budget_knows_the_agent_engines_splinter_slots():
    from cartelsim import budget
    from cartelsim.agents.settings import AgentSettings

    assert AgentSettings().parameters.max_new_groups.value == budget.DEFAULT_SPLINTER_SLOTS
