"""The aggregate model's right-hand side, written once: every group's weekly flows.

The flows of aggregate.py's docstring, each a rate per member times the group's members
x_i (N = sum_i x_i), with the parameters in force that week (`in_force`) and F the
deployed forces that week:

    recruits         x_i * rho g_i
    incapacitated    x_i * (eta / N  or  mu,  + a F)      fixed_count or per_member
    state kills      x_i * k F
    conflict deaths  x_i * theta c_i      c_i = sum_j K_ij x_j, network epoch in force
    saturation       x_i * omega x_i

    dx_i/dt = x_i (rho g_i - (eta / N or mu) - (a + k) F - omega x_i - theta c_i)

`derivative` is the only code that evaluates them. The integrators (integrators.py: dopri5,
rk4, euler) call it at every stage; the stochastic mode calls it every week and asks it
also for each group's flows (`by_group`), the expected values of its draws. So the model
changes here and only here, and every mode follows.

How it is arranged for speed (the same numbers as the plain formulas up to rounding):
- state arrays are (groups, runs) and every inner loop runs over the runs of one group
  through 1-D row views, touching few arrays: LLVM then vectorizes it (across runs);
- since every flow is a per-member rate times x_i, the national flows come from per-run
  sums (N, sum g x, sum x^2, sum x c) rather than from a (5, groups, runs) array, and no
  element needs a division (incapacitation uses eta / N once per run);
- `by_group is None` is settled when Numba compiles (it prunes the branch on the argument's
  type), so the integrators' version of the group loop has no test in it: with a run-time
  test inside, that loop does not vectorize.

Numba's on-disk cache (cache=True) is not invalidated when a function in another file
changes: after editing this module, delete src/cartelsim/__pycache__/ (or set
NUMBA_CACHE_DIR to a new folder), or integrators.py's cached kernels keep the old code.

This module imports only the parameter indices (scenario.py); nothing here knows about
time steps, transfers or output.
"""

from __future__ import annotations

import numba

from cartelsim.scenario import (
    CONFLICT_LETHALITY,
    INCAPACITATION,
    RECRUITMENT_RATE,
    SATURATION,
    STATE_ARREST_RATE,
    STATE_KILL_RATE,
)

#: Rows of the per-run scratch array `derivative` needs: np.empty((WORK_ROWS, runs)).
WORK_ROWS = 8


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def in_force(params, mult, week, eff):
    """eff[p, r] = params[p, r] * mult[week, p]: the parameters of runs r during `week`
    (per-run values times the plan's policy multipliers)."""
    for p in range(params.shape[0]):
        m = mult[week, p]
        src, dst = params[p], eff[p]
        for r in range(params.shape[1]):
            dst[r] = src[r] * m


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def derivative(
    state, out, n, eff, fixed_count, force, g, inv_a, boost, indptr, indices, data, work,
    weight, by_group,
):  # fmt: skip
    """The right-hand side for a block of runs in `state` (rows 0..n-1: the groups' members,
    (groups, runs); rows below, if any, are ignored).

    Writes out[i] = dx_i/dt for the n groups and out[n + f] = weight * (national flow f),
    f in trajectories.FLOWS order, per week. `weight` is 1.0 for the flows themselves
    (exactly); a weekly Runge-Kutta step passes its stage weight and adds these rows as
    they come.

    The plan at that time: eff (P, runs) the parameters in force (`in_force`), fixed_count
    the incapacitation form, force the deployed forces, g (groups,) the recruitment
    multipliers, and the network epoch in force: inv_a = 1 / (A_i + 1), boost, and the
    excess rivalry E in CSR form (indptr of the epoch, indices, data). The conflict sum
    is c_i = sum_j K_ij x_j = inv_a_i boost_i (sum_j E_ij boost_j x_j + Y - boost_i x_i),
    Y = sum_j boost_j x_j (plan.Epoch).

    by_group: None, or a (groups, runs, 5) array that gets each group's five flows per week
    (FLOWS order): the expected values the stochastic mode draws around (its kernel uses
    `expected_flows`, the same numbers for one run, faster). work: (WORK_ROWS, runs) scratch.
    """
    runs = state.shape[1]
    N, Y, G, Q, loss, conflict, T, incap = (
        work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7],
    )  # fmt: skip
    rec, lethal, sat = eff[RECRUITMENT_RATE], eff[CONFLICT_LETHALITY], eff[SATURATION]
    incap_rate, arrest, kill = eff[INCAPACITATION], eff[STATE_ARREST_RATE], eff[STATE_KILL_RATE]
    _sums(state, n, boost, g, N, Y, G, Q)
    for r in range(runs):
        incap[r], loss[r] = _common_exits(incap_rate[r], arrest[r], kill[r], N[r], fixed_count,
                                          force)  # fmt: skip
        conflict[r] = 0.0
    for i in range(n):
        bi, gi = boost[i], g[i]
        lethality = inv_a[i] * bi
        xs, xd = state[i], out[i]
        # T = sum_j E_ij boost_j x_j
        for r in range(runs):
            T[r] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            wj, xj = data[k] * boost[indices[k]], state[indices[k]]
            for r in range(runs):
                T[r] += wj * xj[r]
        for r in range(runs):
            x = xs[r]
            recruiting, fighting, crowding, c = _group_rates(
                x, T[r] + Y[r], bi, gi, lethality, rec[r], lethal[r], sat[r]
            )
            conflict[r] += x * c
            xd[r] = x * (recruiting - loss[r] - crowding - fighting)
            if by_group is not None:
                _group_flows(by_group[i, r], x, recruiting, incap[r], arrest[r], kill[r], force,
                             fighting, crowding)  # fmt: skip
    for r in range(runs):
        # sum_i x_i * (eta / N) = eta when N > 0
        incapacitated = (incap_rate[r] if N[r] > 0.0 else 0.0) if fixed_count else incap[r] * N[r]
        out[n, r] = weight * rec[r] * G[r]
        out[n + 1, r] = weight * (incapacitated + arrest[r] * force * N[r])
        out[n + 2, r] = weight * kill[r] * force * N[r]
        out[n + 3, r] = weight * lethal[r] * conflict[r]
        out[n + 4, r] = weight * sat[r] * Q[r]


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def expected_flows(
    state, n, eff, fixed_count, force, g, inv_a, boost, indptr, indices, data, work, by_group
):
    """derivative's by_group for a block of ONE run (state (groups, 1), eff (P, 1)), into
    by_group (groups, 5), and nothing else: what the stochastic mode needs every week.

    A specialization for speed, through the same formulas (_common_exits, _group_rates,
    _group_flows) in the same order, so the numbers are derivative's exactly
    (tests/test_aggregate.py checks it). derivative's loops run over the runs of a block,
    and on a block of one run their overhead dominates: on PC2023, 4.6-5.1 us per
    evaluation against 1.3-1.4 us for these plain loops over the groups, which saves
    1.7-1.9 ms per stochastic run of 520 weeks, 8-9 % of its time (benchmarks/aggregate.py
    measures it; benchmarks/README.md).
    """
    x = state[:, 0]
    N, Y = work[0], work[1]
    _sums(state, n, boost, g, N, Y, work[2], work[3])
    arrest, kill = eff[STATE_ARREST_RATE, 0], eff[STATE_KILL_RATE, 0]
    rec, lethal, sat = eff[RECRUITMENT_RATE, 0], eff[CONFLICT_LETHALITY, 0], eff[SATURATION, 0]
    incap = _common_exits(eff[INCAPACITATION, 0], arrest, kill, N[0], fixed_count, force)[0]
    for i in range(n):
        t = 0.0  # sum_j E_ij boost_j x_j, in derivative's order
        for k in range(indptr[i], indptr[i + 1]):
            t += data[k] * boost[indices[k]] * x[indices[k]]
        bi = boost[i]
        recruiting, fighting, crowding, _ = _group_rates(
            x[i], t + Y[0], bi, g[i], inv_a[i] * bi, rec, lethal, sat
        )
        _group_flows(by_group[i], x[i], recruiting, incap, arrest, kill, force, fighting, crowding)


@numba.njit(inline="always")
def _common_exits(incap_rate, arrest, kill, N, fixed_count, force):
    """Exits per member that are the same for every group of a run: (incapacitation,
    incapacitation + arrests + state kills)."""
    if fixed_count:
        incap = incap_rate / N if N > 0.0 else 0.0
    else:
        incap = incap_rate
    return incap, incap + (arrest + kill) * force


@numba.njit(inline="always")
def _group_rates(x, total, bi, gi, lethality, rec, lethal, sat):
    """Per-member rates of a group with x members: (recruitment, conflict deaths,
    saturation, c), with c = sum_j K_ij x_j from total = sum_j E_ij boost_j x_j + Y.

    max(., 0): under a truce the sum cancels to +-1e-16, never a negative flow.
    """
    c = lethality * max(total - bi * x, 0.0)
    return rec * gi, lethal * c, sat * x, c


@numba.njit(inline="always")
def _group_flows(row, x, recruiting, incap, arrest, kill, force, fighting, crowding):
    """row[f] = the group's flow f per week (FLOWS order), from its per-member rates."""
    row[0] = x * recruiting
    row[1] = x * (incap + arrest * force)
    row[2] = x * (kill * force)
    row[3] = x * fighting
    row[4] = x * crowding


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _sums(X, n, boost, g, N, Y, G, Q):
    """Per-run sums over the first n rows (the groups): N = sum X, Y = sum boost X,
    G = sum g X, Q = sum X^2.

    Four groups per pass: each per-run sum is then loaded and stored once per four groups
    instead of once per group, which halves the time of this loop.
    """
    runs = X.shape[1]
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
