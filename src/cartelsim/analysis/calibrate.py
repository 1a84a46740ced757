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

import datetime as dt
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc
import pyarrow as pa
import pyarrow.parquet as pq

from cartelsim import ensemble, integrity, observe, outputs
from cartelsim.aggregate import simulate
from cartelsim.analysis import claims, draws, importance, targets
from cartelsim.analysis.abc_parts import BoxPrior, CholeskyNormalTransition
from cartelsim.plan import Plan, make_plan
from cartelsim.results import atomic_write
from cartelsim.scenario import (
    CALIBRATABLE,
    Prior,
    Scenario,
    ScenarioError,
    bounds_of,
    check_priors_hold_values,
    load_scenario,
)
from cartelsim.trajectories import Trajectories
from cartelsim.version import VERSION

#: Posterior-predictive draws used for bands and derived quantities.
PREDICTIVE_DRAWS = 400
#: Columns of the posterior table that are not parameters (besides one `<hypothesis>_form`
#: column per competing hypothesis of the scenario's calibration.hypotheses).
META_COLUMNS = ("incapacitation_form", "model_probability", "weight")
#: The weight ABC-SMC gave each particle in the model-averaged posterior (its weight within
#: its model times the model's probability, summing to 1) before Pareto smoothing. `weight`
#: and `model_probability` are the smoothed ones, which every estimate uses; this one is
#: kept for the sampler's diagnostics (Kish's ESS, k-hat). Tables written before smoothing
#: lack it.
SAMPLER_WEIGHT = "sampler_weight"
MODEL_COLUMN = "model"
FORM_SUFFIX = "_form"
LOG_PREFIX = "log10_"


@dataclass
class Setup:
    """A calibration problem: the scenario, its models (one per combination of competing
    forms: the incapacitation form and calibration.hypotheses), one prior per model, the
    values fixed for all models (`--fix`) and per model (a form's fixed values), and the
    target points."""

    scenario: Scenario
    forms: list[str]  # per model: its incapacitation form
    priors: list[dict[str, Prior]]  # per model: parameter name -> prior
    fixed: dict[str, float]
    points: list[targets.Point]
    plans: list[Plan]
    data_dir: str | None
    models: list[dict[str, str]] = field(default_factory=list)  # per model: hypothesis -> form
    model_fixed: list[dict[str, float]] = field(default_factory=list)  # per model: fixed values

    @property
    def names(self) -> list[list[str]]:
        return [list(p) for p in self.priors]

    def label(self, m: int) -> str:
        """Model m's name: its forms, e.g. "per_member / disruption / boost"."""
        return " / ".join(self.models[m].values()) or self.forms[m]

    @property
    def hypotheses(self) -> list[str]:
        return list(self.models[0]) if self.models else []


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
    check_priors_hold_values(scenario)
    fix = dict(fix or {})
    for name in fix:
        if name not in cal.free and not (name == "incapacitation" and cal.forms):
            raise ValueError(f"--fix {name}: not a free parameter of {scenario.name}")
    free = {k: v for k, v in cal.free.items() if k not in fix}
    models = cal.models()
    forms, priors, model_fixed = [], [], []
    for model in models:
        form = model.get("incapacitation", scenario.parameters.incapacitation_form)
        prior, fixed_here = dict(free), {}
        if cal.forms and "incapacitation" not in fix:
            prior["incapacitation"] = cal.forms[form]
        for hypothesis, chosen in model.items():
            if hypothesis == "incapacitation":
                continue
            for name, value in cal.hypotheses[hypothesis][chosen].items():
                if name in fix:
                    continue
                if isinstance(value, Prior):
                    prior[name] = value
                else:
                    fixed_here[name] = float(value)
        forms.append(form)
        priors.append(prior)
        model_fixed.append(fixed_here)
    if not any(priors):
        raise ValueError(f"{scenario.name}: every parameter is fixed; nothing to calibrate")
    plans = [make_plan(draws.with_form(scenario, f), data_dir) for f in forms]
    for i, target in enumerate(cal.targets):  # a bad series names its target, not only a file
        if not target.data.startswith("claim:"):
            field = f"calibration.targets[{i}].data"
            observe.checked_series(scenario, target.data, data_dir, field)
    points = targets.target_points(plans[0], cal, data_dir)
    folder = str(data_dir) if data_dir else None
    return Setup(scenario, forms, priors, fix, points, plans, folder, models, model_fixed)


def pyabc_prior(priors: dict[str, Prior]) -> pyabc.Distribution:
    """The pyabc distribution of one model's priors (log-uniform ones on the log10 scale):
    a box of bounds when every prior is flat, whose density abc_parts answers cheaply."""
    rvs, box = {}, {}
    for name, prior in priors.items():
        if prior.distribution == "uniform":
            rvs[name] = pyabc.RV("uniform", prior.low, prior.high - prior.low)
            box[name] = (prior.low, prior.high)
        elif prior.distribution == "log_uniform":
            low, high = np.log10(prior.low), np.log10(prior.high)
            rvs[LOG_PREFIX + name] = pyabc.RV("uniform", low, high - low)
            box[LOG_PREFIX + name] = (low, high)
        elif prior.low is None and prior.high is None:
            rvs[name] = pyabc.RV("norm", prior.mean, prior.sd)
        else:
            low = -np.inf if prior.low is None else (prior.low - prior.mean) / prior.sd
            high = np.inf if prior.high is None else (prior.high - prior.mean) / prior.sd
            rvs[name] = pyabc.RV("truncnorm", low, high, prior.mean, prior.sd)
    return BoxPrior(box if len(box) == len(rvs) else None, **rvs)


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
        self.fixed = {**setup.model_fixed[model], **setup.fixed}

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
    force: bool = False,
) -> dict:
    """Run (or continue) the ABC-SMC calibration into folder `out`; return the summary dict
    (also written to OUT/summary.json) after writing posterior.parquet.

    `write_report(path, problem, table, predictive, summary)` writes OUT/report.html from
    what the calibration computed (the CLI passes report.calibration_report.write: analyses
    never import the reports, which import them). `out` may hold this calibration's history
    (it is continued), nothing, or, with `force`, another command's result (replaced)."""
    out = Path(out)
    stale = outputs.check_folder(out, "calibrate", force=force)
    problem = setup(scenario, data_dir, fix)
    cal = problem.scenario.calibration
    populations = populations or cal.populations
    particles = particles or cal.particles
    check_sizes(populations, particles)
    sizes = population_sizes(populations, particles, cal.final_population_factor)
    client = _dask_client(scheduler)  # before any file: an address nobody answers is an error
    stamp = _stamp(problem, sizes)
    resuming = open_folder(out, stamp)
    np.random.seed(seed)  # pyabc draws from numpy's global generator
    logging.getLogger("ABC").setLevel(logging.INFO)
    try:
        abc = pyabc.ABCSMC(
            [ParticleModel(problem, m) for m in range(len(problem.forms))],
            [pyabc_prior(p) for p in problem.priors],
            pyabc.PNormDistance(p=1 if cal.distance == "l1" else 2),
            # the prior sample that starts the distance and epsilon has `particles`, not
            # the last population's size (pyabc asks for size -1)
            population_size=pyabc.populationstrategy.ListPopulationSize(
                sizes, nr_calibration_particles=particles
            ),
            transitions=[
                CholeskyNormalTransition(scaling=cal.kernel_scaling) for _ in problem.forms
            ],
            sampler=sampler(workers, client),
        )
        history = run_history(
            abc, out, stamp, resuming, len(problem.points), populations, cal.min_epsilon
        )
    finally:
        if client is not None:
            client.close()
    return summarize(problem, history, out, seed, write_report, stale)


#: The command line's bounds of --populations and --particles (the scenario's are stricter).
MAX_POPULATIONS, MAX_PARTICLES = 100, 100_000


def check_sizes(populations: int, particles: int) -> None:
    """ValueError (one line) for sizes outside the command line's bounds."""
    if not 1 <= populations <= MAX_POPULATIONS or not 2 <= particles <= MAX_PARTICLES:
        raise ValueError(
            f"--populations must be between 1 and {MAX_POPULATIONS} and --particles between 2 "
            f"and {MAX_PARTICLES:,} (got {populations} and {particles})"
        )


def population_sizes(populations: int, particles: int, final_factor: int) -> list[int]:
    """Particles of each population: `particles`, and `final_factor` times as many in the
    last, which alone makes the posterior sample (Scenario.calibration.final_population_factor).
    If the misfit reaches min_epsilon before the last population, the run stops with an
    ordinary one. ValueError (one line) when the last is over MAX_PARTICLES."""
    last = particles * final_factor
    if last > MAX_PARTICLES:
        raise ValueError(
            f"--particles {particles} times calibration.final_population_factor "
            f"{final_factor} is {last:,}, over the {MAX_PARTICLES:,} allowed"
        )
    return [particles] * (populations - 1) + [last]


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of weighted particles: (sum w)^2 / sum w^2."""
    weights = np.asarray(weights, dtype=float)
    return float(weights.sum() ** 2 / np.square(weights).sum())


def open_folder(out: Path, stamp: dict) -> bool:
    """Create OUT; whether it holds a history made for `stamp` to continue (check_history)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = outputs.reason(exc)
        raise outputs.OutputError(f"--out {out}: cannot be created ({reason})") from None
    return check_history(out / "abc.db", out / "calibration.json", stamp)


def run_history(
    abc: pyabc.ABCSMC,
    out: Path,
    stamp: dict,
    resuming: bool,
    n_points: int,
    populations: int,
    min_epsilon: float,
) -> pyabc.History:
    """Load OUT/abc.db (`resuming`) or start it (writing the stamp), then run the populations
    still missing of `populations` in all, unless the misfit already reached `min_epsilon`."""
    db = f"sqlite:///{out / 'abc.db'}"
    if resuming:
        history = abc.load(db, 1)
    else:
        history = abc.new(db, {"residuals": np.zeros(n_points)})
        atomic_write(out / "calibration.json", lambda tmp: Path(tmp).write_text(json.dumps(stamp)))
    done = history.n_populations
    reached = done > 0 and history.get_all_populations().epsilon.iloc[-1] <= min_epsilon
    if done < populations and not reached:
        history = abc.run(minimum_epsilon=min_epsilon, max_nr_populations=populations - done)
    return history


def _dask_client(scheduler: str | None):
    if scheduler is None:
        return None
    return ensemble.connect(scheduler, timeout=30)


def sampler(workers: int, client) -> pyabc.sampler.Sampler:
    """pyabc's sampler: on a Dask cluster (`client`), in `workers` local processes, or here."""
    if client is not None:
        return pyabc.sampler.DaskDistributedSampler(dask_client=client)
    if workers > 1:
        return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers)
    return pyabc.sampler.SingleCoreSampler()


def _stamp(problem: Setup, sizes: list[int]) -> dict:
    """What a history was made for; a different stamp must not continue it."""
    return {
        "scenario": problem.scenario.name,
        "scenario_sha256": problem.scenario.sha256(),
        "forms": problem.forms,
        "models": problem.models,
        "fixed": problem.fixed,
        "particles": sizes[0],
        "final_particles": sizes[-1],
    }


def check_history(db: Path, stamp_file: Path, stamp: dict) -> bool:
    """Whether OUT holds a history to continue; refuse a damaged or foreign one."""
    if not os.path.lexists(db):
        return False
    if db.is_symlink() or not db.is_file():  # sqlite would wait forever on a FIFO
        raise ValueError(f"{db}: not a regular file, so not a pyabc history; move it away")
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            tables = {r[0] for r in con.execute("select name from sqlite_master")}
            ok = con.execute("pragma quick_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{db}: not a readable pyabc history ({exc}); move it away") from None
    if not ok or "abc_smc" not in tables:
        raise ValueError(f"{db}: damaged or not a pyabc history; move it away to start again")
    try:
        previous = json.loads(outputs.read_bounded(stamp_file, "manifest"))
        if not isinstance(previous, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, RecursionError):
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
    """The final population: one row per particle with its model (the `model` label, its
    incapacitation form and one `<hypothesis>_form` column per competing hypothesis), weight
    within the model, the model's probability, and parameters in natural units; a value a
    model's form fixes (deployment_disruption = 0 under suppression) is filled in, so every
    row holds every parameter its runs use.

    The weights are Pareto smoothed (`smooth_weights`) over all models together, since
    ABC-SMC's weights are importance ratios on the joint space of model and parameters; the
    sampler's own are kept in SAMPLER_WEIGHT."""
    t = history.max_t
    probabilities = history.get_model_probabilities(t)["p"]  # indexed by model number
    frames = []
    for m, form in enumerate(problem.forms):
        p = float(probabilities.get(m, 0.0))
        if p <= 0:
            continue
        df, w = history.get_distribution(m=m, t=t)
        table = pd.DataFrame([natural(row) for _, row in df.iterrows()])
        for name, value in problem.model_fixed[m].items():
            table[name] = value
        table.insert(0, "weight", w)
        table.insert(0, "model_probability", p)
        for hypothesis in reversed(problem.hypotheses):
            if hypothesis != "incapacitation":
                table.insert(0, hypothesis + FORM_SUFFIX, problem.models[m][hypothesis])
        table.insert(0, "incapacitation_form", form)
        table.insert(0, MODEL_COLUMN, problem.label(m))
        frames.append(table)
    table = pd.concat(frames, ignore_index=True)
    for column in table.columns:  # a parameter another model draws: this one's is the scenario's
        if column not in meta_columns(table) and table[column].isna().any():
            table[column] = table[column].fillna(scenario_value(problem.scenario, column))
    return smooth_weights(table)


def smooth_weights(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its weights Pareto smoothed over all models together
    (importance.pareto_smoothed) and the sampler's in SAMPLER_WEIGHT.

    Why: one particle proposed in the thin tail of a population can hold much of its model's
    weight and move that model's quantiles, and with it the model-averaged ones, by more
    than the stability criterion allows (`mexico`, 2026-12-03: 17 % of a model's weight on
    one particle, members at 2022 14 % from another seed's). Smoothing the tail keeps the
    estimate and cuts that noise while k-hat is below 0.7; the summary reports k-hat of the
    sampler's weights to say when it is not."""
    key = _model_key(table)
    within = table.weight / table.groupby(key, sort=False).weight.transform("sum")
    joint = (within * table.model_probability).to_numpy(dtype=float)
    joint = joint / joint.sum()
    smoothed = pd.Series(importance.pareto_smoothed(joint), index=table.index)
    # a sum of weights that add to 1 can exceed 1 by a rounding error, which a probability
    # may not (read_posterior checks it)
    probability = smoothed.groupby(table[key], sort=False).transform("sum").clip(upper=1.0)
    out = table.copy()
    out["weight"] = smoothed / probability
    out["model_probability"] = probability
    out.insert(out.columns.get_loc("weight") + 1, SAMPLER_WEIGHT, joint)
    return out


def scenario_value(scenario: Scenario, name: str) -> float:
    """The value a scenario gives a calibratable quantity."""
    for section in (scenario.parameters, scenario.observation):
        param = getattr(section, name, None)
        if param is not None:
            return float(param.value)
    return float(make_plan(scenario).initial.sum())  # initial_members_total of own groups


def meta_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a posterior table that are not parameters."""
    return [
        c
        for c in table.columns
        if c in META_COLUMNS or c in (MODEL_COLUMN, SAMPLER_WEIGHT) or str(c).endswith(FORM_SUFFIX)
    ]


def _model_key(table: pd.DataFrame) -> str:
    """The column that names a row's model (tables written before hypotheses had only the
    incapacitation form)."""
    return MODEL_COLUMN if MODEL_COLUMN in table.columns else "incapacitation_form"


def posterior_sample_models(table: pd.DataFrame, n: int, seed: int) -> list[tuple]:
    """`n` draws from the model-averaged posterior, grouped by model: a model is drawn with
    its posterior probability, then a particle by its weight. Returns [(model, form,
    values)]: the model's label, its incapacitation form, and {parameter: array}."""
    rng = np.random.default_rng(seed)
    key = _model_key(table)
    probabilities = table.groupby(key, sort=False).model_probability.first()
    counts = rng.multinomial(n, (probabilities / probabilities.sum()).to_numpy())
    names = [c for c in table.columns if c not in meta_columns(table)]
    sample = []
    for model, count in zip(probabilities.index, counts, strict=True):
        if count:
            rows = table[table[key] == model]
            pick = rng.choice(len(rows), size=count, p=rows.weight / rows.weight.sum())
            values = {c: rows[c].to_numpy()[pick] for c in names if rows[c].notna().all()}
            form = str(rows.incapacitation_form.iloc[0])
            sample.append((str(model), form, values))
    return sample


def posterior_sample(table: pd.DataFrame, n: int, seed: int) -> list[tuple[str, dict]]:
    """posterior_sample_models without the model labels: [(form, values)]."""
    return [(form, values) for _, form, values in posterior_sample_models(table, n, seed)]


def predictive(problem: Setup, table: pd.DataFrame, seed: int) -> dict:
    """Posterior-predictive ensemble: PREDICTIVE_DRAWS model-averaged draws, one ensemble per
    model, joined run-wise. Returns the trajectories and the weekly variables."""
    sample = posterior_sample_models(table, PREDICTIVE_DRAWS, seed)
    ensembles = model_ensembles(
        problem.scenario, sample, problem.fixed, problem.data_dir, lambda _: seed
    )
    traj = Trajectories.join([e[2] for e in ensembles])
    weekly = {k: np.concatenate([e[3][k] for e in ensembles], axis=1) for k in ensembles[0][3]}
    labels = [model for model, _, t, _ in ensembles for _ in range(t.members.shape[-1])]
    return {"traj": traj, "weekly": weekly, "models": np.array(labels), "plan": ensembles[-1][1]}


def particle_runs(problem: Setup, table: pd.DataFrame, seed: int) -> dict:
    """Every particle of the final population run once (national totals only: members and
    flows), each with its weight in the model-averaged posterior (its weight within its
    model times the model's probability). Quantiles weighted over these runs are the
    posterior's own: a resample of PREDICTIVE_DRAWS draws (predictive) adds its multinomial
    noise, which moved the median members at a date by up to 5 % between two resamplings of
    one posterior (`mexico`, 2026-12-01), half the stability criterion's 10 %. Returns
    predictive's keys and `weights` (summing to 1)."""
    key = _model_key(table)
    names = [c for c in table.columns if c not in meta_columns(table)]
    sample, weights = [], []
    for model, rows in table.groupby(key, sort=False):
        values = {c: rows[c].to_numpy() for c in names if rows[c].notna().all()}
        sample.append((str(model), str(rows.incapacitation_form.iloc[0]), values))
        within = rows.weight.to_numpy() / rows.weight.sum()
        weights.append(within * float(rows.model_probability.iloc[0]))
    ensembles = model_ensembles(
        problem.scenario, sample, problem.fixed, problem.data_dir, lambda _: seed, "national"
    )
    traj = Trajectories.join([e[2] for e in ensembles])
    weekly = {k: np.concatenate([e[3][k] for e in ensembles], axis=1) for k in ensembles[0][3]}
    labels = [model for model, _, t, _ in ensembles for _ in range(t.members.shape[-1])]
    w = np.concatenate(weights)
    return {
        "traj": traj,
        "weekly": weekly,
        "models": np.array(labels),
        "plan": ensembles[-1][1],
        "weights": w / w.sum(),
    }


def model_ensembles(
    scenario: Scenario,
    sample: list[tuple],
    fixed: dict[str, float],
    data_dir,
    batch_seed: Callable[[int], int],
    record: str = "groups",
) -> list[tuple]:
    """Simulate a posterior sample (posterior_sample_models), one ensemble per model, each
    run with the values fixed for every model added: [(model, plan, traj, weekly)].
    `batch_seed(k)` seeds model k's ensemble; `record` as draws.simulate_draws."""
    out = []
    for k, (model, form, values) in enumerate(sample):
        n = len(next(iter(values.values())))
        values = {**values, **{name: np.full(n, v) for name, v in fixed.items()}}
        plan, traj = draws.simulate_draws(
            scenario, values, batch_seed(k), data_dir, form, record=record
        )
        out.append((model, plan, traj, draws.observables(plan, traj, values)))
    return out


def quantiles(x: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """Median and 90 % interval (weighted when weights are given; they need not sum to 1)."""
    if weights is None:
        q = np.quantile(x, [0.5, 0.05, 0.95])
    else:
        weights = np.asarray(weights, dtype=float) / np.sum(weights)
        q = [
            pyabc.weighted_statistics.weighted_quantile(x, weights, alpha=a)
            for a in (0.5, 0.05, 0.95)
        ]
    return {"median": float(q[0]), "q05": float(q[1]), "q95": float(q[2])}


def summarize(
    problem: Setup, history: pyabc.History, out: Path, seed: int, write_report=None, stale=()
) -> dict:
    """posterior.parquet, summary.json and (with `write_report`) report.html, published
    together (outputs.publish): a failure leaves the previous ones whole."""
    cal = problem.scenario.calibration
    table = posterior_table(problem, history)
    probabilities = table.groupby(MODEL_COLUMN).model_probability.first()
    best = str(probabilities.idxmax())
    rows = table[table[MODEL_COLUMN] == best]
    params = [c for c in rows.columns if c not in meta_columns(table)]
    pred = predictive(problem, table, seed)
    weekly = pred["weekly"]
    every = particle_runs(problem, table, seed)
    w = every["weights"]
    summary = {
        "scenario": problem.scenario.name,
        "populations": int(history.n_populations),
        "particles": int(len(table)),
        "incapacitation_form": str(rows.incapacitation_form.iloc[0]),
        "model": best,
        "model_probabilities": {str(k): float(v) for k, v in probabilities.items()},
        "form_probabilities": form_probabilities(table),
        "fixed": problem.fixed,
        "posterior": {n: quantiles(rows[n].to_numpy(), rows.weight.to_numpy()) for n in params},
        "derived": {
            "members_total_end": quantiles(every["traj"].members[-1].sum(axis=0), w),
            "recruits_net_per_week_end": quantiles(every["weekly"]["recruits_net"][-1], w),
            "deaths_per_week_end": quantiles(every["weekly"]["member_deaths"][-1], w),
            **derived_at_dates(every),
        },
        "derived_by_model": {
            str(m): derived_at_dates(every, every["models"] == m)
            for m in dict.fromkeys(every["models"])
        },
        "predictive_check": (check := predictive_check(problem, pred)),
        "baseline": persistence_baseline(check),
        "claims": claims.claim_table(
            pred["plan"],
            pred["traj"].members,
            weekly,
            pred["models"],
            fitted={t.data.removeprefix("claim:") for t in cal.targets},
        ),  # fmt: skip
        # the sampler's weights (before smoothing): what the particles are worth
        "effective_sample_size": {
            "all": effective_sample_size(table[SAMPLER_WEIGHT]),
            **{
                str(m): effective_sample_size(group[SAMPLER_WEIGHT])
                for m, group in table.groupby(MODEL_COLUMN)
            },
        },
        "effective_sample_size_smoothed": effective_sample_size(
            table.model_probability * table.weight
        ),
        # the sampler's weights' tail: above 0.7 even the smoothed quantiles above are not
        # to be trusted; null where the tail is too short to fit (JSON has no NaN)
        "pareto_k": {
            "all": _or_none(importance.pareto_k(table[SAMPLER_WEIGHT])),
            **{
                str(m): _or_none(importance.pareto_k(group[SAMPLER_WEIGHT]))
                for m, group in table.groupby(MODEL_COLUMN)
            },
        },
        "epsilon": [float(e) for e in history.get_all_populations().epsilon[1:]],
        "simulations": int(history.total_nr_simulations),
    }
    with outputs.publish(out, stale) as staging:
        summary["posterior_sha256"] = write_posterior(table, staging / POSTERIOR_FILE)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        if write_report is not None:
            write_report(staging / "report.html", problem, table, pred, summary)
    return summary


def _or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None


#: Dates at which the summary gives members and recruits: PC2023's figures are for 2012.0
#: (115,000 members) and 2022.0 (160,000-185,000; 350-370 recruits a week).
REPORT_DATES = ("2007-01-01", "2009-02-01", "2012-01-01", "2016-01-01", "2022-01-01")


def derived_at_dates(pred: dict, rows: np.ndarray | None = None) -> dict[str, dict]:
    """Members (all groups) and recruits per week at REPORT_DATES inside the run, as
    quantiles over the runs (`rows`: a mask of them), weighted by pred["weights"] when the
    runs carry weights (particle_runs)."""
    plan, members = pred["plan"], pred["traj"].members.sum(axis=1)
    recruits = pred["weekly"]["recruits"]
    pick = np.ones(members.shape[-1], bool) if rows is None else rows
    w = pred.get("weights")
    w = None if w is None else w[pick]
    out = {}
    for text in REPORT_DATES:
        week = plan.week_of(dt.date.fromisoformat(text))
        if not 0 < week < plan.weeks:
            continue
        out[f"members_{text}"] = quantiles(members[week][pick], w)
        out[f"recruits_per_week_{text}"] = quantiles(recruits[week][pick], w)
    return out


def predictive_check(problem: Setup, pred: dict) -> list[dict]:
    """Every target point against its posterior-predictive distribution: observed value,
    median and 50 % / 90 % intervals, whether the observation lies inside the 90 %, and how
    far the median misses (each point was fitted: this is a check, not a forecast)."""
    sims = targets.simulated(problem.points, pred["traj"], pred["weekly"])
    rows = []
    for point, values in zip(problem.points, sims, strict=True):
        q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
        inside = bool(q[0] <= point.observed <= q[4])
        if point.comparison == "at_least":
            inside = bool(q[4] >= point.observed)
        elif point.comparison == "at_most":
            inside = bool(q[0] <= point.observed)
        rows.append({
            "target": point.target, "label": point.label, "observed": point.observed,
            "comparison": point.comparison, "median": float(q[2]), "q05": float(q[0]),
            "q25": float(q[1]), "q75": float(q[3]), "q95": float(q[4]),
            "inside_90": inside, "median_error": float(q[2] / point.observed - 1.0),
            "role": "fitted",
        })  # fmt: skip
    return rows


def persistence_baseline(check: list[dict]) -> dict[str, dict]:
    """The posterior-predictive median against the naive baseline "this year = last year's
    observed value", per yearly target with at least two consecutive years: the mean
    absolute log error of each over the years that have a previous one. In-sample for the
    model (it was fitted to these points), so a model that does not beat persistence here
    has learned nothing a forecaster would use; `cartelsim hindcast` scores out of sample."""
    out = {}
    by_target: dict[str, dict[int, dict]] = {}
    for row in check:
        if row["comparison"] == "equal" and str(row["label"]).isdigit():
            by_target.setdefault(row["target"], {})[int(row["label"])] = row
    for target, rows in by_target.items():
        years = [y for y in sorted(rows) if y - 1 in rows]
        if not years:
            continue
        model = [abs(np.log(rows[y]["median"] / rows[y]["observed"])) for y in years]
        naive = [abs(np.log(rows[y - 1]["observed"] / rows[y]["observed"])) for y in years]
        out[target] = {
            "years": f"{years[0]}-{years[-1]}",
            "model_mean_abs_log_error": float(np.mean(model)),
            "persistence_mean_abs_log_error": float(np.mean(naive)),
        }
    return out


def form_probabilities(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each competing hypothesis' forms with their posterior probabilities, summed over
    the models that use them (the incapacitation form included)."""
    per_model = table.groupby(_model_key(table), sort=False).first()
    out = {}
    for column in [c for c in meta_columns(table) if c.endswith(FORM_SUFFIX)]:
        hypothesis = column.removesuffix(FORM_SUFFIX)
        sums = per_model.groupby(column).model_probability.sum()
        if column == "incapacitation_form" and len(sums) < 2:
            continue  # one form for everyone: nothing was weighed
        out[hypothesis] = {str(k): float(v) for k, v in sums.items()}
    return out


# --- the posterior file ---------------------------------------------------------------------

POSTERIOR_FILE = "posterior.parquet"
#: The schema metadata key of a posterior table: its checksum, rows and writer.
POSTERIOR_META = b"cartelsim_posterior"
#: The largest posterior table read (100,000 particles of 10 parameters is ~10 MB).
MAX_POSTERIOR_BYTES = 256 * 2**20
FORMS = ("fixed_count", "per_member")


def write_posterior(table: pd.DataFrame, path: Path) -> str:
    """Write a posterior table with Parquet page checksums and, in its metadata, the
    SHA-256 of its columns (integrity.digest_frame); return the checksum."""
    digest = integrity.digest_frame(table)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    meta = {"sha256": digest, "rows": len(table), "cartelsim_version": VERSION}
    arrow = arrow.replace_schema_metadata(
        {**(arrow.schema.metadata or {}), POSTERIOR_META: json.dumps(meta).encode()}
    )
    pq.write_table(arrow, path, write_page_checksum=True)
    return digest


def read_posterior(path: str | Path) -> pd.DataFrame:
    """A posterior table, checked as results are: page checksums, the SHA-256 of its
    columns (from its metadata, and from summary.json beside it when that records one),
    and every value's range. One line naming the file, the column and the row otherwise.

    A table without a checksum (written by hand, or by cartelsim before checksums) is
    still range-checked."""
    path = Path(path)
    label = f"{path}: not a readable posterior table"
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{label} ({outputs.reason(exc)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{label} (not a regular file)")
    if info.st_size > MAX_POSTERIOR_BYTES:
        raise ValueError(f"{label} ({info.st_size:,} bytes; at most {MAX_POSTERIOR_BYTES:,})")
    try:
        arrow = pq.read_table(path, page_checksum_verification=True)
        table = arrow.to_pandas()
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise ValueError(f"{label} ({outputs.reason(exc)})") from None
    missing = [c for c in META_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: not a cartelsim posterior (no {missing[0]} column)")
    _check_posterior_checksum(path, arrow, table)
    _check_posterior_values(path, table)
    return table


def _check_posterior_checksum(path: Path, arrow: pa.Table, table: pd.DataFrame) -> None:
    digest = None
    written = (arrow.schema.metadata or {}).get(POSTERIOR_META)
    if written is not None:
        try:
            digest = json.loads(written)["sha256"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{path}: damaged (its checksum record cannot be read)") from None
        if integrity.digest_frame(table) != digest:
            raise ValueError(
                f"{path}: damaged: its columns do not match the checksum written with them"
            )
    summary = path.parent / "summary.json"
    try:
        recorded = json.loads(outputs.read_bounded(summary, "summary")).get("posterior_sha256")
    except (outputs.OutputError, ValueError, AttributeError, RecursionError):
        recorded = None  # no summary beside it (or not one that records the posterior)
    if recorded is not None and recorded != (digest or integrity.digest_frame(table)):
        raise ValueError(
            f"{path}: does not match the posterior_sha256 in {summary} (one of them was "
            "replaced or edited)"
        )


def _check_posterior_values(path: Path, table: pd.DataFrame) -> None:
    if len(table) == 0:
        raise ValueError(f"{path}: no particles")
    names = [c for c in table.columns if c not in meta_columns(table)]
    if not names:
        raise ValueError(f"{path}: no parameter columns")
    for name in names:
        if name not in CALIBRATABLE:
            raise ValueError(
                f"{path}: column {name!r}: not a parameter cartelsim calibrates "
                f"({', '.join(CALIBRATABLE)})"
            )
    forms = table["incapacitation_form"].astype(str)
    bad = ~forms.isin(FORMS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{path}: column incapacitation_form, row {row}: must be one of "
            f"{', '.join(FORMS)} (got {forms.iloc[row]!r})"
        )
    ranges = [("weight", 0.0, np.inf), ("model_probability", 0.0, 1.0)]
    if SAMPLER_WEIGHT in table.columns:
        ranges.append((SAMPLER_WEIGHT, 0.0, 1.0))
    for column, low, high in ranges:
        _check_column(path, table, column, np.zeros(len(table)) + low, np.zeros(len(table)) + high)
    models = table[_model_key(table)].astype(str)
    for model in models.unique():
        rows = table[models == model]
        if rows.weight.sum() <= 0:
            raise ValueError(f"{path}: column weight: every weight of model {model} is 0")
        if rows.model_probability.nunique() != 1:
            raise ValueError(
                f"{path}: column model_probability: differs between rows of model {model}"
            )
    if table.groupby(models).model_probability.first().sum() <= 0:
        raise ValueError(f"{path}: column model_probability: every model's probability is 0")
    for name in names:
        low = np.array([bounds_of(name, f)[0] for f in forms])
        high = np.array([bounds_of(name, f)[1] for f in forms])
        _check_column(path, table, name, low, high)


def _check_column(path: Path, table: pd.DataFrame, column: str, low, high) -> None:
    try:
        values = pd.to_numeric(table[column]).to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: column {column}: not numbers") from None
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < low) | (values > high)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: column {column}, row {row}: "
            f"must be {integrity.describe_range(float(low[row]), float(high[row]))} "
            f"(got {values[row]!r})"
        )
