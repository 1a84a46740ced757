"""abc_parts: the cheaper prior density and kernel draw give pyabc's own numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyabc
import pytest

from cartelsim.analysis import calibrate
from cartelsim.analysis.abc_parts import BoxPrior, CholeskyNormalTransition
from cartelsim.scenario import Prior


def priors() -> dict[str, Prior]:
    return {
        "recruitment_rate": Prior(distribution="log_uniform", low=1e-3, high=3e-2),
        "cartel_share": Prior(distribution="uniform", low=0.05, high=0.25),
    }


def test_the_box_density_is_pyabcs_product_of_marginals_inside_on_and_outside_the_box():
    box = calibrate.pyabc_prior(priors())
    assert isinstance(box, BoxPrior) and box.box is not None
    plain = pyabc.Distribution(**dict(box.items()))
    low, high = np.log10(1e-3), np.log10(3e-2)
    points = [
        (-2.0, 0.1),  # inside
        (low, 0.05),  # on the lower corner: scipy's uniform is closed there
        (high, 0.25),  # and on the upper one
        (low - 1e-9, 0.1),  # just outside in the log parameter
        (-2.0, 0.2500001),  # just outside in the natural one
    ]
    for log_rate, share in points:
        x = pyabc.Parameter({"log10_recruitment_rate": log_rate, "cartel_share": share})
        assert box.pdf(x) == pytest.approx(plain.pdf(x), rel=1e-12)
    assert box.pdf(pyabc.Parameter({"log10_recruitment_rate": -2.0, "cartel_share": 0.3})) == 0
    assert isinstance(box.copy(), BoxPrior) and box.copy().box == box.box


def test_a_prior_that_is_not_flat_falls_back_to_pyabcs_density():
    mixed = {**priors(), "x": Prior(distribution="normal", mean=1.0, sd=0.5)}
    prior = calibrate.pyabc_prior(mixed)
    assert prior.box is None
    x = pyabc.Parameter({"log10_recruitment_rate": -2.0, "cartel_share": 0.1, "x": 1.2})
    assert prior.pdf(x) == pytest.approx(pyabc.Distribution(**dict(prior.items())).pdf(x))


def fitted(transition, seed=3):
    generator = np.random.default_rng(seed)
    covariance = [[1, 0.6, 0], [0.6, 2, 0.3], [0, 0.3, 1]]
    sample = generator.multivariate_normal([0.0, 1.0, -2.0], covariance, 400)
    X = pd.DataFrame(sample, columns=["a", "b", "c"])
    w = generator.uniform(0.2, 1.0, len(X))
    transition.fit(X, w / w.sum())
    return transition


def test_cholesky_draws_have_the_kernels_mean_and_covariance():
    """The draw is a weighted resample plus N(0, cov): over many draws the mean is the
    weighted mean of the particles and the covariance is the particles' plus the kernel's."""
    kernel = fitted(CholeskyNormalTransition(scaling=2.0))
    np.random.seed(11)
    draws = pd.DataFrame([kernel.rvs_single() for _ in range(40_000)])[["a", "b", "c"]]
    X, w = kernel._X_arr, kernel.w
    mean = w @ X
    spread = (X - mean).T @ ((X - mean) * w[:, None]) + kernel.cov
    assert draws.mean().to_numpy() == pytest.approx(mean, abs=0.03)
    assert np.cov(draws.to_numpy().T) == pytest.approx(spread, abs=0.06)
    # the density is pyabc's, untouched
    reference = fitted(pyabc.transition.MultivariateNormalTransition(scaling=2.0))
    point = pyabc.Parameter({"a": 0.1, "b": 0.9, "c": -1.5})
    assert kernel.pdf(point) == pytest.approx(reference.pdf(point), rel=1e-12)


def test_a_singular_covariance_falls_back_to_pyabcs_draw():
    X = pd.DataFrame({"a": [1.0, 1.0, 1.0], "b": [2.0, 2.0, 2.0]})
    kernel = CholeskyNormalTransition()
    kernel.fit(X, np.full(3, 1 / 3))
    assert kernel._factor is None
    draw = kernel.rvs_single()
    assert set(draw) == {"a", "b"}
