"""Sobol sensitivity of the main outputs to the uncertain parameters (SALib).

Which assumption decides the answer? Sobol first-order indices say how much of an output's
variance one parameter explains alone; total indices add its interactions. The parameters
vary over the scenario's calibration priors (the scenario's own incapacitation form), so
the question is asked over exactly the ranges the calibration considers plausible. All
N (2D + 2) Saltelli samples run as one ensemble.
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
    ST_conf}}}}."""
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
        "deaths_per_week_end": weekly["deaths"][-1],
        "recruits_net_per_week_end": weekly["recruits_net"][-1],
        "deaths_total": weekly["deaths"].sum(axis=0),
        "recorded_killings_total": weekly["killings"].sum(axis=0),
    }
    indices = {}
    for output, y in outputs.items():
        result = sobol.analyze(spec, y, calc_second_order=False, seed=seed)
        indices[output] = {
            name: {key: float(result[key][k]) for key in ("S1", "S1_conf", "ST", "ST_conf")}
            for k, name in enumerate(spec["names"])
        }
    return {"scenario": scenario.name, "samples": samples, "runs": len(x), "indices": indices}


def frame(result: dict) -> pd.DataFrame:
    """The indices as a tidy table: output, parameter, S1, S1_conf, ST, ST_conf."""
    rows = [
        {"output": output, "parameter": name, **values}
        for output, by_name in result["indices"].items()
        for name, values in by_name.items()
    ]
    return pd.DataFrame(rows)
