"""Aggregate-engine benchmark: PC2023 ensemble throughput on one core vs a solve_ivp loop.

    python benchmarks/aggregate.py [--runs N] [--stochastic-runs M] [--seconds S] [--repeat R]
                                   [--data-dir DIR] [--json]

Measures, in one process and on one core (DESIGN.md section 7):

- cartelsim's PC2023 ensemble (150 groups, 520 weeks) in deterministic mode with the
  Dormand-Prince 5(4) integrator with dense output ("dopri5", the default), the weekly RK4
  and the weekly Euler step, and in stochastic mode, all through the public `simulate`, which
  returns every group's members at every week and the national weekly flows;
- the same dopri5 ensemble with `simulate(..., record="national")`, which returns only the
  total members over the groups at every week (and the same flows): what sensitivity
  analysis, policy comparison and large uncertainty ensembles need;
- the baseline: a plain per-run loop over `scipy.integrate.solve_ivp` (default RK45,
  t_eval = every week) on the same model written straightforwardly with numpy and a dense K,
  with its mean number of right-hand-side evaluations per run; it computes every group's
  members every week whatever is kept of them, so its cost is the same for both records;
- the output floor: allocating and filling (np.full) arrays of the shapes `simulate` returns,
  with nothing computed: no method that returns them can be faster on this machine;
- the one specialization of the right-hand side: each group's expected flows for ONE run,
  as the stochastic mode needs every week, from flows.derivative (the reference, on a block
  of one run) and from flows.expected_flows (plain loops over the groups, which the
  stochastic kernel uses), in microseconds per evaluation on PC2023's start state.

Every method integrates the same calibration-style ensemble: each run's rho, eta, theta and
omega are the published values times a lognormal factor (sigma 0.1, fixed seed). The JIT is
warmed up first, so compile time is excluded; each timing is the best of --repeat passes. The
stochastic mode runs only the first --stochastic-runs draws, the baseline only as many as fit
in --seconds (at least 3); ratios compare runs per second. The check column compares the
first run's final total members with the baseline's (tolerance 0.5 %). A stochastic run is one
random realization, which may differ from the ODE by more than that, so for the stochastic
mode the check compares the ensemble mean of the final totals with the RK4 ensemble's mean
over the same draws instead (the first run's difference is shown too). Targets (DESIGN.md 7):
>= 10,000 runs/s per core and >= 100x the solve_ivp loop; the verdicts printed are the
measured ones.

The PC2023 files are read from --data-dir, else CARTELSIM_DATA_DIR, else downloaded.
"""

from __future__ import annotations

import os

# One core: these must be set before numpy, scipy or numba are first imported.
for _var in (
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from cartelsim import aggregate, datasets, flows  # noqa: E402
from cartelsim.aggregate import STEP_WEEKS, simulate  # noqa: E402
from cartelsim.plan import Plan, make_plan  # noqa: E402
from cartelsim.scenario import PARAMETER_NAMES, Scenario, load_scenario  # noqa: E402
from cartelsim.trajectories import FLOWS  # noqa: E402

#: DESIGN.md section 7.
TARGET_RUNS_PER_SECOND = 10_000
TARGET_RATIO = 100.0
#: Final total members of run 0 must agree with the baseline within this relative tolerance.
AGREEMENT = 0.005
#: Parameters drawn around the published values, and the lognormal sigma of the factor.
DRAWN = ("recruitment_rate", "incapacitation", "conflict_lethality", "saturation")
SIGMA = 0.1
DRAW_SEED = 20230922


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="ensemble size (default 2000)")
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="time budget for one pass of the solve_ivp loop (default 10)",
    )
    parser.add_argument(
        "--stochastic-runs",
        type=int,
        default=200,
        help="ensemble size for the (much slower) stochastic mode (default 200)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="passes per timing, best kept")
    parser.add_argument("--data-dir", default=None, help="folder with the PC2023 files")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    if min(args.runs, args.stochastic_runs, args.repeat) < 1 or args.seconds <= 0:
        parser.error("--runs, --stochastic-runs and --repeat must be >= 1, --seconds > 0")

    scenario = load_scenario("pc2023")
    dopri5 = make_plan(_with(scenario, integrator="dopri5"), data_dir=args.data_dir)
    methods = {  # label: (plan, what simulate records)
        "cartelsim dopri5": (dopri5, "groups"),
        "dopri5, national record": (dopri5, "national"),
        "cartelsim rk4": (
            make_plan(_with(scenario, integrator="rk4"), data_dir=args.data_dir),
            "groups",
        ),
        "cartelsim euler": (
            make_plan(_with(scenario, integrator="euler"), data_dir=args.data_dir),
            "groups",
        ),
        "cartelsim stochastic": (
            make_plan(_with(scenario, mode="stochastic"), data_dir=args.data_dir),
            "groups",
        ),
    }
    base_plan = methods["cartelsim rk4"][0]
    params = draw_params(base_plan, args.runs)

    rows, finals = [], {}
    for label, (plan, record) in methods.items():
        runs = args.stochastic_runs if "stochastic" in label else args.runs
        some = params[:, :runs]

        def job(plan=plan, runs=runs, some=some, record=record):
            return simulate(plan, runs, 0, some, record=record)

        simulate(plan, runs=2, seed=0, params=some[:, :2], record=record)  # JIT warm-up
        seconds, traj = best_of(args.repeat, job)
        finals[label] = traj.members[-1].sum(axis=0)  # final total members of every run
        del traj  # the ensemble output is large; free it before the next method
        row = {"method": label, "record": record, "runs": runs, "seconds": seconds}
        row["final"] = float(finals[label][0])
        if "stochastic" in label:
            rk4_mean = finals["cartelsim rk4"][:runs].mean()
            row["mean_rel_diff_vs_rk4"] = float(abs(finals[label].mean() - rk4_mean) / rk4_mean)
        rows.append(row)

    baseline_runs, seconds, finals, evaluations = baseline(
        base_plan, params, args.seconds, args.repeat, args.data_dir
    )
    rows.append(
        {
            "method": "solve_ivp loop (RK45)",
            "record": "groups",
            "runs": baseline_runs,
            "seconds": seconds,
            "final": finals[0],
            "rhs_evaluations_per_run": evaluations,
        }
    )
    report = summarize(rows, args)
    floor = output_floor(base_plan, args.runs, args.repeat)
    report["output_floor"] = {
        "runs": args.runs,
        "seconds": floor,
        "runs_per_second": args.runs / floor,
        "ratio_vs_solve_ivp": args.runs / floor / (baseline_runs / seconds),
    }
    stochastic = next(row for row in rows if row["method"] == "cartelsim stochastic")
    report["stochastic_rhs"] = rhs_timings(
        methods["cartelsim stochastic"][0], args.repeat, stochastic["seconds"] / stochastic["runs"]
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


def _with(scenario: Scenario, **simulation) -> Scenario:
    """The scenario with some [simulation] settings changed (integrator, mode)."""
    changed = scenario.simulation.model_copy(update=simulation)
    return scenario.model_copy(update={"simulation": changed})


def draw_params(plan: Plan, runs: int) -> np.ndarray:
    """(P, runs) parameters: the published values, DRAWN ones times lognormal(0, SIGMA)."""
    rng = np.random.default_rng(DRAW_SEED)
    params = np.repeat(plan.params[:, None], runs, axis=1)
    for name in DRAWN:
        params[PARAMETER_NAMES.index(name)] *= rng.lognormal(0.0, SIGMA, size=runs)
    return params


def best_of(repeat: int, job):
    """Shortest wall time of `repeat` calls of job() and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None  # let the previous result go before the next pass allocates its own
        start = time.perf_counter()
        result = job()
        best = min(best, time.perf_counter() - start)
    return best, result


def output_floor(plan: Plan, runs: int, repeat: int) -> float:
    """Best seconds to allocate and fill arrays of the shapes `simulate` returns for `runs`
    runs, with np.full (a memset): no method that returns them can be faster here."""

    def fill():
        members = np.full((plan.weeks + 1, plan.n_groups, runs), 1.0)
        flows = np.full((plan.weeks, len(FLOWS), runs), 1.0)
        return members, flows

    return best_of(repeat, fill)[0]


def baseline(plan: Plan, params: np.ndarray, budget: float, repeat: int, data_dir=None):
    """The straightforward per-run solve_ivp loop (DESIGN.md 3.1 written with numpy).

    The first pass runs draws until `budget` seconds have passed (at least 3 runs); the other
    passes rerun the same draws. Returns (runs, best seconds, final total members per run,
    mean right-hand-side evaluations per run).
    """
    net = datasets.load_pc2023_network(datasets.fetch_pc2023(data_dir))
    total = plan.scenario.parameters.initial_members_total.value
    start = datasets.zipf_start(total, net.rivalry, net.alliance)
    alliance_sum = net.alliance.sum(axis=1)
    K = (net.rivalry + 1.0) / (alliance_sum[:, None] + 1.0)
    np.fill_diagonal(K, 0.0)
    # PC2023 has no state forces and no dated events: the dense K is all there is.
    idx = [PARAMETER_NAMES.index(name) for name in DRAWN]
    others = [i for i in range(len(PARAMETER_NAMES)) if i not in idx]
    assert not params[others].any() and not plan.forces.any() and len(plan.epochs) == 1
    weeks = np.arange(plan.weeks + 1, dtype=float)

    def rhs(t, C, rho, eta, theta, omega):
        N = C.sum()
        return rho * C - eta * C / N - theta * C * (K @ C) - omega * C * C

    evaluations = []

    def one(r: int) -> float:
        rho, eta, theta, omega = params[idx, r]
        sol = solve_ivp(rhs, (0.0, weeks[-1]), start, t_eval=weeks, args=(rho, eta, theta, omega))
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed on run {r}: {sol.message}")
        evaluations.append(sol.nfev)
        return float(sol.y[:, -1].sum())

    finals = []
    t0 = time.perf_counter()
    while len(finals) < params.shape[1] and (len(finals) < 3 or time.perf_counter() - t0 < budget):
        finals.append(one(len(finals)))
    best = time.perf_counter() - t0
    runs = len(finals)
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for r in range(runs):
            one(r)
        best = min(best, time.perf_counter() - t0)
    return runs, best, finals, float(np.mean(evaluations))


@numba.njit
def _repeat_derivative(reps, state, out, arguments, work, by_group):
    for _ in range(reps):
        flows.derivative(state, out, *arguments, work, 1.0, by_group)


@numba.njit
def _repeat_expected_flows(reps, state, arguments, work, by_group):
    for _ in range(reps):
        flows.expected_flows(state, *arguments, work, by_group)


def rhs_timings(plan: Plan, repeat: int, seconds_per_run: float, reps: int = 20_000) -> dict:
    """Best microseconds per evaluation of one run's expected flows by group (PC2023's
    start state and published parameters, week 0): flows.derivative on a block of one run
    against flows.expected_flows; and what the difference is per stochastic run (520
    evaluations), as a share of the measured stochastic run."""
    epoch_of_week, inv_a, boost, indptr, indices, data = aggregate._network_arrays(plan)
    fixed_count, mult, forces, g, _ = aggregate._common(plan)
    n, e = plan.n_groups, epoch_of_week[0]
    eff = np.ascontiguousarray(plan.params[:, None] * mult[0][:, None])
    arguments = (n, eff, fixed_count, forces[0], g, inv_a[e], boost[e], indptr[e], indices, data)
    state = np.round(plan.initial)[:, None]
    work = np.empty((flows.WORK_ROWS, 1))
    out, by_group = np.empty((n + len(FLOWS), 1)), np.empty((n, 1, len(FLOWS)))
    expected = np.empty((n, len(FLOWS)))
    jobs = {
        "derivative": lambda k: _repeat_derivative(k, state, out, arguments, work, by_group),
        "expected_flows": lambda k: _repeat_expected_flows(k, state, arguments, work, expected),
    }
    result = {}
    for name, job in jobs.items():
        job(1)  # compile
        result[f"{name}_us"] = best_of(repeat, lambda job=job: job(reps))[0] / reps * 1e6
    assert np.array_equal(by_group[:, 0], expected)
    saved = (result["derivative_us"] - result["expected_flows_us"]) * plan.weeks * 1e-6
    result["saved_per_stochastic_run_ms"] = saved * 1e3
    result["saved_share_of_stochastic_run"] = saved / (seconds_per_run + saved)
    return result


def summarize(rows: list[dict], args) -> dict:
    """Add runs/s, ratios, agreement and target verdicts; attach the machine description."""
    base = rows[-1]
    base_rate = base["runs"] / base["seconds"]
    for row in rows:
        row["runs_per_second"] = row["runs"] / row["seconds"]
        row["ratio_vs_solve_ivp"] = row["runs_per_second"] / base_rate
        row["final_rel_diff"] = abs(row["final"] - base["final"]) / abs(base["final"])
        if "mean_rel_diff_vs_rk4" in row:
            row["check"] = "ensemble mean of final members vs cartelsim rk4"
            row["check_rel_diff"] = row["mean_rel_diff_vs_rk4"]
        else:
            row["check"] = "first run's final members vs solve_ivp"
            row["check_rel_diff"] = row["final_rel_diff"]
        row["agrees"] = bool(row["check_rel_diff"] <= AGREEMENT)
        if row is not base:
            row["meets_runs_per_second"] = bool(row["runs_per_second"] >= TARGET_RUNS_PER_SECOND)
            row["meets_ratio"] = bool(row["ratio_vs_solve_ivp"] >= TARGET_RATIO)
    return {
        "machine": machine(),
        "settings": {
            "runs": args.runs,
            "seconds": args.seconds,
            "repeat": args.repeat,
            "sigma": SIGMA,
            "draw_seed": DRAW_SEED,
            "threads": 1,
        },
        "targets": {"runs_per_second": TARGET_RUNS_PER_SECOND, "ratio": TARGET_RATIO},
        "results": rows,
    }


def machine() -> dict:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "nproc": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
    }


def print_table(report: dict) -> None:
    m = report["machine"]
    print(
        f"PC2023 aggregate benchmark, one core ({m['cpu']}, nproc={m['nproc']}), "
        f"best of {report['settings']['repeat']}"
    )
    header = (
        f"{'method':24s} {'runs':>6s} {'seconds':>9s} {'runs/s':>10s} {'ratio':>9s}  check (0.5 %)"
    )
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        verdict = "ok" if row["agrees"] else "MISMATCH"
        note = f"{verdict} ({row['check_rel_diff']:.1e} rel.: {row['check']}"
        if "stochastic" in row["method"]:
            note += f"; first run vs solve_ivp {row['final_rel_diff']:.1e}"
        print(
            f"{row['method']:24s} {row['runs']:6d} {row['seconds']:9.3f} "
            f"{row['runs_per_second']:10.1f} {row['ratio_vs_solve_ivp']:8.1f}x  {note})"
        )
    floor = report["output_floor"]
    print(
        f"{'(writing the output only)':24s} {floor['runs']:6d} {floor['seconds']:9.3f} "
        f"{floor['runs_per_second']:10.1f} {floor['ratio_vs_solve_ivp']:8.1f}x  np.full of "
        "members (weeks + 1, groups, runs) and flows: the most any method returning them "
        "(the groups record) can reach"
    )
    evaluations = report["results"][-1]["rhs_evaluations_per_run"]
    print(
        f"Right-hand-side evaluations per run: solve_ivp (RK45) {evaluations:.0f} on average; "
        f"weekly RK4 2,080 and Euler 520; dopri5 7 per step of up to {STEP_WEEKS} weeks"
    )
    rhs = report["stochastic_rhs"]
    print(
        f"Stochastic mode's expected flows of one run (PC2023 start), per week: "
        f"flows.derivative {rhs['derivative_us']:.2f} us, flows.expected_flows (used) "
        f"{rhs['expected_flows_us']:.2f} us; {rhs['saved_per_stochastic_run_ms']:.2f} ms "
        f"saved per run, {100 * rhs['saved_share_of_stochastic_run']:.1f} % of its time"
    )
    print()
    targets = report["targets"]
    for row in report["results"][:-1]:
        print(
            f"{row['method']:24s} >= {targets['runs_per_second']:,} runs/s per core: "
            f"{'met' if row['meets_runs_per_second'] else 'NOT met'}; "
            f">= {targets['ratio']:.0f}x solve_ivp: {'met' if row['meets_ratio'] else 'NOT met'}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
