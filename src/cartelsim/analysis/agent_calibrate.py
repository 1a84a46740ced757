"""ABC-SMC calibration of the agent engine's assumptions (pyabc), at a reduced scale.

    cartelsim calibrate mexico-2006-2012 --engine agents --scale 0.05 --out runs/abc-agents

What gets a posterior. The agent engine runs on the aggregate engine's rates (recruitment,
conflict lethality, the state's kill and arrest rates: the scenario's values, which for
`mexico` are the aggregate posterior's particle closest to the data) and adds rules of its
own whose 30-odd parameters are assumptions (agents/settings.py). Those assumptions are what
this calibration weighs against the data: by default the five that the Morris screening of
the agent engine ranked first (DEFAULT_PARAMETERS), or the ones named in `parameters`. The
shared rates stay at the scenario's values: refitting them here would spend agent runs, a
thousand times dearer than aggregate ones, on what the aggregate calibration already learned
from 30,000 runs. (Design choice; the other design the issue names, an emulator fitted to
agent runs, would need as many runs to train as this needs to sample.)

Priors. No agent assumption has a measured interval, so each is log-uniform over a factor
`factor` either side of its value, a probability's upper end clipped at 1: the Morris ranges
(agent_sensitivity.varied). That the factor is 2 is itself an assumption.

Targets and distance: the scenario's `[calibration]` targets and the aggregate calibration's
misfit (targets.log_residuals, L2 norm), so that an agent posterior and an aggregate one
answer the same data in the same units; and, because those national series hardly move with
the agent assumptions (the Morris screening's largest normalised effect on the killings is
0.15, on the members 0.06, while the top assumptions move captures and splits by 1-2), the
count of active groups, which only the agent engine has: GROUP_TARGETS, the groups with free
members at the end of each year against the counts of groups in the literature, in the same
log units. The run stops at the populations asked for or when the misfit reaches the
scenario's min_epsilon.

Scale, and its correction. Each particle is one agent run at `scale` agents per real person
(default 0.05). Agent counts are divided by the scale (agents/record.py), so every simulated
target is in real people like its observation: that is the whole correction. What the scale
costs: a count of k people rests on k x scale agents, so it has a relative noise of about
1 / sqrt(k x scale) (the 2011 clashes with authorities, 1,652 people: about 80 agents at
0.05, 11 %, under the target's 25 % error), which widens the posterior; and a rule that acts
per group present in a region (raids) acts differently when fewer agents are spread over
the regions, which biases it (README: raids at 0.05 and 0.01). The posterior answers for
its scale, which the summary records; runs of its closest particle at 1:1
(scripts/agent_consistency.py) check what it says at full size.

Reproducible: pyabc draws from numpy's global generator, which is seeded with `seed`, and
each particle's agent run takes its seed from that generator; with one worker the same
command gives the same posterior. Resumable: OUT/abc.db continues when OUT/calibration.json
matches, as calibrate.py does (a different scale, parameter set or factor is refused).

Posterior predictive: PREDICTIVE_DRAWS particles drawn by weight, each run once at the scale
(seeded from `seed`): every target point's median and 90 % band beside its observation, and
members at 2012.0 and at the end beside PC2023's figures.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc

from cartelsim import budget, observe, outputs, runner
from cartelsim.agents import output
from cartelsim.analysis import targets
from cartelsim.analysis.agent_fit import with_parameters
from cartelsim.analysis.agent_sensitivity import varied
from cartelsim.analysis.calibrate import (
    LOG_PREFIX,
    check_sizes,
    natural,
    open_folder,
    quantiles,
    run_history,
    sampler,
)
from cartelsim.plan import make_plan
from cartelsim.scenario import Scenario, ScenarioError, load_scenario

#: The five assumptions the Morris screening of mexico-2006-2012 ranked first (10
#: trajectories, 390 runs at scale 0.05, seed 0; mean normalised mu_star 0.57, 0.46, 0.43,
#: 0.33, 0.31: README, "Sensitivity of the agent assumptions"). Re-screened with the current
#: particle the first four are the same and bribe_offer_rate is seventh (0.29, after
#: informed_per_raid 0.32 and retaliation_deaths 0.29).
DEFAULT_PARAMETERS = (
    "raid_rate",
    "leak_given_payroll",
    "lieutenant_span",
    "bribe_offer_rate",
    "lieutenant_split_rate",
)
#: Defaults of the command's options: a small SMC, as agent runs are dear (a 0.05 run of
#: mexico-2006-2012 takes about 1.5 s on one core of this machine).
PARTICLES, POPULATIONS, SCALE, FACTOR = 100, 4, 0.05, 2.0
#: Posterior-predictive agent runs.
PREDICTIVE_DRAWS = 16
#: Dates at which members are reported, with PC2023's figure where it has one (a 10 % share).
MEMBER_DATES = {"2012-01-01": 115_000.0}


@dataclass(frozen=True)
class GroupTarget:
    """Active groups (groups with free members) at the end of `year` against `observed`."""

    year: int
    observed: float
    relative_error: float
    source: str


#: The rise of the number of groups (issue "Agent engine", item 2: a calibration target).
#: Errors are assumptions: the counts are press-coded, and groups seen in violent events are
#: fewer than groups with members, so each is read within a factor of about 1.6.
GROUP_TARGETS = (
    GroupTarget(
        2007, 5.0, 0.5,
        "Atuesta & Perez-Davila 2018, Trends in Organized Crime 21(3):235-261, p. 236: 5 "
        "groups in violent events in 2007 (CIDE PPD event database); docs/EVIDENCE.md 2",
    ),
    GroupTarget(
        2011, 80.0, 0.5,
        "Atuesta & Perez-Davila 2018, p. 236: nearly 80 cartels, gangs and cells in violent "
        "events in 2011 (CIDE PPD event database); docs/EVIDENCE.md 2",
    ),
)  # fmt: skip


def check_options(
    scenario: Scenario, scale: float, factor: float, parameters: list[str] | None
) -> dict[str, dict]:
    """ValueError (one line naming the option) for bad options; the prior ranges."""
    label = f"{scenario.name}.toml"
    if scenario.calibration is None:
        raise ScenarioError(f"{label}: calibration: the scenario has no [calibration] section")
    if not (math.isfinite(scale) and 0 < scale <= 1):
        raise ValueError(f"--scale: must be in (0, 1] (got {scale})")
    if not (math.isfinite(factor) and factor > 1):
        raise ValueError(f"--factor: must be > 1 (got {factor})")
    ranges = varied(scenario, factor)
    names = list(DEFAULT_PARAMETERS if parameters is None else parameters)
    bad = [n for n in names if n not in ranges] or [n for n in names if names.count(n) > 1]
    if bad:
        raise ValueError(
            f"--parameters: {bad[0]!r} is not an assumed agent parameter with a positive "
            f"value, or is given twice; choose among {', '.join(ranges)}"
        )
    if not names:
        raise ValueError("--parameters: name at least one agent parameter")
    return {n: ranges[n] for n in names}


def prior(ranges: dict[str, dict]) -> pyabc.Distribution:
    """Log-uniform priors over the ranges, as log10 values (calibrate.py's convention)."""
    rvs = {}
    for name, r in ranges.items():
        low, high = math.log10(r["low"]), math.log10(r["high"])
        rvs[LOG_PREFIX + name] = pyabc.RV("uniform", low, high - low)
    return pyabc.Distribution(**rvs)


def group_targets(plan) -> list[GroupTarget]:
    """The GROUP_TARGETS whose year the simulation covers to its end."""
    return [t for t in GROUP_TARGETS if observe.covers(plan, t.year, (1, 12))]


class AgentParticle:
    """What pyabc simulates for one particle: one agent run at the scale, reduced to the
    weighted log residuals at the target points and the group targets. A plain class so
    that pyabc can pickle it."""

    def __init__(self, scenario: Scenario, points, groups, scale: float, data_dir):
        self.scenario, self.points, self.groups = scenario, points, groups
        self.scale, self.data_dir = scale, data_dir

    def __call__(self, theta) -> dict[str, np.ndarray]:
        seed = int(np.random.randint(0, 2**31 - 1))  # pyabc seeds numpy per worker
        sims = self.simulated(self.run(natural(theta), seed))
        return {"residuals": self.residuals(sims)}

    def simulated(self, results) -> np.ndarray:
        """The run's value at every target point, then at every group target."""
        values = targets.simulated(self.points, results.traj, results.weekly)[:, 0]
        active = output.national_mechanisms(results)["active_groups"][:, 0]
        plan = results.plan
        ends = [np.flatnonzero(observe.window(plan, t.year))[-1] for t in self.groups]
        return np.concatenate([values, active[ends].astype(float)])

    def residuals(self, sims: np.ndarray) -> np.ndarray:
        n = len(self.points)
        out = targets.log_residuals(self.points, sims[:n, None])[:, 0]
        groups = [np.log(max(v, 1e-12) / t.observed) / t.relative_error
                  for v, t in zip(sims[n:], self.groups, strict=True)]  # fmt: skip
        return np.concatenate([out, np.array(groups, dtype=float)])

    def run(self, values: dict[str, float], seed: int):
        variant = with_parameters(self.scenario, values)
        return runner.run(
            variant, 1, seed, self.data_dir, engine="agents", scale=self.scale, regions=None
        )


def calibrate_agents(
    scenario: Scenario | str | Path,
    out: str | Path,
    populations: int | None = None,
    particles: int | None = None,
    scale: float = SCALE,
    factor: float = FACTOR,
    parameters: list[str] | None = None,
    workers: int = 1,
    data_dir: str | Path | None = None,
    seed: int = 0,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    draws: int = PREDICTIVE_DRAWS,
    write_report: Callable[[Path, dict], object] | None = None,
) -> dict:
    """Run (or continue) the agent calibration into `out` (module docstring); write
    posterior.parquet, summary.json and, with `write_report(path, summary)`, report.html
    (the CLI passes report.agent_calibration_report.write: analyses never import the
    reports); return the summary. `draws`: the posterior-predictive agent runs."""
    clock = time.perf_counter()
    out = Path(out)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    ranges = check_options(scenario, scale, factor, parameters)
    populations = populations or POPULATIONS
    particles = particles or PARTICLES
    check_sizes(populations, particles)
    budget.check_scale(scenario, scale)
    budget.agent_estimate(scenario, scale, None).check(1, "--scale")  # one world in memory
    stale = outputs.check_folder(out, "calibrate", force=force)
    plan = make_plan(scenario, data_dir)
    points = targets.target_points(plan, scenario.calibration, data_dir)
    groups = group_targets(plan)
    stamp = {
        "engine": "agents",
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256(),
        "scale": scale,
        "priors": ranges,
        "group_targets": [t.__dict__ for t in groups],
        "particles": particles,
    }
    resuming = open_folder(out, stamp)
    np.random.seed(seed)  # pyabc draws from numpy's global generator
    logging.getLogger("ABC").setLevel(logging.INFO)
    model = AgentParticle(scenario, points, groups, scale, data_dir)
    abc = pyabc.ABCSMC(
        model,
        prior(ranges),
        pyabc.PNormDistance(p=1 if scenario.calibration.distance == "l1" else 2),
        population_size=particles,
        transitions=pyabc.transition.MultivariateNormalTransition(
            scaling=scenario.calibration.kernel_scaling
        ),
        sampler=sampler(workers, None),
    )
    n_points = len(points) + len(groups)
    min_epsilon = scenario.calibration.min_epsilon
    history = run_history(abc, out, stamp, resuming, n_points, populations, min_epsilon)
    if progress is not None:
        progress(f"{history.n_populations} populations; posterior-predictive agent runs")
    summary = summarize(scenario, model, plan, history, ranges, seed, draws)
    summary["seconds"] = round(time.perf_counter() - clock, 1)
    table = posterior_frame(history)
    with outputs.publish(out, stale) as staging:
        table.to_parquet(staging / "posterior.parquet", index=False)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        if write_report is not None:
            write_report(staging / "report.html", summary)
    return summary


def posterior_frame(history: pyabc.History) -> pd.DataFrame:
    """The final population: one row per particle, its weight, distance and values."""
    df, w = history.get_distribution(m=0, t=history.max_t)
    table = pd.DataFrame([natural(row) for _, row in df.iterrows()])
    distances = history.get_weighted_distances(t=history.max_t)
    table.insert(0, "distance", distances["distance"].to_numpy())
    table.insert(0, "weight", w)
    return table


def summarize(
    scenario, model: AgentParticle, plan, history, ranges: dict, seed: int, draws: int
) -> dict:
    """The summary: posterior quantiles, the closest particle, the SMC's path, and the
    posterior-predictive check of every target and of members at MEMBER_DATES."""
    table = posterior_frame(history)
    names = list(ranges)
    weights = table.weight.to_numpy()
    best = table.loc[table.distance.idxmin()]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(table), size=draws, p=weights / weights.sum())
    run_seeds = rng.integers(0, 2**31 - 1, size=draws)
    sims, members = [], {d: [] for d in (*MEMBER_DATES, "end")}
    for pick, run_seed in zip(picks, run_seeds, strict=True):
        values = {n: float(table[n].iloc[pick]) for n in names}
        results = model.run(values, int(run_seed))
        sims.append(model.simulated(results))
        total = results.traj.members.sum(axis=1)[:, 0]
        for day in MEMBER_DATES:
            week = plan.week_of(dt.date.fromisoformat(day))
            members[day].append(float(total[week]) if 0 <= week <= plan.weeks else math.nan)
        members["end"].append(float(total[-1]))
    sims = np.array(sims).T  # (points, draws)
    check = []
    rows = [(p.target, p.label, p.observed, p.comparison) for p in model.points]
    rows += [("active_groups", str(t.year), t.observed, "equal") for t in model.groups]
    for k, (target, label, observed, comparison) in enumerate(rows):
        q = quantiles(sims[k])
        if comparison == "at_least":
            inside = q["q95"] >= observed
        elif comparison == "at_most":
            inside = q["q05"] <= observed
        else:
            inside = q["q05"] <= observed <= q["q95"]
        check.append(
            {"target": target, "label": label, "observed": observed,
             "comparison": comparison, **q, "inside_90": bool(inside)}
        )  # fmt: skip
    ess = 1.0 / float(((weights / weights.sum()) ** 2).sum())
    return {
        "scenario": scenario.name,
        "engine": "agents",
        "scale": model.scale,
        "seed": seed,
        "populations": int(history.n_populations),
        "particles": int(len(table)),
        "simulations": int(history.total_nr_simulations),
        "epsilon": [float(e) for e in history.get_all_populations().epsilon[1:]],
        "effective_sample_size": round(ess, 1),
        "priors": ranges,
        "group_targets": [t.__dict__ for t in model.groups],
        "posterior": {n: quantiles(table[n].to_numpy(), weights) for n in names},
        "closest": {"distance": float(best.distance), **{n: float(best[n]) for n in names}},
        "predictive_draws": draws,
        "predictive_check": check,
        "inside_90": int(sum(row["inside_90"] for row in check)),
        "members": {
            day: {**quantiles(np.array(v)), "pc2023": MEMBER_DATES.get(day)}
            for day, v in members.items()
            if not np.isnan(v).any()
        },
    }
