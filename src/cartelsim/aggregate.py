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
split among their causes (a multinomial draw), from one xoshiro256+ stream per run, with
exact samplers vectorized over the runs of a block (integrators.py,
tests/test_stochastic_draws.py).

Arrays are (groups, runs) so the inner loop runs over the ensemble, contiguous in memory; the
Numba kernels hold the only loops over groups and runs. simulate(dtype=np.float32) stores the
members in single precision (integrated in float64), for ensembles whose speed is bound by
writing them.

The code is split by concern, and imports point one way (aggregate -> integrators -> flows):
- flows.py: the model, i.e. the flows above and dC/dt, written once (`flows.derivative`);
  every integrator and the stochastic mode evaluate that, so a change to the model is
  made in one place;
- integrators.py: the Numba kernels that step a block of runs through the weeks (dopri5,
  rk4 or euler, stochastic draws), with the transfers between weeks and the output;
- this module: `simulate`, which picks the kernel, cuts the ensemble into blocks (and
  redoes the dopri5 runs that need shorter steps), and turns the plan into the flat arrays
  the kernels take.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cartelsim import integrators
from cartelsim.plan import Plan
from cartelsim.rng import run_seeds
from cartelsim.trajectories import FLOWS, Trajectories

#: Runs simulated together in one kernel call; also the unit of progress reporting.
BLOCK = 64
#: The same in stochastic mode, whose draws run over the runs of a block at once: 128 runs
#: were 10-20 % faster than 64 or 256 on PC2023 (benchmarks/README.md).
STOCHASTIC_BLOCK = 128
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
    dtype=np.float64,
) -> Trajectories:
    """Run an ensemble. `params` (P, runs) overrides the scenario's values run by run;
    `initial` (groups, runs) overrides the start state. Results for run r depend only on the
    scenario, `seed`, r and that run's parameters, never on how many runs go together;
    `first_run` makes these runs first_run, first_run + 1, ... of a larger ensemble (a chunk).

    record="national" keeps only the total members over the groups each week (members of
    shape (weeks + 1, 1, runs); flows unchanged), for uses that need national series only
    (sensitivity analysis, policy comparison, large ensembles): every group's stock every
    week is 625 kB per run on PC2023, and writing it costs most of the "dopri5" time.

    dtype=np.float32 stores `members` in single precision (flows stay float64): every group
    every week at half the memory and, with "dopri5", nearly twice the speed (the output is
    what bounds it: benchmarks/README.md). The state is still integrated in float64; only
    the recorded values are rounded, to 6e-8 relative (stochastic counts below 2^24 are
    exact). The default, float64, is unchanged.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise ValueError(f"dtype: must be float64 or float32, not {dtype}")
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
    members = np.empty((plan.weeks + 1, 1 if national else plan.n_groups, runs), dtype=dtype)
    flows = np.empty((plan.weeks, len(FLOWS), runs))
    network = _network_arrays(plan)
    integrator = plan.scenario.simulation.integrator
    if not stochastic and integrator == "dopri5":
        _dopri5_ensemble(plan, params, initial, network, national, members, flows, progress)
        return Trajectories(members, flows, params)
    rk4 = integrator == "rk4"
    width = STOCHASTIC_BLOCK if stochastic else BLOCK
    for lo in range(0, runs, width):
        hi = min(lo + width, runs)
        block_params = np.ascontiguousarray(params[:, lo:hi], dtype=float)
        block_start = np.ascontiguousarray(initial[:, lo:hi], dtype=float)
        if stochastic:
            integrators.stochastic(
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
            integrators.weekly(block_start, rk4, block_params, *_common(plan), *network,
                               states, national, out_m, out_f)  # fmt: skip
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
                integrators.dopri5(block_start, block_params, *common, *network, boundaries,
                                   step, tolerance, national, members, flows, lo,
                                   error)  # fmt: skip
            else:
                m = np.empty((plan.weeks + 1, members.shape[1], todo.size), dtype=members.dtype)
                f = np.empty((plan.weeks, len(FLOWS), todo.size))
                integrators.dopri5(np.ascontiguousarray(block_start[:, todo]),
                                   np.ascontiguousarray(block_params[:, todo]), *common,
                                   *network, boundaries, step, tolerance, national, m, f, 0,
                                   error)  # fmt: skip
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
    """The plan's arrays every kernel takes, in the kernels' argument order."""
    return (
        plan.fixed_count,
        np.ascontiguousarray(plan.multipliers),
        np.ascontiguousarray(plan.forces),
        np.ascontiguousarray(plan.recruitment_multiplier, dtype=float),
        np.ascontiguousarray(plan.transfers),
    )


def _network_arrays(plan: Plan) -> tuple:
    """Epochs as flat arrays: week each starts, 1/(A+1), leader-removal exposure and E in
    CSR form. Made once per plan (a calibration simulates one plan thousands of times);
    treat the arrays as read-only."""
    cached = plan.__dict__.get("_network_arrays")
    if cached is None:
        cached = _make_network_arrays(plan)
        object.__setattr__(plan, "_network_arrays", cached)
    return cached


def _make_network_arrays(plan: Plan) -> tuple:
    n = plan.n_groups
    starts = np.array([e.start for e in plan.epochs], dtype=np.int64)
    epoch_of_week = np.searchsorted(starts, np.arange(plan.weeks), side="right") - 1
    inv_alliance = np.array([e.inv_alliance for e in plan.epochs])
    removal = np.array([e.removal for e in plan.epochs])
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
        removal,
        indptr,
        np.array(indices, dtype=np.int64),
        np.array(data, dtype=float),
    )
