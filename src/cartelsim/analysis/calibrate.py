"""ABC-SMC calibration of a scenario's free parameters with pyabc.

Why ABC: the aggregate engine is cheap, the data are a handful of yearly totals, and the
honest answer to "what do the data say about recruitment?" is a distribution, not a point.
pyabc does the sequential Monte Carlo (we do not write our own); this module supplies

- the priors, from the scenario's `[calibration]` section. Log-uniform parameters are
  sampled as log10 values (named `log10_<name>`) so the perturbation kernel works on the
  scale the prior is flat on;
- one pyabc model per incapacitation form when the section gives two, so pyabc's model
  selection weighs the fixed weekly count of PC2023 against a per-member rate;
- the model output: the weighted log residuals of targets.py, compared with zeros by an
  L1/L2 norm (so the distance *is* the weighted log misfit);
- the sampler: one process, local processes (`workers`), or a Dask cluster (`scheduler`).

The pyabc history lives in OUT/abc.db. Calling calibrate again with the same settings
continues it: `populations` is the total wanted, so an interrupted calibration finishes the
missing populations and a finished one only re-reports. OUT/calibration.json records what the
history was made for, so a changed scenario or prior is refused instead of mixed in.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc

from cartelsim.aggregate import simulate
from cartelsim.analysis import draws, targets
from cartelsim.plan import Plan, make_plan
from cartelsim.results import atomic_write
from cartelsim.scenario import Prior, Scenario, ScenarioError, load_scenario
from cartelsim.trajectories import Trajectories

#: Posterior-predictive draws used for bands and derived quantities.
PREDICTIVE_DRAWS = 400
#: Columns of the posterior table that are not parameters.
META_COLUMNS = ("incapacitation_form", "model_probability", "weight")
LOG_PREFIX = "log10_"


@dataclass
class Setup:
    """A calibration problem: the scenario, one prior per model (incapacitation form), the
    fixed values and the target points."""

    scenario: Scenario
    forms: list[str]
    priors: list[dict[str, Prior]]  # per form: parameter name -> prior
    fixed: dict[str, float]
    points: list[targets.Point]
    plans: list[Plan]
    data_dir: str | None

    @property
    def names(self) -> list[list[str]]:
        return [list(p) for p in self.priors]


def setup(
    scenario: Scenario | str | Path,
    data_dir: str | Path | None = None,
    fix: dict[str, float] | None = None,
) -> Setup:
    """Read the calibration problem of a scenario. `fix` takes parameters out of the free set
    at the given values (e.g. cartel_share = 0.10 reproduces PC2023's assumption)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    label = f"{scenario.name}.toml"
    cal = scenario.calibration
    if cal is None:
        raise ScenarioError(f"{label}: calibration: the scenario has no [calibration] section")
    if scenario.simulation.start_from is not None:
        raise ScenarioError(
            f"{label}: simulation.start_from: calibrate {scenario.simulation.start_from} instead"
        )
    fix = dict(fix or {})
    for name in fix:
        if name not in cal.free and not (name == "incapacitation" and cal.forms):
            raise ValueError(f"--fix {name}: not a free parameter of {scenario.name}")
    free = {k: v for k, v in cal.free.items() if k not in fix}
    forms = list(cal.forms) or [scenario.parameters.incapacitation_form]
    priors = []
    for form in forms:
        prior = dict(free)
        if cal.forms and "incapacitation" not in fix:
            prior["incapacitation"] = cal.forms[form]
        priors.append(prior)
    if not any(priors):
        raise ValueError(f"{scenario.name}: every parameter is fixed; nothing to calibrate")
    plans = [make_plan(draws.with_form(scenario, f), data_dir) for f in forms]
    points = targets.target_points(plans[0], cal, data_dir)
    return Setup(scenario, forms, priors, fix, points, plans, str(data_dir) if data_dir else None)


def pyabc_prior(priors: dict[str, Prior]) -> pyabc.Distribution:
    """The pyabc distribution of one model's priors (log-uniform ones on the log10 scale)."""
    rvs = {}
    for name, prior in priors.items():
        if prior.distribution == "uniform":
            rvs[name] = pyabc.RV("uniform", prior.low, prior.high - prior.low)
        elif prior.distribution == "log_uniform":
            low, high = np.log10(prior.low), np.log10(prior.high)
            rvs[LOG_PREFIX + name] = pyabc.RV("uniform", low, high - low)
        elif prior.low is None and prior.high is None:
            rvs[name] = pyabc.RV("norm", prior.mean, prior.sd)
        else:
            low = -np.inf if prior.low is None else (prior.low - prior.mean) / prior.sd
            high = np.inf if prior.high is None else (prior.high - prior.mean) / prior.sd
            rvs[name] = pyabc.RV("truncnorm", low, high, prior.mean, prior.sd)
    return pyabc.Distribution(**rvs)


def natural(theta) -> dict[str, float]:
    """A pyabc parameter (log10_ names for log-uniform priors) in the model's units."""
    out = {}
    for key, value in dict(theta).items():
        if key.startswith(LOG_PREFIX):
            out[key.removeprefix(LOG_PREFIX)] = 10.0 ** float(value)
        else:
            out[key] = float(value)
    return out


class ParticleModel:
    """What pyabc simulates for one particle: a single run, reduced to the weighted log
    residuals at the target points. A plain class so that pyabc can pickle it to worker
    processes and Dask workers."""

    def __init__(self, setup: Setup, model: int):
        self.plan = setup.plans[model]
        self.points = setup.points
        self.fixed = setup.fixed

    def __call__(self, theta) -> dict[str, np.ndarray]:
        values = {k: np.array([v]) for k, v in {**self.fixed, **natural(theta)}.items()}
        params, initial = draws.run_inputs(self.plan, values, 1)
        seed = int(np.random.randint(0, 2**31 - 1))  # pyabc seeds numpy per worker
        traj = simulate(self.plan, 1, seed, params=params, initial=initial)
        weekly = draws.observables(self.plan, traj, values)
        sims = targets.simulated(self.points, traj, weekly)
        return {"residuals": targets.log_residuals(self.points, sims)[:, 0]}


def calibrate(
    scenario: Scenario | str | Path,
    out: str | Path,
    populations: int | None = None,
    particles: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    data_dir: str | Path | None = None,
    fix: dict[str, float] | None = None,
    seed: int = 0,
    write_report: Callable | None = None,
) -> dict:
    """Run (or continue) the ABC-SMC calibration into folder `out`; return the summary dict
    (also written to OUT/summary.json) after writing posterior.parquet.

    `write_report(path, problem, table, predictive, summary)` writes OUT/report.html from
    what the calibration computed (the CLI passes report.calibration_report.write: analyses
    never import the reports, which import them)."""
    problem = setup(scenario, data_dir, fix)
    cal = problem.scenario.calibration
    populations = populations or cal.populations
    particles = particles or cal.particles
    if populations < 1 or particles < 2:
        raise ValueError("--populations must be >= 1 and --particles >= 2")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "abc.db"
    stamp = _stamp(problem, particles)
    resuming = _check_history(db, out / "calibration.json", stamp)
    np.random.seed(seed)  # pyabc draws from numpy's global generator
    logging.getLogger("ABC").setLevel(logging.INFO)
    client = _dask_client(scheduler)
    try:
        abc = pyabc.ABCSMC(
            [ParticleModel(problem, m) for m in range(len(problem.forms))],
            [pyabc_prior(p) for p in problem.priors],
            pyabc.PNormDistance(p=1 if cal.distance == "l1" else 2),
            population_size=particles,
            sampler=_sampler(workers, client),
        )
        if resuming:
            history = abc.load(f"sqlite:///{db}", 1)
        else:
            history = abc.new(f"sqlite:///{db}", {"residuals": np.zeros(len(problem.points))})
            atomic_write(
                out / "calibration.json", lambda tmp: Path(tmp).write_text(json.dumps(stamp))
            )
        done = history.n_populations
        reached = done > 0 and history.get_all_populations().epsilon.iloc[-1] <= cal.min_epsilon
        if done < populations and not reached:
            wanted = populations - done
            history = abc.run(minimum_epsilon=cal.min_epsilon, max_nr_populations=wanted)
    finally:
        if client is not None:
            client.close()
    return summarize(problem, history, out, seed, write_report)


def _dask_client(scheduler: str | None):
    if scheduler is None:
        return None
    from distributed import Client

    try:
        return Client(scheduler, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"--scheduler {scheduler}: cannot connect ({exc})") from None


def _sampler(workers: int, client) -> pyabc.sampler.Sampler:
    if client is not None:
        return pyabc.sampler.DaskDistributedSampler(dask_client=client)
    if workers > 1:
        return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers)
    return pyabc.sampler.SingleCoreSampler()


def _stamp(problem: Setup, particles: int) -> dict:
    """What a history was made for; a different stamp must not continue it."""
    return {
        "scenario": problem.scenario.name,
        "scenario_sha256": problem.scenario.sha256(),
        "forms": problem.forms,
        "fixed": problem.fixed,
        "particles": particles,
    }


def _check_history(db: Path, stamp_file: Path, stamp: dict) -> bool:
    """Whether OUT holds a history to continue; refuse a damaged or foreign one."""
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            tables = {r[0] for r in con.execute("select name from sqlite_master")}
            ok = con.execute("pragma quick_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{db}: not a readable pyabc history ({exc}); move it away") from None
    if not ok or "abc_smc" not in tables:
        raise ValueError(f"{db}: damaged or not a pyabc history; move it away to start again")
    try:
        previous = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        raise ValueError(
            f"{stamp_file}: missing or unreadable, so {db} cannot be matched to this "
            "calibration; move the folder away to start again"
        ) from None
    changed = [k for k in stamp if previous.get(k) != stamp[k]]
    if changed:
        raise ValueError(
            f"{db}: made for a different calibration ({', '.join(changed)} changed); "
            "use another --out folder"
        )
    return True


# --- results ------------------------------------------------------------------------------


def posterior_table(problem: Setup, history: pyabc.History) -> pd.DataFrame:
    """The final population: one row per particle with its model (incapacitation form),
    weight within the model, the model's probability, and parameters in natural units."""
    t = history.max_t
    probabilities = history.get_model_probabilities(t)["p"]  # indexed by model number
    frames = []
    for m, form in enumerate(problem.forms):
        p = float(probabilities.get(m, 0.0))
        if p <= 0:
            continue
        df, w = history.get_distribution(m=m, t=t)
        table = pd.DataFrame([natural(row) for _, row in df.iterrows()])
        table.insert(0, "weight", w)
        table.insert(0, "model_probability", p)
        table.insert(0, "incapacitation_form", form)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def posterior_sample(table: pd.DataFrame, n: int, seed: int) -> list[tuple[str, dict]]:
    """`n` draws from the model-averaged posterior, grouped by model: a model is drawn with
    its posterior probability, then a particle by its weight. Returns [(form, values)], with
    values {parameter: array}."""
    rng = np.random.default_rng(seed)
    probabilities = table.groupby("incapacitation_form", sort=False).model_probability.first()
    counts = rng.multinomial(n, (probabilities / probabilities.sum()).to_numpy())
    names = [c for c in table.columns if c not in META_COLUMNS]
    sample = []
    for form, count in zip(probabilities.index, counts, strict=True):
        if count:
            rows = table[table.incapacitation_form == form]
            pick = rng.choice(len(rows), size=count, p=rows.weight / rows.weight.sum())
            sample.append((str(form), {c: rows[c].to_numpy()[pick] for c in names}))
    return sample


def predictive(problem: Setup, table: pd.DataFrame, seed: int) -> dict:
    """Posterior-predictive ensemble: PREDICTIVE_DRAWS model-averaged draws, one ensemble per
    model, joined run-wise. Returns the trajectories and the weekly variables."""
    trajs, weeklies = [], []
    for form, values in posterior_sample(table, PREDICTIVE_DRAWS, seed):
        n = len(next(iter(values.values())))
        values.update({k: np.full(n, v) for k, v in problem.fixed.items()})
        plan, traj = draws.simulate_draws(problem.scenario, values, seed, problem.data_dir, form)
        trajs.append(traj)
        weeklies.append(draws.observables(plan, traj, values))
    traj = Trajectories.join(trajs)
    weekly = {k: np.concatenate([w[k] for w in weeklies], axis=1) for k in weeklies[0]}
    return {"traj": traj, "weekly": weekly}


def quantiles(x: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """Median and 90 % interval (weighted when weights are given)."""
    if weights is None:
        q = np.quantile(x, [0.5, 0.05, 0.95])
    else:
        q = [
            pyabc.weighted_statistics.weighted_quantile(x, weights, alpha=a)
            for a in (0.5, 0.05, 0.95)
        ]
    return {"median": float(q[0]), "q05": float(q[1]), "q95": float(q[2])}


def summarize(
    problem: Setup, history: pyabc.History, out: Path, seed: int, write_report=None
) -> dict:
    table = posterior_table(problem, history)
    atomic_write(out / "posterior.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    probabilities = table.groupby("incapacitation_form").model_probability.first()
    best = str(probabilities.idxmax())
    rows = table[table.incapacitation_form == best]
    params = [c for c in rows.columns if c not in META_COLUMNS]
    pred = predictive(problem, table, seed)
    weekly = pred["weekly"]
    summary = {
        "scenario": problem.scenario.name,
        "populations": int(history.n_populations),
        "particles": int(len(table)),
        "incapacitation_form": best,
        "model_probabilities": {str(k): float(v) for k, v in probabilities.items()},
        "fixed": problem.fixed,
        "posterior": {n: quantiles(rows[n].to_numpy(), rows.weight.to_numpy()) for n in params},
        "derived": {
            "members_total_end": quantiles(pred["traj"].members[-1].sum(axis=0)),
            "recruits_net_per_week_end": quantiles(weekly["recruits_net"][-1]),
            "deaths_per_week_end": quantiles(weekly["deaths"][-1]),
        },
        "epsilon": [float(e) for e in history.get_all_populations().epsilon[1:]],
        "simulations": int(history.total_nr_simulations),
    }
    atomic_write(
        out / "summary.json", lambda tmp: Path(tmp).write_text(json.dumps(summary, indent=2))
    )
    if write_report is not None:
        write_report(out / "report.html", problem, table, pred, summary)
    return summary
