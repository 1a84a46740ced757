"""Least-squares fit of a few parameters to a scenario's observed series.

A quick, transparent fit (scipy's trust-region least squares on log ratios, each residual
divided by the series' relative error) used to set the built-in Mexico scenario's free
values. It reports no uncertainty: that is what ABC calibration is for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from cartelsim import observe
from cartelsim.aggregate import simulate
from cartelsim.plan import make_plan
from cartelsim.scenario import PARAMETER_NAMES, load_scenario


def fit(scenario_name: str, names: list[str], data_dir: str | Path | None = None) -> dict:
    """Fit `names` (scenario parameters) to the series marked `fit = true`.

    Returns {"parameters": {name: value}, "cost": float, "comparison": [...]}, the comparison
    as observe.compare gives it at the fitted values.
    """
    unknown = [n for n in names if n not in PARAMETER_NAMES]
    if unknown:
        raise ValueError(
            f"--param: unknown parameter {unknown[0]!r} (known: {', '.join(PARAMETER_NAMES)})"
        )
    plan = make_plan(load_scenario(scenario_name), data_dir=data_dir)
    columns = [PARAMETER_NAMES.index(n) for n in names]
    targets = fitted_points(plan, data_dir)
    if not targets:
        raise ValueError(f"{scenario_name}: no observed series with fit = true covers the run")
    start = np.log(np.maximum(plan.params[columns], 1e-12))

    def residuals(log_values: np.ndarray) -> np.ndarray:
        params = plan.params.copy()
        params[columns] = np.exp(log_values)
        weekly = observe.national_weekly(plan, simulate(plan, params=params[:, None]))
        sims = np.array(
            [observe.window_value(plan, weekly[v], v, y, m)[0] for v, y, m, _, _ in targets]
        )
        observed = np.array([t[3] for t in targets])
        errors = np.array([t[4] for t in targets])
        return np.log(np.maximum(sims, 1e-9) / observed) / errors

    solution = least_squares(residuals, start, method="trf")
    params = plan.params.copy()
    params[columns] = np.exp(solution.x)
    weekly = observe.national_weekly(plan, simulate(plan, params=params[:, None]))
    return {
        "scenario": plan.scenario.name,
        "parameters": {n: float(params[c]) for n, c in zip(names, columns, strict=True)},
        "cost": float(solution.cost),
        "comparison": [r for r in observe.compare(plan, weekly, data_dir) if r["fit"]],
    }


def fitted_points(plan, data_dir) -> list[tuple]:
    """(variable, year, months, observed, relative error) for every fitted data point."""
    targets = []
    for series in plan.scenario.observation.series:
        if not series.fit:
            continue
        observed = observe.load_series(series.data, data_dir)
        variable = observe.VARIABLE_OF[series.variable]
        for year, value in observed.values.items():
            months = observed.months[year]
            if observe.covers(plan, year, months):
                targets.append((variable, year, months, value, series.relative_error))
    return targets
