"""importance: the tail shape of importance weights (pareto_k) and the weights with the tail
smoothed (pareto_smoothed), as Vehtari et al. define them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cartelsim.analysis.importance import (
    generalized_pareto_fit,
    generalized_pareto_shape,
    pareto_k,
    pareto_smoothed,
    tail_size,
)


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


def test_the_scale_of_generalized_pareto_draws_is_recovered():
    draws = stats.genpareto.rvs(0.4, scale=3.0, size=20000, random_state=np.random.default_rng(8))
    k, sigma = generalized_pareto_fit(draws)
    assert k == pytest.approx(0.4, abs=0.04) and sigma == pytest.approx(3.0, rel=0.05)


def _normal_importance_weights(generator, n, proposal_sd):
    """Draws from N(0, proposal_sd^2) and their weights for the target N(0, 1): k near
    1 - proposal_sd^2 (heavy for a narrow proposal)."""
    x = generator.normal(0.0, proposal_sd, n)
    return x, stats.norm.pdf(x) / stats.norm.pdf(x, scale=proposal_sd)


def test_smoothing_cuts_the_error_of_an_estimate_from_heavy_tailed_weights():
    # E[x^2] = 1 under the target, estimated from 2,000 draws of a proposal too narrow
    # for it (k-hat 0.5-0.7): the smoothed weights' error is smaller (Vehtari et al. 2024)
    generator = np.random.default_rng(11)
    raw, smooth, ks = [], [], []
    for _ in range(300):
        x, w = _normal_importance_weights(generator, 2000, 0.62)
        raw.append(np.sum(w * x**2) / np.sum(w))
        smooth.append(np.sum(pareto_smoothed(w) * x**2))
        ks.append(pareto_k(w))
    assert 0.5 < np.median(ks) < 0.7
    rmse = [float(np.sqrt(np.mean((np.array(e) - 1.0) ** 2))) for e in (raw, smooth)]
    assert rmse[1] < 0.8 * rmse[0]


def test_smoothing_keeps_the_order_caps_at_the_largest_and_changes_only_the_tail():
    x, w = _normal_importance_weights(np.random.default_rng(12), 3000, 0.6)
    w = np.append(w, [0.0, 0.0])
    smooth = pareto_smoothed(w)
    assert smooth.shape == w.shape and smooth.sum() == pytest.approx(1.0)
    assert np.all(smooth[-2:] == 0.0), "a zero weight stays zero"
    order = np.argsort(w, kind="stable")
    assert np.all(np.diff(smooth[order]) >= -1e-15), "the ranking of the particles is kept"
    tail = order[-tail_size(3000) :]
    body = np.setdiff1d(np.flatnonzero(w > 0), tail)
    ratio = smooth[body] / w[body]
    assert np.allclose(ratio, ratio[0]), "below the tail, weights are only renormalized"
    assert not np.allclose(smooth[tail] / w[tail], ratio[0]), "the tail moved"
    assert (smooth / ratio[0]).max() <= w.max() * (1 + 1e-12), "capped at the largest raw"


def test_light_tails_barely_move_and_short_ones_are_only_normalized():
    x, light = _normal_importance_weights(np.random.default_rng(13), 4000, 1.3)  # k < 0
    smooth = pareto_smoothed(light)
    ess = [1.0 / np.sum(np.square(v / v.sum())) for v in (light, smooth)]
    assert ess[1] == pytest.approx(ess[0], rel=0.01)
    assert np.sum(smooth * x**2) == pytest.approx(np.sum(light * x**2) / light.sum(), rel=0.01)
    few = np.array([1.0, 3.0, 2.0])
    assert np.allclose(pareto_smoothed(few), few / few.sum())


@pytest.mark.parametrize("bad", [[], [0.0, 0.0], [1.0, -1.0], [1.0, np.nan], [[1.0]]])
def test_weights_that_are_not_weights_are_refused(bad):
    with pytest.raises(ValueError, match="importance weights"):
        pareto_smoothed(np.array(bad, dtype=float))
