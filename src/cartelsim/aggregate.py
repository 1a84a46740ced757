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
                block_start,
                plan.zipf_initial,
                seeds[lo:hi],
                block_params,
                *_common(plan),
                *network,
                members[:, :, lo:hi],
                flows[:, :, lo:hi],
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


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _rates(x, eff, fixed_count, forces, g, inv_a, boost, indptr, indices, data, comp):
    """Expected flows this week for ONE run in state x (groups,), written to comp (groups, 5).

    eff: (P,) parameters in force this week; comp columns follow FLOWS. The stochastic mode
    draws around these; the deterministic kernel computes the same terms in its own loops.
    """
    n = x.shape[0]
    N = 0.0
    Y = 0.0
    for i in range(n):
        N += x[i]
        Y += boost[i] * x[i]
    for i in range(n):
        EY = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            EY += data[k] * boost[j] * x[j]
        lethality = inv_a[i] * boost[i]
        xi = x[i]
        if fixed_count:
            incap = eff[1] * xi / N if N > 0.0 else 0.0
        else:
            incap = eff[1] * xi
        comp[i, 0] = eff[0] * g[i] * xi
        comp[i, 1] = incap + eff[4] * forces * xi
        comp[i, 2] = eff[5] * forces * xi
        comp[i, 3] = eff[2] * lethality * xi * max(EY + Y - boost[i] * xi, 0.0)
        comp[i, 4] = eff[3] * xi * xi


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


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _deterministic(
    X0, rk4, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, boost, indptr, indices, data, members, flows,
):  # fmt: skip
    """Integrate a block of runs with a fixed weekly step (RK4 or Euler); fill members, flows.

    How the work is arranged for speed (results equal the plain formulas, as in _rates, up to
    rounding: 4e-15 relative at most on the built-in scenarios):
    - every flow is a per-member rate times x = C_i, so the derivative is x * (rate) and the
      national flows come from per-run sums (N, sum g x, sum x^2, sum x K x) instead of a
      (5, groups, runs) array; no division per element (incapacitation uses eta / N per run);
    - the state at the start of week t lives in members[t]: the last stage writes the new
      state straight there, so the stock is never copied;
    - stage inputs are double-buffered (a, b) because the conflict term of a later group
      still reads the current input of an earlier one;
    - inner loops run over the runs of one group, through 1-D row views, and each touches
      few arrays: LLVM vectorizes a loop only if it can check cheaply that its arrays do
      not overlap. That is also why the derivative loop is written out once per kind of
      stage (first, middle, last, or Euler's only one) rather than testing s inside it:
      with the tests inside, it does not vectorize and the kernel is 1.5x slower.
    """
    n, runs = X0.shape
    members[0] = X0
    a, b, acc = np.empty((n, runs)), np.empty((n, runs)), np.empty((n, runs))
    eff = np.empty_like(params)
    N, Y, G, Q = np.empty(runs), np.empty(runs), np.empty(runs), np.empty(runs)
    loss, conflict, T = np.empty(runs), np.empty(runs), np.empty(runs)
    weights = np.array([1.0, 2.0, 2.0, 1.0]) / 6.0 if rk4 else np.array([1.0])
    steps = np.array([0.5, 0.5, 1.0])
    stages = weights.shape[0]
    for week in range(mult.shape[0]):
        X = members[week]
        _transfers(X, week, transfers, False)
        e = epoch_of_week[week]
        force = forces[week]
        for p in range(params.shape[0]):
            for r in range(runs):
                eff[p, r] = params[p, r] * mult[week, p]
        rec, incap_rate, lethal, sat = eff[0], eff[1], eff[2], eff[3]
        arrest, kill = eff[4], eff[5]
        flows[week] = 0.0
        src = X
        for s in range(stages):
            w = weights[s]
            last = s == stages - 1
            h = 0.0 if last else steps[s]
            dst = members[week + 1] if last else (a if s % 2 == 0 else b)
            _sums(src, boost[e], g, N, Y, G, Q)
            # Exits per member that are the same for every group: incapacitation and state.
            for r in range(runs):
                if fixed_count:
                    incap = incap_rate[r] / N[r] if N[r] > 0.0 else 0.0
                else:
                    incap = incap_rate[r]
                loss[r] = incap + (arrest[r] + kill[r]) * force
                conflict[r] = 0.0
            for i in range(n):
                bi, gi = boost[e, i], g[i]
                lethality = inv_a[e, i] * bi
                xs, xX, xacc, xdst = src[i], X[i], acc[i], dst[i]
                # T = sum_j W_ij boost_j x_j; sum_j K_ij x_j = lethality (T + Y - boost_i x_i)
                T[:] = 0.0
                for k in range(indptr[e, i], indptr[e, i + 1]):
                    wj, xj = data[k] * boost[e, indices[k]], src[indices[k]]
                    for r in range(runs):
                        T[r] += wj * xj[r]
                # The derivative d and the RK bookkeeping (acc = sum of w_s d_s; the last
                # stage writes X + acc to the next week), one loop per case so that each is
                # branch-free and vectorizes.
                if s == 0 and not last:
                    for r in range(runs):
                        x = xs[r]
                        c, d = _rate(
                            x, T[r] + Y[r], bi, gi, lethality, rec[r], loss[r], sat[r], lethal[r]
                        )
                        conflict[r] += x * c
                        xacc[r] = w * d
                        xdst[r] = xX[r] + h * d
                elif not last:
                    for r in range(runs):
                        x = xs[r]
                        c, d = _rate(
                            x, T[r] + Y[r], bi, gi, lethality, rec[r], loss[r], sat[r], lethal[r]
                        )
                        conflict[r] += x * c
                        xacc[r] += w * d
                        xdst[r] = xX[r] + h * d
                elif s == 0:
                    for r in range(runs):
                        x = xs[r]
                        c, d = _rate(
                            x, T[r] + Y[r], bi, gi, lethality, rec[r], loss[r], sat[r], lethal[r]
                        )
                        conflict[r] += x * c
                        xdst[r] = xX[r] + w * d
                else:
                    for r in range(runs):
                        x = xs[r]
                        c, d = _rate(
                            x, T[r] + Y[r], bi, gi, lethality, rec[r], loss[r], sat[r], lethal[r]
                        )
                        conflict[r] += x * c
                        xdst[r] = xX[r] + (xacc[r] + w * d)
            for r in range(runs):
                if fixed_count:
                    incap = incap_rate[r] if N[r] > 0.0 else 0.0
                else:
                    incap = incap_rate[r] * N[r]
                flows[week, 0, r] += w * rec[r] * G[r]
                flows[week, 1, r] += w * (incap + arrest[r] * force * N[r])
                flows[week, 2, r] += w * kill[r] * force * N[r]
                flows[week, 3, r] += w * lethal[r] * conflict[r]
                flows[week, 4, r] += w * sat[r] * Q[r]
            src = dst


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _sums(X, boost, g, N, Y, G, Q):
    """Per-run sums over groups: N = sum X, Y = sum boost X, G = sum g X, Q = sum X^2.

    Four groups per pass: each per-run sum is then loaded and stored once per four groups
    instead of once per group, which halves the time of this loop.
    """
    n, runs = X.shape
    N[:] = 0.0
    Y[:] = 0.0
    G[:] = 0.0
    Q[:] = 0.0
    for i in range(0, n - n % 4, 4):
        x0, x1, x2, x3 = X[i], X[i + 1], X[i + 2], X[i + 3]
        b0, b1, b2, b3 = boost[i], boost[i + 1], boost[i + 2], boost[i + 3]
        g0, g1, g2, g3 = g[i], g[i + 1], g[i + 2], g[i + 3]
        for r in range(runs):
            u0, u1, u2, u3 = x0[r], x1[r], x2[r], x3[r]
            N[r] += (u0 + u1) + (u2 + u3)
            Y[r] += (b0 * u0 + b1 * u1) + (b2 * u2 + b3 * u3)
            G[r] += (g0 * u0 + g1 * u1) + (g2 * u2 + g3 * u3)
            Q[r] += (u0 * u0 + u1 * u1) + (u2 * u2 + u3 * u3)
    for i in range(n - n % 4, n):
        bi, gi, xi = boost[i], g[i], X[i]
        for r in range(runs):
            u = xi[r]
            N[r] += u
            Y[r] += bi * u
            G[r] += gi * u
            Q[r] += u * u


@numba.njit(inline="always")
def _rate(x, total, bi, gi, lethality, rec, loss, sat, lethal):
    """One group of one run: (c, d) with c = sum_j K_ij x_j and d = dx/dt.

    total = T + Y (see _deterministic); loss = exits per member that do not depend on the group.
    max(., 0): under a truce the sum cancels to +-1e-16, never a negative flow.
    """
    c = lethality * max(total - bi * x, 0.0)
    return c, x * (rec * gi - loss - sat * x - lethal * c)


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _stochastic(
    X0, zipf_initial, seeds, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, boost, indptr, indices, data, members, flows,
):  # fmt: skip
    """Simulate a block of runs one after another, each from its own random stream."""
    n, runs = X0.shape
    comp = np.empty((n, 5))
    eff = np.empty(params.shape[0])
    X = np.empty((n, 1))  # _transfers works on (groups, runs) arrays
    x = X[:, 0]
    for r in range(runs):
        np.random.seed(seeds[r])
        for i in range(n):
            x[i] = float(np.random.poisson(X0[i, r])) if zipf_initial else np.round(X0[i, r])
        for week in range(mult.shape[0]):
            _transfers(X, week, transfers, True)
            members[week, :, r] = x
            e = epoch_of_week[week]
            for p in range(params.shape[0]):
                eff[p] = params[p, r] * mult[week, p]
            _rates(x, eff, fixed_count, forces[week], g, inv_a[e], boost[e], indptr[e],
                   indices, data, comp)  # fmt: skip
            out = flows[week, :, r]
            out[:] = 0.0
            for i in range(n):
                x[i] += _draw_group_week(x[i], comp[i], out)
        members[mult.shape[0], :, r] = x


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
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
