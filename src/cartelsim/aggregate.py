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
the ODE with one of three integrators (`simulation.integrator`):
- "dopri5" (the default): Dormand-Prince 5(4) steps of up to a year, ended wherever the plan
  changes, with the method's dense output at every week. The model is smooth, so a few large
  steps are as accurate as many small ones: on PC2023 it agrees with LSODA to 4e-8 relative
  (members and weekly flows) with 70 derivative evaluations per run, against 2,080 for RK4;
  its speed is then bound by writing every group's weekly members, unless
  simulate(record="national") keeps only their total (benchmarks/README.md);
- "rk4": classic RK4 with a weekly step (within 2e-10 of LSODA on PC2023);
- "euler": the weekly difference equation.
Stochastic mode draws each week's recruits from a Poisson law and exits from a binomial law
split among their causes.

Arrays are (groups, runs) so the inner loop runs over the ensemble, contiguous in memory; the
Numba kernels hold the only loops over groups and runs.
"""

from __future__ import annotations

from typing import Literal

import numba
import numpy as np

from cartelsim.plan import ADD, MOVE, Plan
from cartelsim.rng import run_seeds
from cartelsim.trajectories import FLOWS, Trajectories

#: Runs simulated together in one kernel call; also the unit of progress reporting.
BLOCK = 64
#: The same for the "dopri5" integrator, whose speed is bound by writing the weekly output:
#: wider blocks write longer contiguous stretches of `members` (measured in benchmarks/).
WIDE_BLOCK = 512
#: The same with simulate(record="national"), which writes 150 times less: the block's
#: working arrays then matter more, and narrower blocks are 10-18 % faster (benchmarks/).
NATIONAL_BLOCK = 256
#: "dopri5": longest step, in weeks, and the largest local error estimate accepted per step,
#: relative to the run's total members. A run whose estimates exceed it is integrated again
#: with steps half as long (down to one week).
STEP_WEEKS = 52
TOLERANCE = 1e-8


def simulate(
    plan: Plan,
    runs: int = 1,
    seed: int = 0,
    params: np.ndarray | None = None,
    initial: np.ndarray | None = None,
    progress=None,
    record: Literal["groups", "national"] = "groups",
    first_run: int = 0,
) -> Trajectories:
    """Run an ensemble. `params` (P, runs) overrides the scenario's values run by run;
    `initial` (groups, runs) overrides the start state. Results for run r depend only on the
    scenario, `seed`, r and that run's parameters, never on how many runs go together;
    `first_run` makes these runs first_run, first_run + 1, ... of a larger ensemble (a chunk).

    record="national" keeps only the total members over the groups each week (members of
    shape (weeks + 1, 1, runs); flows unchanged), for uses that need national series only
    (sensitivity analysis, policy comparison, large ensembles): every group's stock every
    week is 625 kB per run on PC2023, and writing it costs most of the "dopri5" time.
    """
    if record not in ("groups", "national"):
        raise ValueError(f"record: must be 'groups' or 'national', not {record!r}")
    national = record == "national"
    if params is None:
        params = np.repeat(plan.params[:, None], runs, axis=1)
    if initial is None:
        initial = np.repeat(plan.initial[:, None], runs, axis=1)
    stochastic = plan.scenario.simulation.mode == "stochastic"
    # Only the stochastic mode draws: the seeds (about 10 us per run) are made for it alone;
    # run_seeds(seed, 0) still checks `seed`.
    seeds = run_seeds(seed, runs if stochastic else 0, first_run)
    members = np.empty((plan.weeks + 1, 1 if national else plan.n_groups, runs))
    flows = np.empty((plan.weeks, len(FLOWS), runs))
    network = _network_arrays(plan)
    integrator = plan.scenario.simulation.integrator
    if not stochastic and integrator == "dopri5":
        _dopri5_ensemble(plan, params, initial, network, national, members, flows, progress)
        return Trajectories(members, flows, params)
    rk4 = integrator == "rk4"
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
                national,
                members[:, :, lo:hi],
                flows[:, :, lo:hi],
            )
        else:
            m, f = members[:, :, lo:hi], flows[:, :, lo:hi]
            out_m, out_f = np.empty(m.shape), np.empty(f.shape)
            # The kernel keeps each week's state in `states`: the members output itself, or,
            # for a national record, two weeks in turn (the current one and the next).
            states = np.empty((2, plan.n_groups, hi - lo)) if national else out_m
            _deterministic(block_start, rk4, block_params, *_common(plan), *network, states,
                           national, out_m, out_f)  # fmt: skip
            m[...], f[...] = out_m, out_f
        if progress is not None:
            progress(hi - lo)
    return Trajectories(members, flows, params)


def _dopri5_ensemble(
    plan: Plan, params, initial, network, national: bool, members, flows, progress
) -> None:
    """Fill members and flows with the "dopri5" integrator, WIDE_BLOCK runs per kernel call
    (NATIONAL_BLOCK with national).

    Every run first takes steps of STEP_WEEKS; the runs whose error estimate exceeds
    TOLERANCE are integrated again, together, with steps half as long, and so on. Which steps
    a run ends up with depends on its own estimates only, so its numbers do not depend on
    the other runs of the ensemble.
    """
    boundaries = _step_boundaries(plan)
    common = _common(plan)
    runs = params.shape[1]
    width = NATIONAL_BLOCK if national else WIDE_BLOCK
    for lo in range(0, runs, width):
        hi = min(lo + width, runs)
        block_params = np.ascontiguousarray(params[:, lo:hi], dtype=float)
        block_start = np.ascontiguousarray(initial[:, lo:hi], dtype=float)
        todo, step = np.arange(hi - lo), STEP_WEEKS
        while True:
            tolerance = TOLERANCE if step > 1 else np.inf  # weekly steps are kept as they are
            error = np.empty(todo.size)
            if todo.size == hi - lo:  # the whole block: straight into the ensemble's arrays
                _dopri5(block_start, block_params, *common, *network, boundaries, step,
                        tolerance, national, members, flows, lo, error)  # fmt: skip
            else:
                m = np.empty((plan.weeks + 1, members.shape[1], todo.size))
                f = np.empty((plan.weeks, len(FLOWS), todo.size))
                _dopri5(np.ascontiguousarray(block_start[:, todo]),
                        np.ascontiguousarray(block_params[:, todo]), *common, *network,
                        boundaries, step, tolerance, national, m, f, 0, error)  # fmt: skip
                members[:, :, lo + todo], flows[:, :, lo + todo] = m, f
            todo = todo[~(error <= tolerance)]
            if step == 1 or not todo.size:
                break
            step = max(step // 2, 1)
        if progress is not None:
            progress(hi - lo)


def _step_boundaries(plan: Plan) -> np.ndarray:
    """Weeks at which a "dopri5" step must end, ascending and ending with plan.weeks: where
    a network epoch starts, members are transferred, or a policy or the forces change."""
    marks = {plan.weeks, *(e.start for e in plan.epochs)}
    marks.update(int(week) for week in plan.transfers[:, 0] if week < plan.weeks)
    changed = np.any(plan.multipliers[1:] != plan.multipliers[:-1], axis=1)
    changed |= plan.forces[1:] != plan.forces[:-1]
    marks.update((np.flatnonzero(changed) + 1).tolist())
    return np.array(sorted(marks), dtype=np.int64)


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
    epoch_of_week, inv_a, boost, indptr, indices, data, states, national, members, flows,
):  # fmt: skip
    """Integrate a block of runs with a fixed weekly step (RK4 or Euler); fill members, flows.

    The state at the start of week t is kept in states[t] when states is the members output
    itself (national False), else in states[t % 2]; with national, members[t, 0] gets the
    total over the groups.

    How the work is arranged for speed (results equal the plain formulas, as in _rates, up to
    rounding: 4e-15 relative at most on the built-in scenarios):
    - every flow is a per-member rate times x = C_i, so the derivative is x * (rate) and the
      national flows come from per-run sums (N, sum g x, sum x^2, sum x K x) instead of a
      (5, groups, runs) array; no division per element (incapacitation uses eta / N per run);
    - the state at the start of week t lives in its row of states: the last stage writes the
      new state straight there, so the stock is never copied;
    - stage inputs are double-buffered (a, b) because the conflict term of a later group
      still reads the current input of an earlier one;
    - inner loops run over the runs of one group, through 1-D row views, and each touches
      few arrays: LLVM vectorizes a loop only if it can check cheaply that its arrays do
      not overlap. That is also why the derivative loop is written out once per kind of
      stage (first, middle, last, or Euler's only one) rather than testing s inside it:
      with the tests inside, it does not vectorize and the kernel is 1.5x slower.
    """
    n, runs = X0.shape
    states[0] = X0
    a, b, acc = np.empty((n, runs)), np.empty((n, runs)), np.empty((n, runs))
    eff = np.empty_like(params)
    N, Y, G, Q = np.empty(runs), np.empty(runs), np.empty(runs), np.empty(runs)
    loss, conflict, T = np.empty(runs), np.empty(runs), np.empty(runs)
    weights = np.array([1.0, 2.0, 2.0, 1.0]) / 6.0 if rk4 else np.array([1.0])
    steps = np.array([0.5, 0.5, 1.0])
    stages = weights.shape[0]
    for week in range(mult.shape[0]):
        now, after = (week % 2, (week + 1) % 2) if national else (week, week + 1)
        X = states[now]
        _transfers(X, week, transfers, False)
        if national:
            _record(X, n, True, members[week], 0)
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
            dst = states[after] if last else (a if s % 2 == 0 else b)
            _sums(src, n, boost[e], g, N, Y, G, Q)
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
    if national:
        weeks = mult.shape[0]
        _record(states[weeks % 2], n, True, members[weeks], 0)


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _record(X, n, national, out, lo):
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


@numba.njit(inline="always")
def _rate(x, total, bi, gi, lethality, rec, loss, sat, lethal):
    """One group of one run: (c, d) with c = sum_j K_ij x_j and d = dx/dt.

    total = T + Y (see _deterministic); loss = exits per member that do not depend on the group.
    max(., 0): under a truce the sum cancels to +-1e-16, never a negative flow.
    """
    c = lethality * max(total - bi * x, 0.0)
    return c, x * (rec * gi - loss - sat * x - lethal * c)


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
def _dopri5(
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
    work = np.empty((7, runs))
    for i in range(rows):
        for r in range(runs):
            y[i, r] = X0[i, r] if i < n else 0.0
    error[:] = 0.0
    weeks = mult.shape[0]
    t, b = 0, 0
    while t < weeks:
        _transfers(y, t, transfers, False)
        _record(y, n, national, members[t], lo)
        while boundaries[b] <= t:
            b += 1
        h = min(max_step, boundaries[b] - t)
        e, force = epoch_of_week[t], forces[t]
        for p in range(params.shape[0]):
            for r in range(runs):
                eff[p, r] = params[p, r] * mult[t, p]
        for i in range(n, rows):
            y[i] = 0.0  # flows are integrated from the start of the step
        _derivative(y, k[0], n, eff, fixed_count, force, g, inv_a[e], boost[e], indptr[e],
                    indices, data, work)  # fmt: skip
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
            _derivative(z, k[s], n, eff, fixed_count, force, g, inv_a[e], boost[e],
                        indptr[e], indices, data, work)  # fmt: skip
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
    _record(y, n, national, members[weeks], lo)


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
def _derivative(src, dst, n, eff, fixed_count, force, g, inv_a, boost, indptr, indices, data,
                work):  # fmt: skip
    """dst = d(src)/dt for a block of runs: the groups' members in rows 0..n-1, the national
    flows (in FLOWS order) below. The same terms as _rates and _deterministic."""
    N, Y, G, Q, loss, conflict, T = work[0], work[1], work[2], work[3], work[4], work[5], work[6]
    runs = src.shape[1]
    rec, incap_rate, lethal, sat, arrest, kill = eff[0], eff[1], eff[2], eff[3], eff[4], eff[5]
    _sums(src, n, boost, g, N, Y, G, Q)
    for r in range(runs):
        if fixed_count:
            incap = incap_rate[r] / N[r] if N[r] > 0.0 else 0.0
        else:
            incap = incap_rate[r]
        loss[r] = incap + (arrest[r] + kill[r]) * force
        conflict[r] = 0.0
    for i in range(n):
        bi, gi = boost[i], g[i]
        lethality = inv_a[i] * bi
        xs, xd = src[i], dst[i]
        T[:] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            wj, xj = data[k] * boost[indices[k]], src[indices[k]]
            for r in range(runs):
                T[r] += wj * xj[r]
        for r in range(runs):
            x = xs[r]
            c, d = _rate(x, T[r] + Y[r], bi, gi, lethality, rec[r], loss[r], sat[r], lethal[r])
            conflict[r] += x * c
            xd[r] = d
    for r in range(runs):
        if fixed_count:
            incap = incap_rate[r] if N[r] > 0.0 else 0.0
        else:
            incap = incap_rate[r] * N[r]
        dst[n, r] = rec[r] * G[r]
        dst[n + 1, r] = incap + arrest[r] * force * N[r]
        dst[n + 2, r] = kill[r] * force * N[r]
        dst[n + 3, r] = lethal[r] * conflict[r]
        dst[n + 4, r] = sat[r] * Q[r]


@numba.njit(cache=True, error_model="numpy", boundscheck=False)
def _stochastic(
    X0, zipf_initial, seeds, params, fixed_count, mult, forces, g, transfers,
    epoch_of_week, inv_a, boost, indptr, indices, data, national, members, flows,
):  # fmt: skip
    """Simulate a block of runs one after another, each from its own random stream; with
    national, members[:, 0] gets the total over the groups (the draws do not change)."""
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
            _record(X, n, national, members[week], r)
            e = epoch_of_week[week]
            for p in range(params.shape[0]):
                eff[p] = params[p, r] * mult[week, p]
            _rates(x, eff, fixed_count, forces[week], g, inv_a[e], boost[e], indptr[e],
                   indices, data, comp)  # fmt: skip
            out = flows[week, :, r]
            out[:] = 0.0
            for i in range(n):
                x[i] += _draw_group_week(x[i], comp[i], out)
        _record(X, n, national, members[mult.shape[0]], r)


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
