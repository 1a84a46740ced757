"""The aggregate engine: group-level, weekly, vectorized over an ensemble of runs.

For groups i with members C_i, N = sum_i C_i, every flow is a rate per week (PC2023 plus a
state-forces term; all parameters are per-run scalars times per-week policy multipliers):

    recruits        rho * g_i * C_i                    g_i: the group's recruitment multiplier
    incapacitated   eta * C_i / N   (fixed_count)      or  mu * C_i  (per_member)
                    + a * F(t) * C_i                   arrests by F(t) deployed forces
    state kills     k * F(t) * C_i                     members killed in clashes with the state
    conflict deaths theta * C_i * sum_j K_ij(t) C_j    cartel against cartel
    saturation      omega * C_i^2

    dC_i/dt = recruits - incapacitated - state kills - conflict deaths - saturation

K(t) comes from the network epoch in force (see plan.Epoch). Deterministic mode integrates
the ODE with a fixed weekly step (classic RK4 by default, which agrees with LSODA to 1e-9
relative on PC2023; "euler" gives the weekly difference equation). Stochastic mode draws each
week's recruits from a Poisson law and exits from a binomial law split among their causes.

Arrays are (groups, runs) so the inner loop runs over the ensemble, contiguous in memory; the
Numba kernels hold the only loops over groups and runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from cartelsim.plan import ADD, MOVE, Plan
from cartelsim.rng import run_seeds

#: Weekly national flows recorded for every run, in this order.
FLOWS = ("recruits", "incapacitated", "state_kills", "conflict_deaths", "saturation")
#: Runs simulated together in one kernel call; also the unit of progress reporting.
BLOCK = 64


@dataclass(frozen=True)
class Trajectories:
    """Raw engine output for an ensemble.

    members: (weeks + 1, groups, runs) stock at the start of each week (and the end).
    flows: (weeks, len(FLOWS), runs) national totals during each week.
    params: (P, runs) the parameter values each run used.
    """

    members: np.ndarray
    flows: np.ndarray
    params: np.ndarray


def simulate(
    plan: Plan,
    runs: int = 1,
    seed: int = 0,
    params: np.ndarray | None = None,
    initial: np.ndarray | None = None,
    progress=None,
) -> Trajectories:
    """Run an ensemble. `params` (P, runs) overrides the scenario's values run by run;
    `initial` (groups, runs) overrides the start state. Results for run r depend only on the
    scenario, `seed`, r and that run's parameters, never on how many runs go together."""
    if params is None:
        params = np.repeat(plan.params[:, None], runs, axis=1)
    if initial is None:
        initial = np.repeat(plan.initial[:, None], runs, axis=1)
    seeds = run_seeds(seed, runs)
    members = np.empty((plan.weeks + 1, plan.n_groups, runs))
    flows = np.empty((plan.weeks, len(FLOWS), runs))
    network = _network_arrays(plan)
    stochastic = plan.scenario.simulation.mode == "stochastic"
    rk4 = plan.scenario.simulation.integrator == "rk4"
    for lo in range(0, runs, BLOCK):
        hi = min(lo + BLOCK, runs)
        block_params = np.ascontiguousarray(params[:, lo:hi], dtype=float)
        block_start = np.ascontiguousarray(initial[:, lo:hi], dtype=float)
        if stochastic:
            _stochastic(
                block_start, plan.zipf_initial, seeds[lo:hi], block_params, *_common(plan),
                *network, members[:, :, lo:hi], flows[:, :, lo:hi],
            )
        else:
            m, f = members[:, :, lo:hi], flows[:, :, lo:hi]
            out_m, out_f = np.empty(m.shape), np.empty(f.shape)
            _deterministic(block_start, rk4, block_params, *_common(plan), *network, out_m, out_f)
            m[...], f[...] = out_m, out_f
        if progress is not None:
            progress(hi - lo)
    return Trajectories(members, flows, params)


def _common(plan: Plan) -> tuple:
    return (
        plan.fixed_count,
        np.ascontiguousarray(plan.multipliers),
        np.ascontiguousarray(plan.forces),
        np.ascontiguousarray(plan.recruitment_multiplier, dtype=float),
        np.ascontiguousarray(plan.transfers),
    )


def _network_arrays(plan: Plan) -> tuple:
    """Epochs as flat arrays: week each starts, 1/(A+1), boosts and E in CSR form."""
    n = plan.n_groups
    starts = np.array([e.start for e in plan.epochs], dtype=np.int64)
    epoch_of_week = np.searchsorted(starts, np.arange(plan.weeks), side="right") - 1
    inv_alliance = np.array([e.inv_alliance for e in plan.epochs])
    boost = np.array([e.boost for e in plan.epochs])
    indptr = np.zeros((len(plan.epochs), n + 1), dtype=np.int64)
    indices, data = [], []
    for k, epoch in enumerate(plan.epochs):
        rows, cols = np.nonzero(epoch.excess)
        indptr[k, 1:] = np.cumsum(np.bincount(rows, minlength=n)) + len(indices)
        indptr[k, 0] = len(indices)
        indices.extend(cols.tolist())
        data.extend(epoch.excess[rows, cols].tolist())
    return (
        epoch_of_week.astype(np.int64),
        inv_alliance,
        boost,
        indptr,
        np.array(indices, dtype=np.int64),
        np.array(data, dtype=float),
    )


@numba.njit(cache=True)
def _rates(X, eff, fixed_count, forces, g, inv_a, boost, indptr, indices, data, comp, N, Y, EY):
    """Expected flows this week for state X (groups, runs), written to comp (5, groups, runs).

    eff: (P, runs) parameters in force this week. comp order is FLOWS.
    """
    n, runs = X.shape
    N[:] = 0.0
    Y[:] = 0.0
    for i in range(n):
        for r in range(runs):
            N[r] += X[i, r]
            Y[r] += boost[i] * X[i, r]
    for i in range(n):
        EY[:] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            w = data[k] * boost[j]
            for r in range(runs):
                EY[r] += w * X[j, r]
        lethality = inv_a[i] * boost[i]
        for r in range(runs):
            x = X[i, r]
            if fixed_count:
                incap = eff[1, r] * x / N[r] if N[r] > 0.0 else 0.0
            else:
                incap = eff[1, r] * x
            comp[0, i, r] = eff[0, r] * g[i] * x
            comp[1, i, r] = incap + eff[4, r] * forces * x
            comp[2, i, r] = eff[5, r] * forces * x
            comp[3, i, r] = eff[2, r] * lethality * x * (EY[r] + Y[r] - boost[i] * x)
            comp[4, i, r] = eff[3, r] * x * x


@numba.njit(cache=True)
def _transfers(X, week, transfers, stochastic):
    """Member moves (splits, mergers) and new groups scheduled at the start of `week`."""
    for k in range(transfers.shape[0]):
        if int(transfers[k, 0]) != week:
            continue
        src, dst, amount = int(transfers[k, 2]), int(transfers[k, 3]), transfers[k, 4]
        for r in range(X.shape[1]):
            if int(transfers[k, 1]) == MOVE:
                moved = X[src, r] * amount
                if stochastic:
                    moved = float(np.random.binomial(int(X[src, r]), amount))
                X[src, r] -= moved
                X[dst, r] += moved
            elif int(transfers[k, 1]) == ADD:
                X[dst, r] += np.round(amount) if stochastic else amount


@numba.njit(cache=True)
def _deterministic(
    X0, rk4, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, boost, indptr, indices, data, members, flows,
):  # fmt: skip
    n, runs = X0.shape
    X = X0.copy()
    stage, acc = np.empty_like(X), np.empty_like(X)
    comp = np.empty((5, n, runs))
    eff = np.empty_like(params)
    N, Y, EY = np.empty(runs), np.empty(runs), np.empty(runs)
    weights = np.array([1.0, 2.0, 2.0, 1.0]) / 6.0 if rk4 else np.array([1.0])
    steps = np.array([0.5, 0.5, 1.0])
    for week in range(mult.shape[0]):
        _transfers(X, week, transfers, False)
        members[week] = X
        e = epoch_of_week[week]
        for p in range(params.shape[0]):
            eff[p] = params[p] * mult[week, p]
        ptr = indptr[e]
        flows[week] = 0.0
        acc[:] = 0.0
        stage[:] = X
        for s in range(weights.shape[0]):
            _rates(stage, eff, fixed_count, forces[week], g, inv_a[e], boost[e], ptr,
                   indices, data, comp, N, Y, EY)  # fmt: skip
            for i in range(n):
                for r in range(runs):
                    d = comp[0, i, r] - comp[1, i, r] - comp[2, i, r] - comp[3, i, r]
                    d -= comp[4, i, r]
                    acc[i, r] += weights[s] * d
                    if s < weights.shape[0] - 1:
                        stage[i, r] = X[i, r] + steps[s] * d
            for c in range(5):
                for i in range(n):
                    for r in range(runs):
                        flows[week, c, r] += weights[s] * comp[c, i, r]
        X += acc
    members[mult.shape[0]] = X


@numba.njit(cache=True)
def _stochastic(
    X0, zipf_initial, seeds, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, boost, indptr, indices, data, members, flows,
):  # fmt: skip
    n, runs = X0.shape
    comp = np.empty((5, n, 1))
    eff = np.empty((params.shape[0], 1))
    N, Y, EY = np.empty(1), np.empty(1), np.empty(1)
    for r in range(runs):
        np.random.seed(seeds[r])
        X = np.empty((n, 1))
        for i in range(n):
            X[i, 0] = float(np.random.poisson(X0[i, r])) if zipf_initial else np.round(X0[i, r])
        for week in range(mult.shape[0]):
            _transfers(X, week, transfers, True)
            members[week, :, r] = X[:, 0]
            e = epoch_of_week[week]
            for p in range(params.shape[0]):
                eff[p, 0] = params[p, r] * mult[week, p]
            _rates(X, eff, fixed_count, forces[week], g, inv_a[e], boost[e], indptr[e],
                   indices, data, comp, N, Y, EY)  # fmt: skip
            flows[week, :, r] = 0.0
            for i in range(n):
                X[i, 0] += _draw_group_week(X[i, 0], comp[:, i, 0], flows[week, :, r])
        members[mult.shape[0], :, r] = X[:, 0]


@numba.njit(cache=True)
def _draw_group_week(x, expected, flows):
    """One group's week in stochastic mode; adds to `flows`, returns the change in members.

    Recruits ~ Poisson(expected recruits). Each member leaves with probability
    1 - exp(-h), h = total exit rate per member; the leavers are split among the causes in
    proportion to their expected sizes (sequential binomials).
    """
    recruits = float(np.random.poisson(expected[0]))
    flows[0] += recruits
    exit_rate = expected[1] + expected[2] + expected[3] + expected[4]
    if x <= 0.0 or exit_rate <= 0.0:
        return recruits
    exits = np.random.binomial(int(x), 1.0 - np.exp(-exit_rate / x))
    left, remaining = exits, exit_rate
    for c in range(1, 5):
        share = left
        if c < 4 and remaining > 0.0:
            share = np.random.binomial(left, min(1.0, expected[c] / remaining))
        flows[c] += share
        left -= share
        remaining -= expected[c]
    return recruits - exits
