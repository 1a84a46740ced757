"""The stochastic mode's samplers (integrators.py) against numpy's: the same laws.

The stochastic kernel draws from its own generator (xoshiro256+, one stream per run) with
its own exact samplers: Poisson and binomial by inversion, vectorized over the runs of a
block, where the mean is small, else Hormann's PTRS and BTRS rejection samplers, and the
split of a group's exits among their causes by one categorical draw per leaver or by
sequential binomials. Each test draws many variates from one of them and from numpy's
Generator for the same law and compares the two samples by a chi-square test of
homogeneity (adjacent values pooled until every bin holds at least 20 draws). The seeds
are fixed, so the tests are deterministic; a p-value below 1e-4 fails.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy.stats import chi2_contingency

from cartelsim import integrators
from cartelsim.trajectories import FLOWS

DRAWS = 40_000
P_MIN = 1e-4


def _pooled_counts(a: np.ndarray, b: np.ndarray, least: int = 20) -> np.ndarray:
    """(2, bins) counts of the values of a and b, adjacent values pooled so that every bin
    holds at least `least` draws of the two samples together."""
    lo, hi = int(min(a.min(), b.min())), int(max(a.max(), b.max()))
    ca = np.bincount((a - lo).astype(np.int64), minlength=hi - lo + 1)
    cb = np.bincount((b - lo).astype(np.int64), minlength=hi - lo + 1)
    bins, current = [], np.zeros(2, dtype=np.int64)
    for x, y in zip(ca, cb, strict=True):
        current += (x, y)
        if current.sum() >= least:
            bins.append(current)
            current = np.zeros(2, dtype=np.int64)
    if current.sum():
        if bins:
            bins[-1] = bins[-1] + current
        else:
            bins.append(current)
    return np.array(bins).T


def assert_same_law(ours: np.ndarray, numpy_draws: np.ndarray) -> None:
    assert np.all(ours == np.round(ours)) and ours.min() >= 0
    counts = _pooled_counts(ours, numpy_draws)
    if counts.shape[1] < 2:  # a single value (a degenerate law): identical samples
        assert np.array_equal(np.unique(ours), np.unique(numpy_draws))
        return
    p = chi2_contingency(counts)[1]
    assert p > P_MIN, (p, ours.mean(), numpy_draws.mean())


@numba.njit
def _scalar_poisson(seed, lam, draws):
    s = integrators.rng_state(seed)
    out = np.empty(draws)
    for d in range(draws):
        out[d] = integrators.poisson(s, lam)
    return out


@numba.njit
def _scalar_binomial(seed, n, p, draws):
    s = integrators.rng_state(seed)
    out = np.empty(draws)
    for d in range(draws):
        out[d] = integrators.binomial(s, n, p)
    return out


@numba.njit
def _group_weeks(seeds, x, expected):
    """_draw_group_week for one group, len(seeds) runs (one draw each): the week's flows
    (5, runs) and the members after it."""
    runs = seeds.shape[0]
    S = np.empty((4, runs), dtype=np.uint64)
    for r in range(runs):
        S[:, r] = integrators.rng_state(seeds[r])
    members = np.full((1, runs), x)
    by_group = np.empty((len(FLOWS), 1, runs))
    for f in range(len(FLOWS)):
        by_group[f, 0, :] = expected[f]
    flows = np.zeros((len(FLOWS), runs))
    scratch = np.empty((integrators._SCRATCH_ROWS, runs))
    bits = np.empty(runs, dtype=np.uint64)
    integrators._draw_group_week(S, members[0], by_group, 0, flows, scratch, bits)
    return flows, members[0]


@pytest.mark.parametrize("lam", [0.05, 0.7, 2.0, 9.9, 10.0, 37.5, 2500.0])
def test_poisson_sampler(lam):
    """Inversion below a mean of 10, PTRS above, against numpy's Poisson."""
    ours = _scalar_poisson(11, lam, DRAWS)
    assert_same_law(ours, np.random.default_rng(1).poisson(lam, DRAWS))


@pytest.mark.parametrize(
    "n,p",
    [(300.0, 0.004), (40.0, 0.3), (1000.0, 0.2), (30.0, 0.9), (1.0, 0.5), (250_000.0, 0.37)],
)
def test_binomial_sampler(n, p):
    """Inversion below a mean of 30, BTRS above, p > 1/2 by symmetry, against numpy's."""
    ours = _scalar_binomial(12, n, p, DRAWS)
    assert_same_law(ours, np.random.default_rng(2).binomial(int(n), p, DRAWS))


# (members, expected flows in FLOWS order): small groups (every draw vectorized), a large
# one (PTRS, BTRS, the split by sequential binomials), no exits, and no members at all.
GROUP_WEEKS = [
    (276.0, (0.7, 0.25, 0.0, 0.17, 0.08)),
    (1300.0, (3.3, 0.6, 0.2, 1.9, 1.0)),
    (28_000.0, (70.0, 12.0, 0.0, 35.0, 90.0)),
    (150.0, (9.5, 0.0, 0.0, 0.0, 0.0)),
    (0.0, (0.0, 0.0, 0.0, 0.0, 0.0)),
]


@pytest.mark.parametrize("x,expected", GROUP_WEEKS)
def test_a_group_week_draws_poisson_recruits_and_multinomial_exits(x, expected):
    """The stochastic kernel's draw of one group's week, over DRAWS runs, against numpy:
    recruits ~ Poisson, exits ~ Binomial(x, 1 - exp(-h)), h the exit rate per member, split
    among the causes by a multinomial law with their expected sizes as weights."""
    expected = np.array(expected)
    seeds = np.arange(DRAWS, dtype=np.uint32) + 7
    flows, after = _group_weeks(seeds, x, expected)
    rng = np.random.default_rng(3)
    recruits = rng.poisson(expected[0], DRAWS)
    rate = expected[1:].sum()
    exits = rng.binomial(int(x), -math.expm1(-rate / x) if x > 0 else 0.0, DRAWS)
    weights = expected[1:] / rate if rate > 0 else np.array([1.0, 0.0, 0.0, 0.0])
    causes = np.array([rng.multinomial(e, weights) for e in exits])
    assert_same_law(flows[0], recruits)
    assert_same_law(flows[1:].sum(axis=0), exits)
    for c in range(4):
        assert_same_law(flows[1 + c], causes[:, c])
        if expected[1 + c] == 0.0:
            assert not flows[1 + c].any()
    np.testing.assert_array_equal(after, x + flows[0] - flows[1:].sum(axis=0))


def test_each_run_draws_from_its_own_stream():
    """A run's draws depend on its seed only, not on the other runs of the block."""
    x, expected = GROUP_WEEKS[1]
    seeds = np.arange(200, dtype=np.uint32)
    together, _ = _group_weeks(seeds, x, np.array(expected))
    alone, _ = _group_weeks(seeds[50:51], x, np.array(expected))
    np.testing.assert_array_equal(together[:, 50], alone[:, 0])


def test_the_vectorized_exponential_matches_math_exp():
    y = np.concatenate([np.linspace(0.0, 40.0, 100_001), np.geomspace(1e-12, 700.0, 10_001)])
    out = np.empty_like(y)
    integrators._exp_neg(y, out, np.empty(y.size, dtype=np.uint64))
    exact = np.exp(-y)
    assert np.max(np.abs(out - exact) / exact) < 4 * np.finfo(float).eps
