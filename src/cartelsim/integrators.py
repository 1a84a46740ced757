"""How the aggregate engine steps through time: the Numba kernels that turn the flows of
flows.derivative into weekly members and flows, for one block of runs per call.

- `dopri5`: Dormand-Prince 5(4) steps of whole weeks with dense output (the default);
- `weekly`: a weekly step, classic RK4 or Euler's;
- `stochastic`: weekly Poisson and binomial draws around the expected flows.

Each kernel writes into the ensemble's output arrays (members (weeks + 1, groups or 1,
runs), flows (weeks, len(FLOWS), runs)); aggregate.simulate chooses one, cuts the ensemble
into blocks and prepares the plan's arrays. These kernels know the time steps, the
transfers between weeks and the output; what the model is, they leave to flows.py, so no
integrator has its own copy of the model. Arrays are (groups, runs): the runs of a block
are stepped together, and inner loops run over them (contiguous in memory).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from cartelsim.flows import WORK_ROWS, derivative, in_force
from cartelsim.plan import ADD, MOVE
from cartelsim.trajectories import FLOWS


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def weekly(
    X0, rk4, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, removal, indptr, indices, data, states, national, members, flows,
):  # fmt: skip
    """Integrate a block of runs with a fixed weekly step (RK4 or Euler); fill members, flows.

    The state at the start of week t is kept in states[t] when states is the members output
    itself (national False), else in states[t % 2]; with national, members[t, 0] gets the
    total over the groups. The last stage writes the new state straight into its row of
    states, so the stock is never copied. A week's flows are the stages' national flows
    times the stage weights (`derivative` applies the weight), added up.

    The Runge-Kutta bookkeeping is a pass of its own after each stage's derivative
    (_stage_update), where it used to be fused into the derivative's loop, so that the model
    stays in flows.py alone. Measured in one process against the fused kernel (CPU time):
    RK4 as fast (0.91-1.00 of its time), Euler 2-6 % slower (one stage per week, so the
    extra pass weighs more); both far inside the benchmark's spread between runs
    (benchmarks/README.md).
    """
    n, runs = X0.shape
    states[0] = X0
    z, acc = np.empty((n, runs)), np.empty((n, runs))  # stage input; sum of w_s k_s
    k = np.empty((n + len(FLOWS), runs))  # stage derivative, and weighted national flows
    eff = np.empty_like(params)
    work = np.empty((WORK_ROWS, runs))
    weights = np.array([1.0, 2.0, 2.0, 1.0]) / 6.0 if rk4 else np.array([1.0])
    no_rng = np.zeros((4, 1), dtype=np.uint64)  # transfers draw nothing here
    steps = np.array([0.5, 0.5, 1.0])
    stages = weights.shape[0]
    for week in range(mult.shape[0]):
        now, after = (week % 2, (week + 1) % 2) if national else (week, week + 1)
        X = states[now]
        apply_transfers(X, week, transfers, False, no_rng)
        if national:
            record(X, n, True, members[week], 0)
        e = epoch_of_week[week]
        in_force(params, mult, week, eff)
        flows[week] = 0.0
        src = X
        for s in range(stages):
            w = weights[s]
            derivative(src, k, n, eff, fixed_count, forces[week], g, inv_a[e], removal[e],
                       indptr[e], indices, data, work, w, None)  # fmt: skip
            last = s == stages - 1
            _stage_update(X, k, acc, states[after] if last else z, n, s, last, w,
                          0.0 if last else steps[s])  # fmt: skip
            for f in range(len(FLOWS)):
                out, add = flows[week, f], k[n + f]
                for r in range(runs):
                    out[r] += add[r]
            src = z
    if national:
        weeks = mult.shape[0]
        record(states[weeks % 2], n, True, members[weeks], 0)


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _stage_update(X, k, acc, dst, n, s, last, w, h):
    """Runge-Kutta bookkeeping after stage s, whose derivative is k: acc = sum of w_s k_s;
    dst = the next stage's input X + h k, or, after the last stage, the next week's state
    X + acc. One loop per case, so that each is branch-free and vectorizes."""
    runs = X.shape[1]
    for i in range(n):
        x, d, a, out = X[i], k[i], acc[i], dst[i]
        if s == 0 and not last:
            for r in range(runs):
                a[r] = w * d[r]
                out[r] = x[r] + h * d[r]
        elif not last:
            for r in range(runs):
                a[r] += w * d[r]
                out[r] = x[r] + h * d[r]
        elif s == 0:  # Euler
            for r in range(runs):
                out[r] = x[r] + w * d[r]
        else:
            for r in range(runs):
                out[r] = x[r] + (a[r] + w * d[r])


# Dormand-Prince 5(4): Dormand & Prince (1980), J. Comput. Appl. Math. 6:19; the error
# weights and the dense output (a 4th-order continuous extension) as in Hairer, Norsett &
# Wanner, Solving Ordinary Differential Equations I (2nd ed., 1993), section II.6 (DOPRI5).
# Row s of _DP_A gives the input of stage s + 1; its last row holds the 5th-order weights.
_DP_A = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1 / 5, 0.0, 0.0, 0.0, 0.0, 0.0],
        [3 / 40, 9 / 40, 0.0, 0.0, 0.0, 0.0],
        [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0, 0.0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0, 0.0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0.0],
        [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
    ]
)
#: 5th- minus 4th-order weights: h * sum_s _DP_E[s] k_s estimates the local error.
_DP_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])
#: Weights of the 4th-degree term of the dense output.
_DP_D = np.array(
    [
        -12715105075 / 11282082432,
        0.0,
        87487479700 / 32700410799,
        -10690763975 / 1880347072,
        701980252875 / 199316789632,
        -1453857185 / 822651844,
        69997945 / 29380423,
    ]
)


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def dopri5(
    X0, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, removal, indptr, indices, data,
    boundaries, max_step, tolerance, national, members, flows, lo, error,
):  # fmt: skip
    """Integrate a block of runs with Dormand-Prince 5(4) steps of whole weeks; fill
    members[:, :, lo:lo + runs] and flows[:, :, lo:lo + runs] at every week.

    With national, members[:, 0] gets the total over the groups, and no group's weekly
    members are written: the dense output is linear in its coefficients, so the total's is
    the sum of the groups' coefficients, evaluated once per week (equal to the sum of the
    groups' dense outputs up to rounding).

    Steps are max_step weeks long, shorter where they would cross a week in `boundaries`
    (where the plan changes: transfers, network epochs, policies, forces), so every
    week-start event falls on a step boundary and is honoured exactly. Every week inside a
    step comes from the method's dense output. The state holds, below the groups, the five
    national flows integrated from the step's start: weekly flows are differences of their
    dense output, so the flow balance holds to rounding (Runge-Kutta steps and their dense
    output are linear in the stage derivatives, whose group sum is recruits minus exits).

    error[r] gets the largest local error estimate of run r over its steps, relative to its
    total members; the caller redoes the runs above `tolerance` with shorter steps. Once
    every run is above it, the kernel stops (the rest would be thrown away). Nothing here
    mixes runs, so a run's numbers do not depend on the other runs of the block.
    """
    n, runs = X0.shape
    rows = n + len(FLOWS)
    y, z = np.empty((rows, runs)), np.empty((rows, runs))  # step start; stage input
    k = np.empty((7, rows, runs))  # stage derivatives
    coef = np.empty((4, runs))  # dense-output coefficients of one row
    total_start, total_coef = np.empty(runs), np.empty((4, runs))  # the same for the total
    step_error, start_size, end_size = np.empty(runs), np.empty(runs), np.empty(runs)
    eff = np.empty_like(params)
    work = np.empty((WORK_ROWS, runs))
    for i in range(rows):
        for r in range(runs):
            y[i, r] = X0[i, r] if i < n else 0.0
    error[:] = 0.0
    no_rng = np.zeros((4, 1), dtype=np.uint64)  # transfers draw nothing here
    weeks = mult.shape[0]
    t, b = 0, 0
    while t < weeks:
        apply_transfers(y, t, transfers, False, no_rng)
        record(y, n, national, members[t], lo)
        while boundaries[b] <= t:
            b += 1
        h = min(max_step, boundaries[b] - t)
        e, force = epoch_of_week[t], forces[t]
        in_force(params, mult, t, eff)
        for i in range(n, rows):
            y[i] = 0.0  # flows are integrated from the start of the step
        derivative(y, k[0], n, eff, fixed_count, force, g, inv_a[e], removal[e], indptr[e],
                   indices, data, work, 1.0, None)  # fmt: skip
        for s in range(1, 7):
            for i in range(rows):
                zi, yi = z[i], y[i]
                for r in range(runs):
                    zi[r] = yi[r]
                for j in range(s):
                    c = h * _DP_A[s, j]
                    if c != 0.0:
                        kj = k[j, i]
                        for r in range(runs):
                            zi[r] += c * kj[r]
            derivative(z, k[s], n, eff, fixed_count, force, g, inv_a[e], removal[e],
                       indptr[e], indices, data, work, 1.0, None)  # fmt: skip
        # z is now the state at the end of the step (the last stage's input) and k[6] its
        # derivative. Error estimate, dense output and weekly values, row by row.
        step_error[:] = 0.0
        start_size[:] = 0.0
        end_size[:] = 0.0
        total_start[:] = 0.0
        total_coef[:] = 0.0
        for i in range(rows):
            y0, y1 = y[i], z[i]
            k0, k2, k3, k4, k5, k6 = k[0, i], k[2, i], k[3, i], k[4, i], k[5, i], k[6, i]
            for r in range(runs):
                err = h * (
                    _DP_E[0] * k0[r] + _DP_E[2] * k2[r] + _DP_E[3] * k3[r]
                    + _DP_E[4] * k4[r] + _DP_E[5] * k5[r] + _DP_E[6] * k6[r]
                )  # fmt: skip
                step_error[r] = max(step_error[r], abs(err))
                d = y1[r] - y0[r]
                c3 = h * k0[r] - d
                coef[0, r] = d
                coef[1, r] = c3
                coef[2, r] = d - h * k6[r] - c3
                coef[3, r] = h * (
                    _DP_D[0] * k0[r] + _DP_D[2] * k2[r] + _DP_D[3] * k3[r]
                    + _DP_D[4] * k4[r] + _DP_D[5] * k5[r] + _DP_D[6] * k6[r]
                )  # fmt: skip
            if i < n:
                for r in range(runs):
                    start_size[r] += abs(y0[r])
                    end_size[r] += abs(y1[r])
                if national:
                    for r in range(runs):
                        total_start[r] += y0[r]
                    for c in range(4):
                        for r in range(runs):
                            total_coef[c, r] += coef[c, r]
                else:
                    _dense_members(members, t, h, i, lo, y0, coef)
            else:
                _dense_flows(flows, t, h, i - n, lo, y1, coef)
        if national:
            _dense_members(members, t, h, 0, lo, total_start, total_coef)
        for r in range(runs):
            size = max(start_size[r], end_size[r])
            ratio = step_error[r] / size if size > 0.0 else step_error[r]
            if not (ratio < np.inf and end_size[r] < np.inf):
                ratio = np.inf  # NaN or overflow: the step has failed
            error[r] = max(error[r], ratio)
        if not np.any(error <= tolerance):
            return  # every run will be redone with shorter steps: stop here
        y, z = z, y
        t += h
    record(y, n, national, members[weeks], lo)


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _dense_members(members, t, h, i, lo, y0, coef):
    """Row i of members at weeks t + 1 .. t + h - 1 from the dense output of a step
    y(s) = y0 + s d + s(1-s) c3 + s^2(1-s) c4 + s^2(1-s)^2 c5, s = fraction of the step."""
    d, c3, c4, c5 = coef[0], coef[1], coef[2], coef[3]
    for j in range(1, h):
        s = j / h
        a2 = s * (1.0 - s)
        a3, a4 = s * a2, a2 * a2
        out = members[t + j, i]
        for r in range(y0.shape[0]):
            out[lo + r] = y0[r] + s * d[r] + a2 * c3[r] + a3 * c4[r] + a4 * c5[r]


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _dense_flows(flows, t, h, f, lo, total, coef):
    """National flow f during weeks t .. t + h - 1: differences of its integral from the step
    start (0 there, `total` at the end; dense output in between, as in _dense_members).

    A flow that is 0 up to rounding (conflict deaths in a truce, where the rivalry sum
    cancels to +-1e-16) can interpolate to -1e-16: it is recorded as 0, never negative.
    """
    d, c3, c4, c5 = coef[0], coef[1], coef[2], coef[3]
    runs = total.shape[0]
    before = np.zeros(runs)
    for j in range(1, h + 1):
        s = j / h
        a2 = s * (1.0 - s)
        a3, a4 = s * a2, a2 * a2
        out = flows[t + j - 1, f]
        for r in range(runs):
            now = total[r] if j == h else s * d[r] + a2 * c3[r] + a3 * c4[r] + a4 * c5[r]
            out[lo + r] = max(now - before[r], 0.0)
            before[r] = now


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def stochastic(
    X0, zipf_initial, seeds, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, removal, indptr, indices, data, national, members, flows,
):  # fmt: skip
    """Simulate a block of runs, each from its own random stream (xoshiro256+ seeded with
    seeds[r], column r of S); with national, members[:, 0] gets the total over the groups
    (the draws do not change).

    Every week, flows.derivative gives each group's expected flows for every run of the
    block (its by_group), and _draw_group_week draws group by group the week's recruits and
    exits around them, for all the runs at once (loops over the runs, which vectorize).
    Each run draws from its own stream only, and how many numbers it takes depends on its
    own values only, so its results do not depend on the other runs of the block.
    """
    n, runs = X0.shape
    S = np.empty((4, runs), dtype=np.uint64)
    X = np.empty((n, runs))
    for r in range(runs):
        S[:, r] = rng_state(seeds[r])
        s = S[:, r]
        for i in range(n):
            X[i, r] = poisson(s, X0[i, r]) if zipf_initial else np.round(X0[i, r])
    expected = np.empty((len(FLOWS), n, runs))
    out = np.empty((n + len(FLOWS), runs))
    eff = np.empty_like(params)
    work = np.empty((WORK_ROWS, runs))
    week_flows = np.empty((len(FLOWS), runs))
    scratch = np.empty((_SCRATCH_ROWS, runs))
    bits = np.empty(runs, dtype=np.uint64)
    for week in range(mult.shape[0]):
        apply_transfers(X, week, transfers, True, S)
        record(X, n, national, members[week], 0)
        e = epoch_of_week[week]
        in_force(params, mult, week, eff)
        derivative(X, out, n, eff, fixed_count, forces[week], g, inv_a[e], removal[e],
                   indptr[e], indices, data, work, 1.0, expected)  # fmt: skip
        week_flows[:] = 0.0
        for i in range(n):
            _draw_group_week(S, X[i], expected, i, week_flows, scratch, bits)
        flows[week] = week_flows
    record(X, n, national, members[mult.shape[0]], 0)


#: Rows of the stochastic kernel's per-run scratch array.
_SCRATCH_ROWS = 10


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _draw_group_week(S, x, expected, i, flows, scratch, bits):
    """Group i's week in stochastic mode, for every run of the block: x (runs,) its members,
    changed in place; adds the week's flows to flows (5, runs).

    Recruits ~ Poisson(expected recruits). Each member leaves with probability
    1 - exp(-h), h = total exit rate per member, so exits ~ Binomial(x, 1 - exp(-h)); the
    leavers are split among the causes in proportion to their expected sizes (a multinomial
    draw). Inversion (one uniform each, vectorized over the runs) where the mean is small;
    the runs with larger means go one by one through the exact samplers above.
    """
    runs = x.shape[0]
    lam, rate, u, first, k, p, ratio = (
        scratch[0], scratch[1], scratch[2], scratch[3], scratch[4], scratch[5], scratch[6],
    )  # fmt: skip
    a1, a2, a3 = scratch[7], scratch[8], scratch[9]
    rec, inc, kil, con, sat = (
        expected[0, i], expected[1, i], expected[2, i], expected[3, i], expected[4, i],
    )  # fmt: skip
    # Recruits: inversion below a mean of 10 (P(k) = P(k - 1) lam / k), PTRS above.
    for r in range(runs):
        lam[r] = rec[r] if rec[r] < 10.0 else 0.0  # 0: drawn below, one by one
        rate[r] = inc[r] + kil[r] + con[r] + sat[r]
    _uniforms(S, u, bits)
    _exp_neg(lam, first, bits)
    _poisson_inversion(u, lam, first, k, p)
    for r in range(runs):
        if rec[r] >= 10.0 or k[r] < 0.0:  # a large mean, or (rarely) rounding: exactly
            k[r] = poisson(S[:, r], rec[r])
        flows[0, r] += k[r]
        x[r] += k[r]  # applied after the exits below, which use the members before
        lam[r] = k[r]  # the recruits, kept for the exits
    # Exits: Binomial(n, p), n = members at the start of the week, (1 - p)^n = exp(-rate).
    for r in range(runs):
        n = x[r] - lam[r]
        small = n > 0.0 and rate[r] > 0.0
        per_member = rate[r] / n if small else 0.0
        a1[r] = per_member
        a2[r] = rate[r] if small else 0.0
    _exp_neg(a1, p, bits)  # q = exp(-h)
    _exp_neg(a2, first, bits)  # q^n = exp(-rate)
    for r in range(runs):
        n = x[r] - lam[r]
        q = p[r]
        prob = 1.0 - q
        ratio[r] = prob / q
        lam[r] = n  # from here on: the members before the week
        if prob > 0.5 or n * prob >= 30.0:
            first[r] = -1.0  # drawn below, one by one
    _uniforms(S, u, bits)
    _binomial_inversion(u, lam, first, ratio, k, p)
    most = 0.0
    for r in range(runs):
        n = lam[r]
        if not (n > 0.0 and rate[r] > 0.0):
            k[r] = 0.0
        elif first[r] < 0.0 or k[r] < 0.0:  # a large mean, or (rarely) rounding: exactly
            k[r] = binomial(S[:, r], n, -math.expm1(-rate[r] / n))
        x[r] -= k[r]
        if k[r] <= SPLIT_BY_MEMBER:
            most = max(most, k[r])
    # The causes: one categorical draw per leaver (up to SPLIT_BY_MEMBER leavers).
    for r in range(runs):
        a1[r] = inc[r]
        a2[r] = inc[r] + kil[r]
        a3[r] = a2[r] + con[r] if sat[r] > 0.0 else np.inf
        ratio[r] = 0.0  # incapacitated
        p[r] = 0.0  # state kills
        first[r] = 0.0  # conflict deaths
        lam[r] = k[r] if k[r] <= SPLIT_BY_MEMBER else 0.0
    for j in range(int(most)):
        _uniforms_where(S, u, bits, lam, j)
        for r in range(runs):
            v = u[r] * rate[r] if j < lam[r] else np.inf  # inf: no leaver j in this run
            ratio[r] += 1.0 if v < a1[r] else 0.0
            p[r] += 1.0 if (v >= a1[r]) & (v < a2[r]) else 0.0
            first[r] += 1.0 if (v >= a2[r]) & (v < a3[r]) else 0.0
    for r in range(runs):
        if k[r] > SPLIT_BY_MEMBER:
            split(S[:, r], k[r], expected[1:, i, r], flows[1:, r])
        else:
            flows[1, r] += ratio[r]
            flows[2, r] += p[r]
            flows[3, r] += first[r]
            flows[4, r] += k[r] - ratio[r] - p[r] - first[r]


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _poisson_inversion(u, lam, first, k, p):
    """k[r] = the smallest k with u[r] < P(0) + ... + P(k), P the Poisson(lam[r]) law,
    P(0) = first[r]; -1 where rounding leaves u[r] above the sum at _MAX_TERMS terms.

    Term j for every run at once, until every run has its k: branch-free, so it vectorizes
    (u[r] - P(0) - ... - P(j) only decreases, and k[r] counts the terms it is >= 0 after)."""
    runs = u.shape[0]
    for r in range(runs):
        k[r] = 0.0
        p[r] = first[r]
        u[r] -= first[r]
    for j in range(1, _MAX_TERMS):
        inv = _INVERSE[j]
        top = -1.0
        for r in range(runs):
            k[r] += 1.0 if u[r] >= 0.0 else 0.0
            p[r] *= lam[r] * inv
            u[r] -= p[r]
            top = max(top, u[r])
        if top < 0.0:
            return
    for r in range(runs):
        if u[r] >= 0.0:
            k[r] = -1.0


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _binomial_inversion(u, n, first, ratio, k, p):
    """k[r] = the smallest k with u[r] < P(0) + ... + P(k), P the Binomial(n[r], .) law with
    P(0) = first[r] and P(k) / P(k - 1) = (n - k + 1) / k ratio[r]; -1 where rounding leaves
    u[r] above the sum; runs with first[r] < 0 are skipped (k[r] = 0). As
    _poisson_inversion."""
    runs = u.shape[0]
    for r in range(runs):
        k[r] = 0.0
        p[r] = first[r] if first[r] >= 0.0 else 0.0
        u[r] = u[r] - p[r] if first[r] >= 0.0 else -1.0
    for j in range(1, _MAX_TERMS):
        inv = _INVERSE[j]
        top = -1.0
        for r in range(runs):
            k[r] += 1.0 if u[r] >= 0.0 else 0.0
            p[r] *= max(n[r] - j + 1.0, 0.0) * inv * ratio[r]
            u[r] -= p[r]
            top = max(top, u[r])
        if top < 0.0:
            return
    for r in range(runs):
        if u[r] >= 0.0:
            k[r] = -1.0


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _uniforms(S, u, bits):
    """u[r] = the next uniform on [0, 1) of run r's xoshiro256+ stream (column r of S)."""
    s0, s1, s2, s3 = S[0], S[1], S[2], S[3]
    for r in range(u.shape[0]):
        a0, a1, a2, a3 = s0[r], s1[r], s2[r], s3[r]
        result = a0 + a3
        t = a1 << _U64(17)
        a2 ^= a0
        a3 ^= a1
        a1 ^= a2
        a0 ^= a3
        a2 ^= t
        a3 = (a3 << _U64(45)) | (a3 >> _U64(19))
        s0[r], s1[r], s2[r], s3[r] = a0, a1, a2, a3
        u[r] = float(result >> _MASK53) * _TO_DOUBLE


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _uniforms_where(S, u, bits, count, j):
    """_uniforms for the runs with j < count[r] only; the others' streams do not move."""
    s0, s1, s2, s3 = S[0], S[1], S[2], S[3]
    for r in range(u.shape[0]):
        a0, a1, a2, a3 = s0[r], s1[r], s2[r], s3[r]
        result = a0 + a3
        t = a1 << _U64(17)
        b2 = a2 ^ a0
        b3 = a3 ^ a1
        b1 = a1 ^ b2
        b0 = a0 ^ b3
        b2 ^= t
        b3 = (b3 << _U64(45)) | (b3 >> _U64(19))
        take = j < count[r]
        s0[r] = b0 if take else a0
        s1[r] = b1 if take else a1
        s2[r] = b2 if take else a2
        s3[r] = b3 if take else a3
        u[r] = float(result >> _MASK53) * _TO_DOUBLE


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _exp_neg(y, out, bits):
    """out[r] = exp(-y[r]) for y[r] >= 0 (700 at most: larger y get exp(-700)), in a loop
    that vectorizes: y = m ln 2 + d, |d| <= ln(2) / 2, exp(-d) by its Taylor series to
    degree 13 (truncation below 1e-17 relative) times 2^-m from a table. Within a few ulp
    of math.exp (tests/test_stochastic_draws.py)."""
    for r in range(y.shape[0]):
        z = min(y[r], 700.0)
        m = math.floor(z * _LOG2E + 0.5)
        d = -((z - m * _LN2_HI) - m * _LN2_LO)
        t = 1.0 / 6227020800.0
        t = t * d + 1.0 / 479001600.0
        t = t * d + 1.0 / 39916800.0
        t = t * d + 1.0 / 3628800.0
        t = t * d + 1.0 / 362880.0
        t = t * d + 1.0 / 40320.0
        t = t * d + 1.0 / 5040.0
        t = t * d + 1.0 / 720.0
        t = t * d + 1.0 / 120.0
        t = t * d + 1.0 / 24.0
        t = t * d + 1.0 / 6.0
        t = t * d + 0.5
        t = t * d + 1.0
        t = t * d + 1.0
        out[r] = t * _POW2_NEG[m]


#: 2^-m for m = 0 .. 1023.
_POW2_NEG = 2.0 ** -np.arange(1024.0)
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


@numba.njit(cache=True)
def apply_transfers(X, week, transfers, draw, s):
    """Member moves (splits, mergers) and new groups scheduled at the start of `week`; with
    draw (the stochastic mode), whole members: a binomial share moves (run r drawing from
    its generator state s[:, r]; s is unused otherwise), counts are rounded."""
    for k in range(transfers.shape[0]):
        if int(transfers[k, 0]) != week:
            continue
        src, dst, amount = int(transfers[k, 2]), int(transfers[k, 3]), transfers[k, 4]
        for r in range(X.shape[1]):
            if int(transfers[k, 1]) == MOVE:
                moved = X[src, r] * amount
                if draw:
                    moved = binomial(s[:, r], X[src, r], amount)
                X[src, r] -= moved
                X[dst, r] += moved
            elif int(transfers[k, 1]) == ADD:
                X[dst, r] += np.round(amount) if draw else amount


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def record(X, n, national, out, lo):
    """One week's members of a block of runs, from the state X (the groups in rows 0..n-1),
    into out[:, lo:lo + runs] (out = members[week]): every group's, or with national their
    total in row 0, added in group order as members.sum(axis=1) adds them."""
    runs = X.shape[1]
    if national:
        total = out[0]
        for r in range(runs):
            total[lo + r] = 0.0
        for i in range(n):
            xi = X[i]
            for r in range(runs):
                total[lo + r] += xi[r]
    else:
        for i in range(n):
            row, xi = out[i], X[i]
            for r in range(runs):
                row[lo + r] = xi[r]


# ---------------------------------------------------------------------------------------
# The stochastic mode's random numbers: a generator of its own per run and exact samplers.
#
# Numba's np.random is one global Mersenne Twister and its samplers recompute their set-up
# at every call; the stochastic mode draws about 300,000 variates per PC2023 run, most of
# them Poisson or binomial with means of 0.1-20. These samplers are exact (the same laws
# as numpy's, up to floating-point rounding in the probabilities; tests/test_stochastic_
# draws.py compares them with numpy's samplers by chi-square tests):
# - uniforms from xoshiro256+ (Blackman & Vigna 2018), 53 bits per double, its state
#   seeded from the run's seed by splitmix64, four uint64 per run (`rng_state`);
# - Poisson: inversion by sequential search below a mean of 10, else Hormann's PTRS
#   transformed rejection (1993; numpy's algorithm for those means);
# - binomial: inversion when n min(p, 1-p) < 30 (as numpy), else Hormann's BTRS (1993);
# - multinomial splits of a group's exits among their causes: one categorical draw per
#   member when there are at most SPLIT_BY_MEMBER of them, else sequential binomials.
# The stochastic kernel runs the inversions and categorical draws for all the runs of a
# block at once (_draw_group_week), and these scalar samplers for the rest.
# ---------------------------------------------------------------------------------------

#: The inversion loops multiply by 1/k from this table instead of dividing.
_INVERSE = np.concatenate(([0.0], 1.0 / np.arange(1.0, 257.0)))
#: Inversion samplers give up past this many terms and draw again (Poisson below a mean of
#: 10 reaches it with probability below 1e-150; the binomial's own bound comes first).
_MAX_TERMS = 256
#: Exits split one member at a time (a categorical draw each) up to this many.
SPLIT_BY_MEMBER = 64

_U64 = np.uint64
_MASK53 = _U64(11)
_TO_DOUBLE = 2.0**-53


@numba.njit(inline="always")
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@numba.njit(cache=True)
def rng_state(seed):
    """The xoshiro256+ state (4 uint64) of one run, from its seed through splitmix64."""
    s = np.empty(4, dtype=np.uint64)
    z = _U64(seed)
    for i in range(4):
        z = z + _U64(0x9E3779B97F4A7C15)
        v = z
        v = (v ^ (v >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        v = (v ^ (v >> _U64(27))) * _U64(0x94D049BB133111EB)
        s[i] = v ^ (v >> _U64(31))
    return s


@numba.njit(inline="always")
def uniform(s):
    """A double uniform on [0, 1) (53 random bits) from xoshiro256+ state s; advances s."""
    result = s[0] + s[3]
    t = s[1] << _U64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return float(result >> _MASK53) * _TO_DOUBLE


@numba.njit(cache=True, error_model="numpy")
def poisson(s, lam):
    """A Poisson(lam) variate, as a float."""
    if not lam > 0.0:
        return 0.0
    if lam < 10.0:
        first = math.exp(-lam)
        while True:
            u, p, k = uniform(s), first, 0
            while u > p:
                u -= p
                k += 1
                if k >= _MAX_TERMS:
                    break
                p *= lam * _INVERSE[k]
            if k < _MAX_TERMS:
                return float(k)
    return _poisson_ptrs(s, lam)


@numba.njit(cache=True, error_model="numpy")
def _poisson_ptrs(s, lam):
    """Hormann (1993), "The transformed rejection method for generating Poisson random
    variables", Insurance: Mathematics and Economics 12:39; for lam >= 10, as numpy."""
    slam, loglam = math.sqrt(lam), math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = uniform(s) - 0.5
        v = uniform(s)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= (
            -lam + k * loglam - math.lgamma(k + 1.0)
        ):
            return k


@numba.njit(cache=True, error_model="numpy")
def binomial(s, n, p):
    """A Binomial(n, p) variate (n a whole number, as a float), as a float."""
    if n <= 0.0 or not p > 0.0:
        return 0.0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial(s, n, 1.0 - p)
    return _binomial_low(s, n, p, math.exp(n * math.log1p(-p)), p / (1.0 - p))


@numba.njit(cache=True, error_model="numpy")
def _binomial_low(s, n, p, qn, ratio):
    """Binomial(n, p) for p <= 1/2, given qn = (1 - p)^n and ratio = p / (1 - p)."""
    mean = n * p
    if mean >= 30.0:
        return _binomial_btrs(s, n, p)
    # Inversion, as numpy's: P(k + 1) = P(k) (n - k) / (k + 1) p / (1 - p), up to `bound`
    # (past it, only rounding is left: draw again).
    bound = min(n, _MAX_TERMS - 1.0)
    while True:
        u, px, k = uniform(s), qn, 0
        while u > px:
            u -= px
            k += 1
            if k > bound:
                break
            px *= (n - k + 1.0) * _INVERSE[k] * ratio
        if k <= bound:
            return float(k)


@numba.njit(cache=True, error_model="numpy")
def _binomial_btrs(s, n, p):
    """Hormann (1993), "The generation of binomial random variates", J. Statist. Comput.
    Simul. 46:101, algorithm BTRS; for p <= 1/2 and n p >= 10."""
    q = 1.0 - p
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = math.log(p / q)
    m = math.floor((n + 1.0) * p)
    h = math.lgamma(m + 1.0) + math.lgamma(n - m + 1.0)
    while True:
        u = uniform(s) - 0.5
        v = uniform(s)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0.0 or k > n:
            continue
        if us >= 0.07 and v <= vr:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        if v <= h - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + (k - m) * lpq:
            return k


@numba.njit(cache=True, error_model="numpy")
def split(s, left, weights, out):
    """Multinomial(left; weights / sum(weights)), added to out (one entry per weight, all
    >= 0 with a positive sum)."""
    total = 0.0
    for c in range(weights.shape[0]):
        total += weights[c]
    if left <= SPLIT_BY_MEMBER:
        for _ in range(int(left)):
            u, chosen = uniform(s) * total, 0
            for c in range(weights.shape[0]):
                if weights[c] > 0.0:
                    chosen = c  # u beyond the sum by rounding: the last cause with weight
                    if u < weights[c]:
                        break
                    u -= weights[c]
            out[chosen] += 1.0
        return
    remaining = total  # sequential binomials: cause c given the causes before it
    for c in range(weights.shape[0]):
        w = weights[c]
        if left <= 0.0:
            return
        if w <= 0.0:
            continue
        share = left if w >= remaining else binomial(s, left, w / remaining)
        out[c] += share
        left -= share
        remaining -= w
