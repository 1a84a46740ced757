"""Aggregate-engine benchmark: PC2023 ensemble throughput on one core vs a solve_ivp loop.

    python benchmarks/aggregate.py [--runs N] [--stochastic-runs M] [--seconds S] [--repeat R]
                                   [--reference-runs K] [--data-dir DIR] [--json]

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
- the peers a user would pick instead, at matched accuracy (issue 16): solve_ivp RK45 at
  rtol = atol = MATCHED_TOLERANCE (the tolerance at which its error matches dopri5's);
  diffrax's Dopri5 under jax.jit + jax.vmap at the same tolerances, every group every week
  saved, at each of DIFFRAX_BATCHES runs per call (the best is kept; skipped, with the
  reason printed, when jax or diffrax is not installed: `pip install -e ".[bench]"`); and
  for the stochastic mode a plain numpy tau-leaping ensemble (Poisson recruits, binomial
  exits split by sequential binomials, 1-week step, vectorized over groups and runs);
- the reference: LSODA at rtol = atol = 1e-12 on the first --reference-runs runs. Every
  deterministic row's error is the relative difference of each run's final total members
  from it (median and max over those runs); a stochastic row's is the difference of its
  ensemble mean from the reference's mean over the same runs;
- the output floor: allocating and filling (np.full) arrays of the shapes `simulate` returns,
  with nothing computed: no method that returns them can be faster on this machine;

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
# jax (the diffrax peer) on one CPU thread as well.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from cartelsim import datasets  # noqa: E402
from cartelsim.aggregate import simulate  # noqa: E402
from cartelsim.plan import Plan, make_plan  # noqa: E402
from cartelsim.scenario import PARAMETER_NAMES, Scenario, load_scenario  # noqa: E402
from cartelsim.trajectories import FLOWS  # noqa: E402

#: DESIGN.md section 7.
TARGET_RUNS_PER_SECOND = 10_000
TARGET_RATIO = 100.0
#: The solve_ivp and diffrax tolerances (rtol = atol) at which their errors against the
#: LSODA reference match dopri5's (measured: benchmarks/README.md).
MATCHED_TOLERANCE = 1e-9
#: diffrax batch sizes tried (runs per jitted, vmapped call); the fastest is reported.
DIFFRAX_BATCHES = (100, 250, 500, 1000)
#: The peers' labels.
BASELINE = "solve_ivp RK45, default tol"
MATCHED = "solve_ivp RK45, 1e-9"
DIFFRAX = "diffrax Dopri5 jit+vmap 1e-9"
TAU_LEAP = "numpy tau-leap"
PEERS = (BASELINE, MATCHED, DIFFRAX, TAU_LEAP)
#: Issue 16's targets: the stochastic mode and the dopri5 ensemble (every group every week)
#: at least this many times the numpy tau-leap and diffrax peers.
TARGET_PEER_RATIO = 10.0
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
        help="time budget for one pass of each solve_ivp loop (default 10)",
    )
    parser.add_argument(
        "--stochastic-runs",
        type=int,
        default=500,
        help="ensemble size for the stochastic mode and the tau-leap peer (default 500)",
    )
    parser.add_argument(
        "--reference-runs",
        type=int,
        default=500,
        help="runs integrated by the LSODA reference, over which errors are taken (default 500)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="passes per timing, best kept")
    parser.add_argument("--data-dir", default=None, help="folder with the PC2023 files")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    if min(args.runs, args.stochastic_runs, args.repeat, args.reference_runs) < 1:
        parser.error("--runs, --stochastic-runs, --reference-runs and --repeat must be >= 1")
    if args.seconds <= 0:
        parser.error("--seconds must be > 0")

    scenario = load_scenario("pc2023")
    dopri5 = make_plan(_with(scenario, integrator="dopri5"), data_dir=args.data_dir)
    methods = {  # label: (plan, what simulate records, its dtype)
        "cartelsim dopri5": (dopri5, "groups", None),
        "dopri5, float32 members": (dopri5, "groups", np.float32),
        "dopri5, national record": (dopri5, "national", None),
        "cartelsim rk4": (
            make_plan(_with(scenario, integrator="rk4"), data_dir=args.data_dir),
            "groups",
            None,
        ),
        "cartelsim euler": (
            make_plan(_with(scenario, integrator="euler"), data_dir=args.data_dir),
            "groups",
            None,
        ),
        "cartelsim stochastic": (
            make_plan(_with(scenario, mode="stochastic"), data_dir=args.data_dir),
            "groups",
            None,
        ),
    }
    base_plan = methods["cartelsim rk4"][0]
    params = draw_params(base_plan, max(args.runs, args.stochastic_runs, args.reference_runs))
    reference = reference_finals(base_plan, params, args.reference_runs, args.data_dir)

    rows = []
    for label, (plan, record, dtype) in methods.items():
        runs = args.stochastic_runs if "stochastic" in label else args.runs
        some = params[:, :runs]
        options = {"record": record} if dtype is None else {"record": record, "dtype": dtype}

        def job(plan=plan, runs=runs, some=some, options=options):
            return simulate(plan, runs, 0, some, **options)

        simulate(plan, runs=2, seed=0, params=some[:, :2], **options)  # JIT warm-up
        seconds, traj = best_of(args.repeat, job)
        finals = traj.members[-1].sum(axis=0, dtype=float)  # final total members per run
        del traj  # the ensemble output is large; free it before the next method
        rows.append(_row(label, record, runs, seconds, finals, reference,
                         stochastic="stochastic" in label))  # fmt: skip

    done, seconds, finals, evaluations = solve_ivp_loop(
        base_plan, params, args.seconds, args.repeat, args.data_dir
    )
    rows.append(_row(BASELINE, "groups", done, seconds, finals, reference, peer=True))
    rows[-1]["rhs_evaluations_per_run"] = evaluations
    done, seconds, finals, evaluations = solve_ivp_loop(
        base_plan, params, args.seconds, args.repeat, args.data_dir, tol=MATCHED_TOLERANCE
    )
    rows.append(_row(MATCHED, "groups", done, seconds, finals, reference, peer=True))
    rows[-1]["rhs_evaluations_per_run"] = evaluations
    result = diffrax_ensemble(base_plan, params[:, : args.runs], args.repeat, args.data_dir)
    skipped = {}
    try:  # not timed: its wheel does not build here (benchmarks/README.md)
        import numbalsoda  # noqa: F401

        skipped["numbalsoda LSODA"] = "installed, but not part of this benchmark"
    except ImportError:
        skipped["numbalsoda LSODA"] = "numbalsoda is not installed (its wheel does not build here)"
    if "skipped" in result:
        skipped[DIFFRAX] = result["skipped"]
    else:
        rows.append(_row(DIFFRAX, "groups", result["runs"], result["seconds"], result["finals"],
                         reference, peer=True))  # fmt: skip
        rows[-1]["batch_runs_per_second"] = {str(k): v for k, v in result["batch"].items()}
        rows[-1]["best_batch"] = result["best_batch"]
    runs = args.stochastic_runs

    def tau_leap():
        return tau_leap_ensemble(base_plan, params, runs, 0, args.data_dir)

    seconds, (members, _) = best_of(args.repeat, tau_leap)
    finals = members[-1].sum(axis=0)
    del members
    rows.append(_row(TAU_LEAP, "groups", runs, seconds, finals, reference, stochastic=True,
                     peer=True))  # fmt: skip
    report = summarize(rows, args, skipped)
    floor = output_floor(base_plan, args.runs, args.repeat)
    report["output_floor"] = {
        "runs": args.runs,
        "seconds": floor,
        "runs_per_second": args.runs / floor,
        "float32_seconds": output_floor(base_plan, args.runs, args.repeat, np.float32),
    }
    report["output_floor"]["float32_runs_per_second"] = (
        args.runs / report["output_floor"]["float32_seconds"]
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


def _row(label, record, runs, seconds, finals, reference, stochastic=False, peer=False):
    """One row of the table: rate and error against the reference's final total members."""
    row = {"method": label, "record": record, "runs": runs, "seconds": seconds, "peer": peer}
    m = min(runs, reference.size)
    if stochastic:
        ref_mean = reference[:m].mean()
        row["error"] = float(abs(finals[:m].mean() - ref_mean) / ref_mean)
        row["error_kind"] = f"ensemble mean over {m} runs"
    else:
        rel = np.abs(finals[:m] - reference[:m]) / reference[:m]
        row["error"] = float(np.median(rel))
        row["error_max"] = float(rel.max())
        row["error_kind"] = f"median / max over {m} runs"
    return row


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


def output_floor(plan: Plan, runs: int, repeat: int, dtype=np.float64) -> float:
    """Best seconds to allocate and fill arrays of the shapes `simulate` returns for `runs`
    runs (members in `dtype`), with np.full (a memset): no method that returns them can be
    faster here."""

    def fill():
        members = np.full((plan.weeks + 1, plan.n_groups, runs), 1.0, dtype=dtype)
        flows = np.full((plan.weeks, len(FLOWS), runs), 1.0)
        return members, flows

    return best_of(repeat, fill)[0]


def pc2023_model(plan: Plan, data_dir=None):
    """The PC2023 model written straightforwardly: (start state, dense K, drawn-parameter
    indices). PC2023 has no state forces and no dated events: the dense K is all there is."""
    net = datasets.load_pc2023_network(datasets.fetch_pc2023(data_dir))
    total = plan.scenario.parameters.initial_members_total.value
    start = datasets.zipf_start(total, net.rivalry, net.alliance)
    alliance_sum = net.alliance.sum(axis=1)
    K = (net.rivalry + 1.0) / (alliance_sum[:, None] + 1.0)
    np.fill_diagonal(K, 0.0)
    assert not plan.forces.any() and len(plan.epochs) == 1 and plan.fixed_count
    return start, K, [PARAMETER_NAMES.index(name) for name in DRAWN]


def solve_ivp_loop(plan, params, budget, repeat, data_dir=None, method="RK45", tol=None,
                   runs=None):  # fmt: skip
    """A plain per-run loop over solve_ivp (t_eval = every week) on the numpy model, at its
    default tolerances (tol None) or rtol = atol = tol. Runs draws until `budget` seconds
    have passed (at least 3), or exactly `runs`; the other passes rerun them. Returns (runs,
    best seconds, final total members per run, mean right-hand-side evaluations per run)."""
    start, K, idx = pc2023_model(plan, data_dir)
    others = [i for i in range(len(PARAMETER_NAMES)) if i not in idx]
    assert not params[others].any()
    weeks = np.arange(plan.weeks + 1, dtype=float)
    options = {} if tol is None else {"rtol": tol, "atol": tol}

    def rhs(t, C, rho, eta, theta, omega):
        N = C.sum()
        return rho * C - eta * C / N - theta * C * (K @ C) - omega * C * C

    evaluations = []

    def one(r: int) -> float:
        rho, eta, theta, omega = params[idx, r]
        sol = solve_ivp(rhs, (0.0, weeks[-1]), start, t_eval=weeks, method=method,
                        args=(rho, eta, theta, omega), **options)  # fmt: skip
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed on run {r}: {sol.message}")
        evaluations.append(sol.nfev)
        return float(sol.y[:, -1].sum())

    finals = []
    t0 = time.perf_counter()
    wanted = params.shape[1] if runs is None else runs
    while len(finals) < wanted and (
        runs is not None or len(finals) < 3 or time.perf_counter() - t0 < budget
    ):
        finals.append(one(len(finals)))
    best = time.perf_counter() - t0
    done = len(finals)
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for r in range(done):
            one(r)
        best = min(best, time.perf_counter() - t0)
    return done, best, np.array(finals), float(np.mean(evaluations))


def reference_finals(plan, params, runs, data_dir=None) -> np.ndarray:
    """Final total members of the first `runs` runs by LSODA at rtol = atol = 1e-12."""
    start, K, idx = pc2023_model(plan, data_dir)

    def rhs(t, C, rho, eta, theta, omega):
        N = C.sum()
        return rho * C - eta * C / N - theta * C * (K @ C) - omega * C * C

    finals = np.empty(runs)
    for r in range(runs):
        end = float(plan.weeks)
        sol = solve_ivp(rhs, (0.0, end), start, method="LSODA", rtol=1e-12, atol=1e-12,
                        t_eval=[end], args=tuple(params[idx, r]))  # fmt: skip
        if not sol.success:
            raise RuntimeError(f"LSODA failed on run {r}: {sol.message}")
        finals[r] = sol.y[:, -1].sum()
    return finals


def diffrax_ensemble(plan, params, repeat, data_dir=None, runs=None):
    """diffrax Dopri5, jax.jit + jax.vmap, rtol = atol = MATCHED_TOLERANCE, every group every
    week saved (float64), for each batch size in DIFFRAX_BATCHES on the same runs. Returns
    {"batch": {size: runs/s}, "best_batch", "runs", "seconds", "finals"} or {"skipped":
    reason} when jax or diffrax is missing."""
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import diffrax
    except ImportError as error:
        return {"skipped": f"{error.name or error} is not installed (pip install -e '.[bench]')"}
    start, K, idx = pc2023_model(plan, data_dir)
    runs = params.shape[1] if runs is None else runs
    Kj, y0 = jnp.asarray(K), jnp.asarray(start)
    weeks = jnp.arange(plan.weeks + 1, dtype=jnp.float64)

    def rhs(t, C, args):
        rho, eta, theta, omega = args
        return rho * C - eta * C / C.sum() - theta * C * (Kj @ C) - omega * C * C

    def one(args):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(rhs), diffrax.Dopri5(), 0.0, float(plan.weeks), 1.0, y0, args=args,
            saveat=diffrax.SaveAt(ts=weeks),
            stepsize_controller=diffrax.PIDController(rtol=MATCHED_TOLERANCE,
                                                      atol=MATCHED_TOLERANCE),
            max_steps=100_000,
        )  # fmt: skip
        return sol.ys

    solve = jax.jit(jax.vmap(one))
    drawn = np.ascontiguousarray(params[idx].T)  # (runs, 4)
    rates, results = {}, {}
    for size in DIFFRAX_BATCHES:
        if size > runs:
            continue
        used = runs - runs % size
        batches = [jnp.asarray(drawn[lo : lo + size].T) for lo in range(0, used, size)]
        solve(tuple(batches[0])).block_until_ready()  # compile for this batch size

        def job(batches=batches):
            return [np.asarray(solve(tuple(b))) for b in batches]

        seconds, ys = best_of(repeat, job)
        rates[size] = used / seconds
        results[size] = (used, seconds, np.concatenate([y[:, -1].sum(axis=1) for y in ys]))
        del ys
    best = max(rates, key=rates.get)
    used, seconds, finals = results[best]
    return {"batch": rates, "best_batch": best, "runs": used, "seconds": seconds,
            "finals": finals, "version": diffrax.__version__}  # fmt: skip


def tau_leap_ensemble(plan, params, runs, seed=0, data_dir=None) -> np.ndarray:
    """A plain numpy tau-leaping ensemble of PC2023, vectorized over groups and runs, 1-week
    step: recruits ~ Poisson, exits ~ Binomial(C, 1 - exp(-h)) (h the exit rate per member),
    split among incapacitation, conflict deaths and saturation by sequential binomials; the
    start state Poisson around the Zipf start (as cartelsim's). Returns (weeks + 1, groups,
    runs) members and (weeks, 5, runs) national flows, like simulate."""
    start, K, idx = pc2023_model(plan, data_dir)
    rho, eta, theta, omega = (params[i, :runs] for i in idx)
    rng = np.random.default_rng(seed)
    g = plan.recruitment_multiplier[:, None]
    C = rng.poisson(np.repeat(start[:, None], runs, axis=1)).astype(float)
    members = np.empty((plan.weeks + 1, plan.n_groups, runs))
    flows = np.zeros((plan.weeks, len(FLOWS), runs))
    for week in range(plan.weeks):
        members[week] = C
        N = C.sum(axis=0)
        recruits = rng.poisson(rho * g * C)
        incap = eta * C / N
        conflict = theta * C * (K @ C)
        saturation = omega * C * C
        rate = incap + conflict + saturation
        h = np.divide(rate, C, out=np.zeros_like(C), where=C > 0)
        exits = rng.binomial(C.astype(np.int64), -np.expm1(-h))
        first = rng.binomial(exits, np.divide(incap, rate, out=np.zeros_like(C), where=rate > 0))
        rest = rate - incap
        share = np.divide(conflict, rest, out=np.zeros_like(C), where=rest > 0)
        second = rng.binomial(exits - first, share)
        flows[week, 0] = recruits.sum(axis=0)
        flows[week, 1] = first.sum(axis=0)
        flows[week, 3] = second.sum(axis=0)
        flows[week, 4] = (exits - first - second).sum(axis=0)
        C = C + recruits - exits
    members[plan.weeks] = C
    return members, flows


def summarize(rows: list[dict], args, skipped: dict) -> dict:
    """Add runs/s, ratios to every peer and target verdicts; attach the machine."""
    rates = {row["method"]: row["runs"] / row["seconds"] for row in rows}
    for row in rows:
        row["runs_per_second"] = rates[row["method"]]
        row["ratio_vs"] = {p: rates[row["method"]] / rates[p] for p in PEERS if p in rates}
    verdicts = {}
    for label, peer in (("cartelsim dopri5", DIFFRAX), ("dopri5, float32 members", DIFFRAX),
                        ("cartelsim stochastic", TAU_LEAP)):  # fmt: skip
        if peer in rates:
            verdicts[f"{label} >= {TARGET_PEER_RATIO:.0f}x {peer}"] = bool(
                rates[label] / rates[peer] >= TARGET_PEER_RATIO
            )
    for row in rows:
        if not row["peer"] and "stochastic" not in row["method"]:
            verdicts[f"{row['method']} >= {TARGET_RUNS_PER_SECOND:,} runs/s"] = bool(
                row["runs_per_second"] >= TARGET_RUNS_PER_SECOND
            )
            verdicts[f"{row['method']} >= {TARGET_RATIO:.0f}x {BASELINE}"] = bool(
                row["ratio_vs"][BASELINE] >= TARGET_RATIO
            )
    return {
        "machine": machine(),
        "load_average": os.getloadavg(),
        "settings": {
            "runs": args.runs,
            "stochastic_runs": args.stochastic_runs,
            "reference_runs": args.reference_runs,
            "seconds": args.seconds,
            "repeat": args.repeat,
            "sigma": SIGMA,
            "draw_seed": DRAW_SEED,
            "threads": 1,
        },
        "skipped": skipped,
        "verdicts": verdicts,
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
        f"PC2023 aggregate benchmark, one core ({m['cpu']}, nproc={m['nproc']}), best of "
        f"{report['settings']['repeat']}; load average at the end "
        + " ".join(f"{x:.2f}" for x in report["load_average"])
    )
    peers = [p for p in PEERS if p in report["results"][-1]["ratio_vs"]]
    short = {BASELINE: "xRK45", MATCHED: "xRK45-9", DIFFRAX: "xdiffrax", TAU_LEAP: "xtau"}
    header = f"{'method':29s} {'runs':>5s} {'runs/s':>9s} " + " ".join(
        f"{short[p]:>8s}" for p in peers
    ) + "  error vs LSODA 1e-12 (final total members)"  # fmt: skip
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        ratios = " ".join(f"{row['ratio_vs'][p]:8.2f}" for p in peers)
        if "error_max" in row:
            error = f"{row['error']:.1e} / {row['error_max']:.1e} ({row['error_kind']})"
        else:
            error = f"{row['error']:.1e} ({row['error_kind']})"
        print(f"{row['method']:29s} {row['runs']:5d} {row['runs_per_second']:9.1f} "
              f"{ratios}  {error}")  # fmt: skip
    floor = report["output_floor"]
    print(
        f"{'(writing the output only)':29s} {floor['runs']:5d} {floor['runs_per_second']:9.1f}"
        f"  np.full of members and flows, float64; float32 members: "
        f"{floor['float32_runs_per_second']:.1f} runs/s"
    )
    for row in report["results"]:
        if "rhs_evaluations_per_run" in row:
            print(f"{row['method']}: {row['rhs_evaluations_per_run']:.0f} right-hand-side "
                  "evaluations per run")  # fmt: skip
        if "batch_runs_per_second" in row:
            print(f"{row['method']}: runs/s by batch size " + ", ".join(
                f"{k}: {v:.1f}" for k, v in row["batch_runs_per_second"].items()
            ) + f" (best {row['best_batch']})")  # fmt: skip
    for name, reason in report["skipped"].items():
        print(f"{name}: skipped ({reason})")
    print()
    for verdict, met in report["verdicts"].items():
        print(f"{verdict}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    raise SystemExit(main())
