"""Sobol sensitivity of the main outputs to the uncertain parameters (SALib).

Which assumption decides the answer? Sobol first-order indices say how much of an output's
variance one parameter explains alone; total indices add its interactions. The parameters
vary over the scenario's calibration priors (the scenario's own incapacitation form), so
the question is asked over exactly the ranges the calibration considers plausible. All
N (2D + 2) Saltelli samples run as one ensemble.

Reproducible: the Saltelli sample and SALib's bootstrap of the confidence intervals are both
seeded from `seed`, so the same command gives the same indices and the same `*_conf`.

When to distrust the result (`result["warnings"]`, one line each, empty when none applies):

1. fewer than MIN_SAMPLES (64) base samples: the bootstrap confidence intervals are then
   themselves unreliable, whatever they say;
2. a total index whose 95 % confidence half-width exceeds the index (ST_conf > ST, for
   parameters whose ST is not exactly 0): the sample cannot tell whether that parameter
   matters at all;
3. an index outside [0, 1] beyond its confidence (ST - ST_conf > 1 or S1 + S1_conf < 0):
   an impossible value that its interval does not even cover;
4. an index that is not a number (an output that does not vary).

First-order indices whose interval is wider than the index are not flagged: a parameter with
no effect of its own has S1 near 0, and its interval then covers 0 at any sample size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from SALib.analyze import sobol
from SALib.sample import sobol as saltelli

from cartelsim.analysis import draws
from cartelsim.scenario import Prior, Scenario, ScenarioError, load_scenario

#: Outputs analysed: at the scenario's end date, or summed over the run (members killed, and
#: the killings recorded, which also depend on the cartel share).
OUTPUTS = (
    "members_total_end",
    "deaths_per_week_end",
    "recruits_net_per_week_end",
    "deaths_total",
    "recorded_killings_total",
)

#: Below this many base samples the bootstrap confidence intervals are not trusted (rule 1).
MIN_SAMPLES = 64


def bootstrap_seed(seed: int) -> int:
    """The seed of SALib's bootstrap, derived from the command's seed. Never 0: SALib skips
    seeding for a falsy seed (`if seed:`), which made `*_conf` differ between reruns."""
    return int(np.random.SeedSequence([seed, 0x50B0]).generate_state(1)[0]) or 1


def problem(scenario: Scenario) -> tuple[dict, list[bool]]:
    """The SALib problem from the calibration priors, and which names are on a log10 scale."""
    label = f"{scenario.name}.toml"
    if scenario.calibration is None:
        raise ScenarioError(f"{label}: calibration: sensitivity varies the calibration priors")
    priors: dict[str, Prior] = dict(scenario.calibration.free)
    form = scenario.parameters.incapacitation_form
    if form in scenario.calibration.forms:
        priors["incapacitation"] = scenario.calibration.forms[form]
    names, bounds, dists, logs = [], [], [], []
    for name, prior in priors.items():
        names.append(name)
        logs.append(prior.distribution == "log_uniform")
        if prior.distribution == "normal":
            bounds.append([prior.mean, prior.sd])
            dists.append("norm")
        elif prior.distribution == "log_uniform":
            bounds.append([np.log10(prior.low), np.log10(prior.high)])
            dists.append("unif")
        else:
            bounds.append([prior.low, prior.high])
            dists.append("unif")
    return {"num_vars": len(names), "names": names, "bounds": bounds, "dists": dists}, logs


def sensitivity(
    scenario: Scenario | str | Path,
    samples: int = 256,
    seed: int = 0,
    data_dir: str | Path | None = None,
) -> dict:
    """First-order (S1) and total (ST) Sobol indices with 95 % confidence half-widths.

    Returns {"scenario", "samples", "runs", "indices": {output: {param: {S1, S1_conf, ST,
    ST_conf}}}, "warnings": [str, ...]} (the warnings: see the module docstring)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if samples < 8 or samples & (samples - 1):
        raise ValueError(f"--samples: must be a power of 2 and >= 8 (got {samples})")
    spec, logs = problem(scenario)
    x = saltelli.sample(spec, samples, calc_second_order=False, seed=seed)
    values = {
        name: 10.0 ** x[:, k] if log else x[:, k]
        for k, (name, log) in enumerate(zip(spec["names"], logs, strict=True))
    }
    if "cartel_share" in values:
        values["cartel_share"] = np.clip(values["cartel_share"], 1e-6, 1.0)
    plan, traj = draws.simulate_draws(scenario, values, seed, data_dir, record="national")
    weekly = draws.observables(plan, traj, values)
    outputs = {
        "members_total_end": traj.members[-1].sum(axis=0),
        "deaths_per_week_end": weekly["member_deaths"][-1],
        "recruits_net_per_week_end": weekly["recruits_net"][-1],
        "deaths_total": weekly["member_deaths"].sum(axis=0),
        "recorded_killings_total": weekly["killings"].sum(axis=0),
    }
    indices = {}
    for output, y in outputs.items():
        result = sobol.analyze(spec, y, calc_second_order=False, seed=bootstrap_seed(seed))
        indices[output] = {
            name: {key: float(result[key][k]) for key in ("S1", "S1_conf", "ST", "ST_conf")}
            for k, name in enumerate(spec["names"])
        }
    return {
        "scenario": scenario.name,
        "samples": samples,
        "runs": len(x),
        "indices": indices,
        "warnings": trust_warnings(indices, samples),
    }


#: Rules 2-3 of the module docstring: (index shown, test on one parameter's values, message).
_CHECKS = (
    (
        "ST",
        lambda v: v["ST_conf"] > abs(v["ST"]),
        "the total index's confidence interval is wider than the index (the sample cannot "
        "tell whether the parameter matters)",
    ),
    (
        "ST",
        lambda v: v["ST"] - v["ST_conf"] > 1,
        "the total index is above 1 beyond its confidence",
    ),
    (
        "S1",
        lambda v: v["S1"] + v["S1_conf"] < 0,
        "the first-order index is below 0 beyond its confidence",
    ),
)


def trust_warnings(indices: dict, samples: int) -> list[str]:
    """One line per reason to distrust the indices (the module docstring's rules 1-4)."""
    more = f"rerun with --samples {max(4 * samples, 512)} or more"
    out = []
    if samples < MIN_SAMPLES:
        out.append(
            f"--samples {samples}: fewer than {MIN_SAMPLES} base samples, too few for the "
            f"bootstrap confidence intervals to mean anything; {more}"
        )
    for output, by_name in indices.items():
        finite = {n: v for n, v in by_name.items() if all(np.isfinite(list(v.values())))}
        if len(finite) < len(by_name):
            nan = ", ".join(n for n in by_name if n not in finite)
            out.append(f"{output}: the indices are not numbers for {nan}")
        for key, failed, what in _CHECKS:
            names = [n for n, v in finite.items() if failed(v)]
            if names:
                values = ", ".join(_value(n, finite[n], key) for n in names)
                out.append(f"{output}: {what} for {values}; {more}")
    return out


def _value(name: str, values: dict, key: str) -> str:
    return f"{name} {key} {values[key]:.3g} ± {values[key + '_conf']:.3g}"


def frame(result: dict) -> pd.DataFrame:
    """The indices as a tidy table: output, parameter, S1, S1_conf, ST, ST_conf."""
    rows = [
        {"output": output, "parameter": name, **values}
        for output, by_name in result["indices"].items()
        for name, values in by_name.items()
    ]
    return pd.DataFrame(rows)
