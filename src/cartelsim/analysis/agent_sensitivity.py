"""Morris screening of the agent engine's assumed parameters (SALib).

Most agent-only parameters (agents/settings.py) are marked `assumption`: nobody measured
them. Which of them decide the answer? Sobol indices (sensitivity.py) would need thousands
of agent runs; Morris elementary effects rank 30-odd parameters with r (D + 1) runs, r
trajectories of D one-at-a-time steps each, which is what a screening needs: which
assumptions to measure first, which can stay rough.

Parameters varied: every agent parameter marked `assumption = True` whose value is a
positive number (clash_locality when the scenario sets it; 0-valued ones, such as a rule
switched off, stay off). None is skipped: the counts (max_new_groups, officials and police per
100,000, lieutenant_span) and the day counts (sentence_days, truce_memory_days) are read as
numbers by the engine and truncated where it needs a whole number (int(max_new_groups) group
slots, int(sentence_days)), so the output moves in small steps over their range. Each
varies over a factor F either side of its value on a log scale, [v / F, v F] (`factor`,
default 2): a range in proportion to the value, the same for every parameter, because no
parameter has a measured interval. Probabilities and shares (PROBABILITIES) must stay in
[0, 1]: their upper end is clipped to 1, so their range is [v / F, min(v F, 1)]. The
elementary effects are in units of a parameter's whole range (SALib's unscaled effects),
so mu_star compares parameters whatever their units.

Outputs (OUTPUTS), per run, from the national results `cartelsim run --engine agents`
summarises (results.weekly, agents.output.national_mechanisms): members at the end; over
the run, the organized-crime killings (the summary's oc_killings), members killed by rivals
and by the state, army and federal police killed and local police killed (the agent
engine's own counts, not the aggregate observation model's ratio), arrests, recruits, leaked
raids, leader captures in raids, splits and truces decided; and active groups at the end.
mu_star is in each output's units; mu_star_normalised = mu_star / |mean output over all
runs| (None, NaN in the table, for an output whose mean is 0) lets outputs compare; the
ranking orders the parameters by their mean normalised mu_star over the outputs (ranking's
docstring says why not the largest), and ranking_by_output by mu_star within each output.

Scale. The runs are at a reduced scale (`scale`, default 0.05: one agent per 20 people) for
time, and counts are corrected as every agent run corrects them (agents/record.py): agent
counts (members, deaths, arrests, recruits, forces killed) are divided by the scale, so they
are in real people; raids, leaked raids, leader captures and splits are events counted as
they happen (their rates are set per real person), never divided. Nothing else is
corrected here. What a reduced scale costs: a count of k real people is k x scale agents,
so its noise is about 1 / sqrt(k x scale) relatively, and an effect smaller than that is
not resolved; and rules that act per agent present (raids per group present in a region)
act on fewer regions when fewer agents are spread over them, so the reduced-scale ranking
answers for that scale (see the README for the measured run). `years` simulates only the
scenario's first N years (hindcast.cut), for quick screens and the tests.

Common random numbers: every point of one trajectory runs with the same seed and run index
(run t of the ensemble seeded with `seed`, as `compare --engine agents` pairs a policy with
its base), so each mechanism's random stream (agents/streams.py) is shared along the
trajectory and an elementary effect is the parameter step's effect, not a new draw of the
noise (the worlds still drift apart once a step changes who is where). Reproducible: the
Morris sample and SALib's bootstrap of mu_star_conf are both seeded from `seed`, so the same
command gives identical indices.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.sample import morris as morris_sample

from cartelsim import budget, runner
from cartelsim.agents import output
from cartelsim.agents.settings import AgentSettings
from cartelsim.analysis.agent_fit import with_parameters
from cartelsim.analysis.hindcast import cut
from cartelsim.analysis.sensitivity import bootstrap_seed
from cartelsim.scenario import Scenario, load_scenario

#: Defaults of the command's options.
TRAJECTORIES, LEVELS, FACTOR, SCALE = 10, 4, 2.0, 0.05
#: Parameters that are probabilities or shares (a chance, a share, a daily chance per
#: person or pair): their range is clipped at 1.
PROBABILITIES = frozenset(
    {
        "movement_rate",
        "raid_success",
        "sharing_success_gain",
        "leak_given_payroll",
        "retaliation_probability",
        "leader_capture",
        "split_probability",
        "split_fraction",
        "truce_rate",
        "truce_break_rate",
        "merger_rate",
        "merger_size_ratio",
        "initial_payroll_share",
        "bribe_acceptance",
        "payroll_exit_rate",
        "vetting_removal_rate",
        "defection_rate",
        "business_closure",
        "business_recovery",
    }
)
#: Outputs analysed: name -> what it is (see run_outputs).
OUTPUTS = {
    "members_end": "free members at the end (real people)",
    "oc_killings": "organized-crime killings over the run (the summary's oc_killings)",
    "member_deaths_by_rivals": "members killed by rival groups over the run",
    "member_deaths_by_state": "members killed by the state forces over the run",
    "state_forces_killed": "army and federal police killed over the run (agent counts)",
    "local_police_killed": "state and municipal police killed over the run (agent counts)",
    "arrests": "members arrested over the run",
    "recruits": "recruits over the run",
    "raids_leaked": "raids leaked over the run (events)",
    "leader_captures": "leaders captured in raids over the run (events)",
    "splits": "groups split over the run (events)",
    "truces_decided": "truces the groups decided over the run (events)",
    "active_groups_end": "groups with free members at the end",
}
#: The index columns of the table, per output and parameter.
INDICES = ("mu_star", "mu_star_conf", "sigma", "mu", "mu_star_normalised")


def varied(scenario: Scenario, factor: float) -> dict[str, dict]:
    """The parameters varied (module docstring), in settings order: name -> value, unit,
    low, high (the log-scale range) and probability (whether the range was clipped at 1)."""
    params = (scenario.agents or AgentSettings()).parameters
    out = {}
    for name in type(params).model_fields:
        param = getattr(params, name)
        if param is None or not param.assumption or not param.value > 0:
            continue
        v, probability = float(param.value), name in PROBABILITIES
        high = min(v * factor, 1.0) if probability else v * factor
        out[name] = {
            "value": v,
            "unit": param.unit,
            "low": v / factor,
            "high": max(high, v),
            "probability": probability,
        }
    return out


def run_outputs(results) -> dict[str, float]:
    """One agent run's outputs (OUTPUTS) from its Results (one run)."""
    weekly, mech = results.weekly, output.national_mechanisms(results)

    def total(series: np.ndarray) -> float:
        return float(series[:, 0].sum())

    return {
        "members_end": float(results.traj.members[-1].sum(axis=0)[0]),
        "oc_killings": total(weekly["killings"]),
        "member_deaths_by_rivals": total(weekly["member_deaths_by_rivals"]),
        "member_deaths_by_state": total(weekly["member_deaths_by_state"]),
        "state_forces_killed": total(mech["forces_killed"]),
        "local_police_killed": total(mech["local_police_killed"]),
        "arrests": total(weekly["incapacitated"]),
        "recruits": total(weekly["recruits"]),
        "raids_leaked": total(mech["raids_leaked"]),
        "leader_captures": total(mech["leaders_captured"]),
        "splits": total(mech["splits"]),
        "truces_decided": total(mech["truces_decided"]),
        "active_groups_end": float(mech["active_groups"][-1, 0]),
    }


def check_options(
    scenario: Scenario,
    trajectories: int,
    levels: int,
    factor: float,
    scale: float,
    years: int | None,
    parameters: list[str] | None,
) -> dict[str, dict]:
    """ValueError (one line naming the option) for bad options; the parameters to vary."""
    if not (isinstance(trajectories, int) and trajectories >= 2):
        raise ValueError(f"--trajectories: must be a whole number >= 2 (got {trajectories})")
    if not (isinstance(levels, int) and levels >= 2 and levels % 2 == 0):
        raise ValueError(f"--levels: must be an even whole number >= 2 (got {levels})")
    if not (math.isfinite(factor) and factor > 1):
        raise ValueError(f"--factor: must be > 1 (got {factor})")
    if not (math.isfinite(scale) and 0 < scale <= 1):
        raise ValueError(f"--scale: must be in (0, 1] (got {scale})")
    if years is not None:
        whole = scenario.simulation.weeks // 52
        if not 1 <= years <= whole:
            raise ValueError(
                f"--years: must be between 1 and {whole} ({scenario.name}.toml simulates "
                f"{scenario.simulation.weeks} weeks) (got {years})"
            )
    ranges = varied(scenario, factor)
    if parameters is not None:
        unknown = [n for n in parameters if n not in ranges] or [
            n for n in parameters if parameters.count(n) > 1
        ]
        if unknown:
            raise ValueError(
                f"--parameters: {unknown[0]!r} is not an assumed agent parameter with a "
                f"positive value, or is given twice; choose among {', '.join(ranges)}"
            )
        ranges = {n: ranges[n] for n in parameters}
    if len(ranges) < 2:
        raise ValueError("--parameters: Morris screening needs at least 2 parameters")
    return ranges


def agent_sensitivity(
    scenario: Scenario | str | Path,
    trajectories: int = TRAJECTORIES,
    levels: int = LEVELS,
    factor: float = FACTOR,
    scale: float = SCALE,
    seed: int = 0,
    years: int | None = None,
    parameters: list[str] | None = None,
    data_dir: str | Path | None = None,
    progress=None,
) -> dict:
    """Morris indices of the agent engine's assumed parameters (module docstring).

    Returns {"scenario", "engine", "scale", "trajectories", "levels", "factor", "seed",
    "years", "end", "runs", "parameters": {name: range}, "outputs": {name: meaning},
    "mean": {output: mean over runs}, "indices": {output: {param: {mu_star, mu_star_conf,
    sigma, mu, mu_star_normalised}}}, "ranking": [{parameter, mean_mu_star_normalised,
    largest_mu_star_normalised, largest_on}], "ranking_by_output": {output: [param, ...]},
    "samples": [{parameter values..., outputs...}] (one per run), "seconds"}."""
    clock = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    ranges = check_options(scenario, trajectories, levels, factor, scale, years, parameters)
    if years is not None:
        scenario = cut(scenario, scenario.simulation.week_start(52 * years))
    names = list(ranges)
    runs = trajectories * (len(names) + 1)
    budget.check_agent_compare(scenario, trajectories, runs, scale, None, "--trajectories")
    spec = {
        "num_vars": len(names),
        "names": names,
        "bounds": [[math.log10(r["low"]), math.log10(r["high"])] for r in ranges.values()],
    }
    x = morris_sample.sample(spec, trajectories, num_levels=levels, seed=seed)
    values = 10.0**x
    rows = []
    for k in range(len(x)):
        point = dict(zip(names, map(float, values[k]), strict=True))
        variant = with_parameters(scenario, point)
        # Common random numbers: run t of the ensemble for every point of trajectory t.
        results = runner.run(
            variant, 1, seed, data_dir, first_run=k // (len(names) + 1), engine="agents",
            scale=scale,
        )  # fmt: skip
        rows.append({**point, **run_outputs(results)})
        if progress is not None:
            progress(1)
    table = pd.DataFrame(rows)
    indices, mean = {}, {}
    for name in OUTPUTS:
        y = table[name].to_numpy(dtype=float)
        mean[name] = float(y.mean())
        found = morris_analyze.analyze(
            spec, x, y, num_levels=levels, num_resamples=1000, seed=bootstrap_seed(seed)
        )
        indices[name] = {
            p: {key: float(found[key][j]) for key in INDICES[:-1]} for j, p in enumerate(names)
        }
        for entry in indices[name].values():
            entry["mu_star_normalised"] = (
                entry["mu_star"] / abs(mean[name]) if mean[name] != 0 else None
            )
    return {
        "scenario": scenario.name,
        "engine": "agents",
        "scale": scale,
        "trajectories": trajectories,
        "levels": levels,
        "factor": factor,
        "seed": seed,
        "years": years,
        "end": scenario.simulation.end().isoformat(),
        "runs": runs,
        "parameters": ranges,
        "outputs": OUTPUTS,
        "mean": mean,
        "indices": indices,
        "ranking": ranking(indices),
        "ranking_by_output": ranking_by_output(indices),
        "samples": rows,
        "seconds": round(time.perf_counter() - clock, 1),
    }


def ranking(indices: dict) -> list[dict]:
    """The parameters by their mean mu_star_normalised over the outputs, largest first, each
    with its largest normalised mu_star and that output (outputs whose mean is 0 left out).

    The mean, not the largest, orders them: an output counted in a few agents (local police
    killed at a small scale) has a small mean, so its noise alone gives large normalised
    effects to every parameter, and the largest would rank that noise."""
    rows = []
    for name in next(iter(indices.values()), {}):
        found = {
            o: by_name[name]["mu_star_normalised"]
            for o, by_name in indices.items()
            if by_name[name]["mu_star_normalised"] is not None
        }
        top = max(found, key=found.get) if found else ""
        rows.append(
            {
                "parameter": name,
                "mean_mu_star_normalised": float(np.mean(list(found.values()))) if found else 0.0,
                "largest_mu_star_normalised": found.get(top, 0.0),
                "largest_on": top,
            }
        )
    return sorted(rows, key=lambda r: -r["mean_mu_star_normalised"])


def ranking_by_output(indices: dict) -> dict[str, list[str]]:
    """Per output, the parameters by mu_star, largest first."""
    return {
        o: sorted(by_name, key=lambda n: -by_name[n]["mu_star"]) for o, by_name in indices.items()
    }


def frame(result: dict) -> pd.DataFrame:
    """The indices as a tidy table: output, parameter, mu_star, mu_star_conf, sigma, mu,
    mu_star_normalised."""
    rows = [
        {"output": output_name, "parameter": name, **values}
        for output_name, by_name in result["indices"].items()
        for name, values in by_name.items()
    ]
    return pd.DataFrame(rows, columns=["output", "parameter", *INDICES])


def samples_frame(result: dict) -> pd.DataFrame:
    """One row per run: trajectory, the parameter values, the outputs."""
    table = pd.DataFrame(result["samples"])
    table.insert(0, "trajectory", np.arange(len(table)) // (len(result["parameters"]) + 1))
    return table


def ranking_text(result: dict) -> str:
    """The ranking as lines: parameter, mean and largest normalised mu_star, and where."""
    width = max(len(r["parameter"]) for r in result["ranking"])
    lines = [
        f"{result['scenario']}: Morris, {result['trajectories']} trajectories, "
        f"{result['runs']} agent runs at scale {result['scale']:g} ({result['seconds']:g} s)",
        f"  {'parameter':<{width}}  mu_star / |mean output|: mean over outputs, largest (on)",
    ]
    for r in result["ranking"]:
        lines.append(
            f"  {r['parameter']:<{width}}  {r['mean_mu_star_normalised']:8.3f}  "
            f"{r['largest_mu_star_normalised']:8.3f} ({r['largest_on']})"
        )
    return "\n".join(lines)
