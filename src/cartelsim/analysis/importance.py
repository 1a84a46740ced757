"""How far the weights of a final ABC-SMC population can be trusted (the Pareto k-hat), and
the same weights with their tail smoothed (Pareto smoothed importance sampling).

Why: Kish's effective sample size says how many particles the weights are worth, but not
whether their weighted quantiles settle as particles are added. ABC-SMC weights are
importance ratios (prior over the kernel mixture), and when their upper tail is heavy a
single particle proposed where the previous population was thin can outweigh hundreds: in a
four-model `mexico` round at 1,000 particles one seed's disruption / boost model had 3
effective particles and put the members' medians 22-47 % above the other two seeds'. The
shape k of a generalized Pareto distribution fitted to the largest weights measures that
tail (Vehtari, Simpson, Gelman, Yao & Gabry 2024, "Pareto smoothed importance sampling",
JMLR 25(72)): below 0.5 the weights have finite variance; above 0.7 estimates from them are
unreliable whatever the sample size, and more of the same sampling does not help.

The fit is Zhang & Stephens' (2009, Technometrics 51(3):316-325) empirical Bayes estimate
of the generalized Pareto distribution, on the exceedances of the M = min(S/5, 3 sqrt S)
largest of S weights over the next one, shrunk towards 0.5 with a weak prior (10
pseudo-observations) as Vehtari et al. recommend for small tails.

Smoothing: between 0.5 and 0.7 the weights are usable but noisy, and their noise is in the
few largest. Pareto smoothed importance sampling (Vehtari et al. 2024, section 3) replaces the
M largest weights by the expected order statistics of the fitted generalized Pareto
distribution and caps every weight at the largest raw one: an estimate from them has less
variance and little bias while k-hat stays below 0.7. Measured on `mexico` (2026-12-03, three
seeds of 8,000 particles): one seed's particle proposed in the tail of the members' posterior
held 17 % of its model's weight and moved that model's median members at 2022 to 163,000,
against 120,000-134,000 in every model of the other seeds.
"""

from __future__ import annotations

import numpy as np


def tail_size(n: int) -> int:
    """How many of n weights form the tail that is fitted (Vehtari et al. 2024)."""
    return int(np.ceil(min(0.2 * n, 3.0 * np.sqrt(n))))


def generalized_pareto_shape(exceedances: np.ndarray) -> float:
    """Zhang & Stephens' estimate of the shape k of a generalized Pareto distribution
    (k > 0: a heavy tail) from positive exceedances over a threshold."""
    return generalized_pareto_fit(exceedances)[0]


def generalized_pareto_fit(exceedances: np.ndarray) -> tuple[float, float]:
    """Zhang & Stephens' estimates (k, sigma) of the shape and scale of a generalized Pareto
    distribution, F(x) = 1 - (1 + k x / sigma)^(-1/k), from positive exceedances."""
    x = np.sort(np.asarray(exceedances, dtype=float))
    n = len(x)
    grid = 30 + int(np.sqrt(n))
    quartile = x[max(int(n / 4 + 0.5) - 1, 0)]
    # candidate values of theta = -k / sigma, spread around the sample's scale
    theta = 1.0 / x[-1] + (1.0 - np.sqrt(grid / (np.arange(1, grid + 1) - 0.5))) / (3 * quartile)
    shape = np.array([np.mean(np.log1p(-t * x)) for t in theta])  # profile estimate of k
    log_likelihood = n * (np.log(-theta / shape) - shape - 1.0)
    with np.errstate(over="ignore"):  # a far less likely candidate weighs 0
        posterior = 1.0 / np.exp(log_likelihood[None, :] - log_likelihood[:, None]).sum(axis=1)
    theta_hat = float(np.sum(posterior * theta))
    k = float(np.mean(np.log1p(-theta_hat * x)))
    return k, -k / theta_hat


#: Vehtari et al.'s weakly informative prior on k: this many pseudo-observations at 0.5.
PRIOR_PSEUDO_OBSERVATIONS = 10.0


def _tail_fit(w: np.ndarray) -> tuple[float, float, float, np.ndarray] | None:
    """(k-hat, sigma, threshold, indices of the tail) of positive weights scaled to a largest
    of 1, or None where the tail is too short to fit (fewer than 5 distinct exceedances)."""
    m = tail_size(len(w))
    if m < 5:
        return None
    order = np.argsort(w, kind="stable")
    tail = order[-m:]
    threshold = w[order[-m - 1]]
    exceedances = w[tail] - threshold
    if np.count_nonzero(exceedances > 0) < 5:
        return None
    k, sigma = generalized_pareto_fit(exceedances[exceedances > 0])
    n = np.count_nonzero(exceedances > 0)
    k = (n * k + PRIOR_PSEUDO_OBSERVATIONS * 0.5) / (n + PRIOR_PSEUDO_OBSERVATIONS)
    return float(k), float(sigma), float(threshold), tail


def pareto_k(weights: np.ndarray) -> float:
    """The Pareto k-hat of a set of importance weights (any scale); NaN when there are too
    few distinct weights in the tail to fit (fewer than 5, or all equal)."""
    w = np.asarray(weights, dtype=float)
    w = w[w > 0]
    if len(w) == 0:
        return float("nan")
    fit = _tail_fit(w / w.max())
    return float("nan") if fit is None else fit[0]


def pareto_smoothed(weights: np.ndarray) -> np.ndarray:
    """The weights with their M largest replaced by the fitted generalized Pareto
    distribution's quantiles at (z - 1/2) / M, z = 1..M, and every weight capped at the
    largest raw one (Vehtari et al. 2024). Same length and order, summing to 1; zero weights
    stay zero. Returned unsmoothed (normalized) where the tail is too short to fit."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError("importance weights must be finite, non-negative and not all zero")
    positive = np.flatnonzero(w > 0)
    scaled = w[positive] / w[positive].max()
    fit = _tail_fit(scaled)
    if fit is not None:
        k, sigma, threshold, tail = fit
        p = (np.arange(len(tail)) + 0.5) / len(tail)
        if abs(k) < 1e-12:  # the exponential limit
            quantile = -sigma * np.log1p(-p)
        else:
            quantile = sigma * np.expm1(-k * np.log1p(-p)) / k
        scaled[tail] = np.minimum(threshold + quantile, 1.0)  # tail is in ascending order
    out = np.zeros_like(w)
    out[positive] = scaled
    return out / out.sum()
