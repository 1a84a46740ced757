"""The aggregate model's right-hand side, written once: every group's weekly flows.

The flows of aggregate.py's docstring, each a rate per member times the group's members
x_i (N = sum_i x_i), with the parameters in force that week (`in_force`) and F the
deployed forces that week:

    recruits         x_i * rho g_i
    incapacitated    x_i * (eta / N  or  mu,  + a F)      fixed_count or per_member
    state kills      x_i * k F
    conflict deaths  x_i * theta' c_i     c_i = sum_j K_ij x_j, network epoch in force
    saturation       x_i * omega x_i

    dx_i/dt = x_i (rho g_i - (eta / N or mu) - (a + k) F - omega x_i - theta' c_i)

with theta' = theta (1 + delta z): z the forces added in the last `disruption_weeks` (per
10,000; the plan puts delta z in the deployment_disruption column of its multipliers), so
delta = 0 is militarization as suppression only and delta > 0 as disruption too. In K, a
group whose leader was removed has boost_i = 1 + e L_i (L_i the events' violence_boost in
force, e = leader_removal_effect per run): each pair's rate is multiplied by both boosts,
so a removal raises the removed group's fights once.

From a `fragment` event's week on (the families becoming a dataset's groups), theta' and
omega are multiplied by the per-run fragment_lethality_factor and
fragment_saturation_factor (1: the same rates in both worlds; calibrated in mexico). The
plan's multiplier columns of these factors hold 1 from that week on and 0 before it, so the
value in force is the factor after the event and 0 before it, read here as 1
(`_after_fragment`; the factors' bounds keep them above 0): before the event, and in a
scenario without one, the flows are exactly what they were without the factors.

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
    DEPLOYMENT_DISRUPTION,
    FRAGMENT_LETHALITY_FACTOR,
    FRAGMENT_SATURATION_FACTOR,
    INCAPACITATION,
    LEADER_REMOVAL_EFFECT,
    RECRUITMENT_RATE,
    SATURATION,
    STATE_ARREST_RATE,
    STATE_KILL_RATE,
)

#: Rows of the per-run scratch array `derivative` needs: np.empty((WORK_ROWS, runs)).
WORK_ROWS = 10


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
    state, out, n, eff, fixed_count, force, g, inv_a, removal, indptr, indices, data, work,
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
    multipliers, and the network epoch in force: inv_a = 1 / (A_i + 1), removal L (the
    leader removals' violence_boost in force per group), and the excess rivalry E in CSR
    form (indptr of the epoch, indices, data). With b_j = 1 + e L_j per run, the conflict
    sum is c_i = sum_j K_ij x_j = inv_a_i b_i (sum_j E_ij b_j x_j + Y - b_i x_i),
    Y = sum_j b_j x_j (plan.Epoch). Groups with L_j = 0 (all of them, mostly) take the
    plain loops, so a scenario without removals computes exactly what it did before.

    by_group: None, or a (5, groups, runs) array that gets each group's five flows per week
    (FLOWS order): the expected values the stochastic mode draws around, for its block of
    runs (rows by_group[f, i] contiguous over the runs, so this loop still vectorizes).
    work: (WORK_ROWS, runs) scratch.
    """
    runs = state.shape[1]
    N, Y, G, Q, loss, conflict, T, incap, lethal, sat = (
        work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7], work[8],
        work[9],
    )  # fmt: skip
    rec, omega, effect = eff[RECRUITMENT_RATE], eff[SATURATION], eff[LEADER_REMOVAL_EFFECT]
    lethal_after, sat_after = eff[FRAGMENT_LETHALITY_FACTOR], eff[FRAGMENT_SATURATION_FACTOR]
    incap_rate, arrest, kill = eff[INCAPACITATION], eff[STATE_ARREST_RATE], eff[STATE_KILL_RATE]
    theta, disruption = eff[CONFLICT_LETHALITY], eff[DEPLOYMENT_DISRUPTION]
    _sums(state, n, removal, g, N, Y, G, Q)  # Y = sum_j L_j x_j here
    for r in range(runs):
        incap[r], loss[r] = _common_exits(incap_rate[r], arrest[r], kill[r], N[r], fixed_count,
                                          force)  # fmt: skip
        conflict[r] = 0.0
        lethal[r] = theta[r] * (1.0 + disruption[r]) * _after_fragment(lethal_after[r])
        sat[r] = omega[r] * _after_fragment(sat_after[r])
        Y[r] = N[r] + effect[r] * Y[r]  # sum_j b_j x_j
    for i in range(n):
        Li, gi = removal[i], g[i]
        xs, xd = state[i], out[i]
        # T = sum_j E_ij b_j x_j
        for r in range(runs):
            T[r] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            wj, Lj, xj = data[k], removal[indices[k]], state[indices[k]]
            if Lj == 0.0:
                for r in range(runs):
                    T[r] += wj * xj[r]
            else:
                for r in range(runs):
                    T[r] += wj * (1.0 + effect[r] * Lj) * xj[r]
        for r in range(runs):
            x = xs[r]
            bi = 1.0 + effect[r] * Li
            recruiting, fighting, crowding, c = _group_rates(
                x, T[r] + Y[r], bi, gi, inv_a[i] * bi, rec[r], lethal[r], sat[r]
            )
            conflict[r] += x * c
            xd[r] = x * (recruiting - loss[r] - crowding - fighting)
            if by_group is not None:
                _group_flows(by_group, i, r, x, recruiting, incap[r], arrest[r], kill[r], force,
                             fighting, crowding)  # fmt: skip
    for r in range(runs):
        # sum_i x_i * (eta / N) = eta when N > 0
        incapacitated = (incap_rate[r] if N[r] > 0.0 else 0.0) if fixed_count else incap[r] * N[r]
        out[n, r] = weight * rec[r] * G[r]
        out[n + 1, r] = weight * (incapacitated + arrest[r] * force * N[r])
        out[n + 2, r] = weight * kill[r] * force * N[r]
        out[n + 3, r] = weight * lethal[r] * conflict[r]
        out[n + 4, r] = weight * sat[r] * Q[r]


@numba.njit(inline="always")
def _after_fragment(factor):
    """A fragment factor in force: the factor from the event's week on, 1 before it (where
    the plan's column makes it 0)."""
    return factor if factor > 0.0 else 1.0


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
def _group_flows(by_group, i, r, x, recruiting, incap, arrest, kill, force, fighting, crowding):
    """by_group[f, i, r] = group i's flow f per week in run r (FLOWS order), from its
    per-member rates."""
    by_group[0, i, r] = x * recruiting
    by_group[1, i, r] = x * (incap + arrest * force)
    by_group[2, i, r] = x * (kill * force)
    by_group[3, i, r] = x * fighting
    by_group[4, i, r] = x * crowding


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _sums(X, n, boost, g, N, Y, G, Q):
    """Per-run sums over the first n rows (the groups): N = sum X, Y = sum boost X (boost:
    any per-group weight; `derivative` passes the leader-removal exposure L),
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
