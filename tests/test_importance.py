"""importance.pareto_k: the tail shape of importance weights, as Vehtari et al. define it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cartelsim.analysis.importance import generalized_pareto_shape, pareto_k


@pytest.mark.parametrize("shape", [0.2, 0.5, 0.9])
def test_the_shape_of_generalized_pareto_draws_is_recovered(shape):
    generator = np.random.default_rng(5)
    estimates = [
        generalized_pareto_shape(stats.genpareto.rvs(shape, size=2000, random_state=generator))
        for _ in range(5)
    ]
    assert np.mean(estimates) == pytest.approx(shape, abs=0.08)


def test_heavy_tailed_weights_score_above_light_ones():
    generator = np.random.default_rng(6)
    light = np.exp(generator.normal(0.0, 0.3, 1000))  # log-normal, small spread: k < 0.5
    heavy = generator.pareto(1 / 0.9, 1000) + 1.0  # Pareto tail with k = 0.9
    assert pareto_k(light) < 0.5 < 0.7 < pareto_k(heavy)
    assert pareto_k(heavy * 1e-12) == pytest.approx(pareto_k(heavy)), "any scale"


def test_too_few_or_equal_weights_give_nan():
    assert np.isnan(pareto_k(np.ones(100)))
    assert np.isnan(pareto_k(np.array([0.1, 0.5, 0.2])))
