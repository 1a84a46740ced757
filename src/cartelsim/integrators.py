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

import numba
import numpy as np

from cartelsim.flows import WORK_ROWS, derivative, expected_flows, in_force
from cartelsim.plan import ADD, MOVE
from cartelsim.trajectories import FLOWS


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def weekly(
    X0, rk4, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, boost, indptr, indices, data, states, national, members, flows,
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
    steps = np.array([0.5, 0.5, 1.0])
    stages = weights.shape[0]
    for week in range(mult.shape[0]):
        now, after = (week % 2, (week + 1) % 2) if national else (week, week + 1)
        X = states[now]
        apply_transfers(X, week, transfers, False)
        if national:
            record(X, n, True, members[week], 0)
        e = epoch_of_week[week]
        in_force(params, mult, week, eff)
        flows[week] = 0.0
        src = X
        for s in range(stages):
            w = weights[s]
            derivative(src, k, n, eff, fixed_count, forces[week], g, inv_a[e], boost[e],
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
    epoch_of_week, inv_a, boost, indptr, indices, data,
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
    weeks = mult.shape[0]
    t, b = 0, 0
    while t < weeks:
        apply_transfers(y, t, transfers, False)
        record(y, n, national, members[t], lo)
        while boundaries[b] <= t:
            b += 1
        h = min(max_step, boundaries[b] - t)
        e, force = epoch_of_week[t], forces[t]
        in_force(params, mult, t, eff)
        for i in range(n, rows):
            y[i] = 0.0  # flows are integrated from the start of the step
        derivative(y, k[0], n, eff, fixed_count, force, g, inv_a[e], boost[e], indptr[e],
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
            derivative(z, k[s], n, eff, fixed_count, force, g, inv_a[e], boost[e],
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
    epoch_of_week, inv_a, boost, indptr, indices, data, national, members, flows,
):  # fmt: skip
    """Simulate a block of runs one after another, each from its own random stream; with
    national, members[:, 0] gets the total over the groups (the draws do not change).

    Every week, flows.expected_flows gives each group's expected flows for this run's state
    (derivative's by_group, for one run), and _draw_group_week draws the week's recruits
    and exits around them. Runs
    go one at a time because Numba's generator is one global stream: each run reseeds it.
    """
    n, runs = X0.shape
    expected = np.empty((n, len(FLOWS)))
    eff = np.empty((params.shape[0], 1))
    work = np.empty((WORK_ROWS, 1))
    X = np.empty((n, 1))  # one run, as a block of one: (groups, runs) arrays
    x = X[:, 0]
    for r in range(runs):
        np.random.seed(seeds[r])
        for i in range(n):
            x[i] = float(np.random.poisson(X0[i, r])) if zipf_initial else np.round(X0[i, r])
        for week in range(mult.shape[0]):
            apply_transfers(X, week, transfers, True)
            record(X, n, national, members[week], r)
            e = epoch_of_week[week]
            in_force(params[:, r : r + 1], mult, week, eff)
            expected_flows(X, n, eff, fixed_count, forces[week], g, inv_a[e], boost[e],
                           indptr[e], indices, data, work, expected)  # fmt: skip
            out = flows[week, :, r]
            out[:] = 0.0
            for i in range(n):
                x[i] += _draw_group_week(x[i], expected[i], out)
        record(X, n, national, members[mult.shape[0]], r)


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


@numba.njit(cache=True)
def apply_transfers(X, week, transfers, draw):
    """Member moves (splits, mergers) and new groups scheduled at the start of `week`; with
    draw (the stochastic mode), whole members: a binomial share moves, counts are rounded."""
    for k in range(transfers.shape[0]):
        if int(transfers[k, 0]) != week:
            continue
        src, dst, amount = int(transfers[k, 2]), int(transfers[k, 3]), transfers[k, 4]
        for r in range(X.shape[1]):
            if int(transfers[k, 1]) == MOVE:
                moved = X[src, r] * amount
                if draw:
                    moved = float(np.random.binomial(int(X[src, r]), amount))
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
