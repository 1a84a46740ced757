"""Calibration targets as data points, and the model's value at each point.

A target in a scenario's `[calibration]` section names a series ("mexico:oc_killings",
"pc2023:homicides_and_missing") or a claim ("claim:foot_soldiers_sinaloa_gulf_zetas", from
data/facts/mexico_claims.csv). Each observed year of a series becomes one point: the weekly model
variable summed over the weeks that start in that year's months (a flow) or its value at the
end (a stock). A claim becomes one point: the members of the named groups at its date.

Points are compared on the log scale, each residual divided by its relative error, so a 10 %
miss on 300 killings counts as much as a 10 % miss on 30,000.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartelsim import datasets, observe
from cartelsim.plan import Plan
from cartelsim.scenario import Calibration
from cartelsim.trajectories import Trajectories

#: Scenario target variable -> weekly variable of draws.observables.
WEEKLY = {**observe.VARIABLE_OF, "incarcerations": "incarcerations"}


@dataclass(frozen=True)
class Point:
    """One observed number and how to get its simulated counterpart."""

    target: str
    label: str  # the year, or the claim's date
    variable: str  # a weekly variable, or "members" for a stock of named groups at a date
    observed: float
    relative_error: float
    comparison: str  # equal, at_least, at_most
    source: str
    mask: np.ndarray | None = None  # weeks summed (flows) or whose last one counts (stocks)
    week: int | None = None  # for group members at a date
    groups: tuple[int, ...] = ()


def target_points(plan: Plan, calibration: Calibration, data_dir: str | Path | None) -> list[Point]:
    """Every data point of the calibration targets that the simulation covers."""
    points = []
    for i, target in enumerate(calibration.targets):
        source, _, name = target.data.partition(":")
        if source == "claim":
            points.append(_claim_point(plan, target, name))
            continue
        before = len(points)
        series = observe.load_series(target.data, data_dir)
        for year, value in sorted(series.values.items()):
            if target.first_year is not None and year < target.first_year:
                continue
            if target.last_year is not None and year > target.last_year:
                continue
            months = series.months[year]
            if not observe.covers(plan, year, months):
                continue
            points.append(
                Point(
                    target=target.name,
                    label=str(year),
                    variable=WEEKLY[target.variable],
                    observed=value,
                    relative_error=target.relative_error,
                    comparison=target.comparison,
                    source=target.source or series.sources[year],
                    mask=observe.window(plan, year, months),
                )
            )
        if len(points) == before:
            years = ", ".join(str(y) for y in sorted(series.values))
            raise ValueError(
                f"{plan.scenario.name}.toml: calibration.targets[{i}] ({target.name}): no data "
                f"in the simulated period {plan.dates()[0]} to {plan.dates()[-1]} within its "
                f"first_year/last_year (the series has {years})"
            )
    if not points:
        raise ValueError(f"{plan.scenario.name}: no calibration target covers the simulated period")
    return points


def _claim_point(plan: Plan, target, name: str) -> Point:
    rows = [r for r in datasets.fact_rows("mexico_claims.csv") if r["claim"] == name]
    if not rows:
        known = ", ".join(r["claim"] for r in datasets.fact_rows("mexico_claims.csv"))
        raise ValueError(f"calibration target {target.name}: unknown claim {name!r} ({known})")
    row = rows[0]
    if target.variable != "members":
        raise ValueError(f"calibration target {target.name}: a claim compares variable 'members'")
    day = dt.date.fromisoformat(row["date"])
    week = plan.week_of(day)
    if not 0 <= week <= plan.weeks:
        raise ValueError(f"calibration target {target.name}: {day} is outside the simulation")
    groups = tuple(plan.shorts.index(g) for g in target.groups) or tuple(range(plan.n_groups))
    return Point(
        target=target.name,
        label=row["date"],
        variable="members",
        observed=float(row["value"]),
        relative_error=target.relative_error,
        comparison=target.comparison,
        source=target.source or row["source"],
        week=week,
        groups=groups,
    )


def simulated(points: list[Point], traj: Trajectories, weekly: dict[str, np.ndarray]) -> np.ndarray:
    """The model's value at every point for every run: (points, runs)."""
    out = np.empty((len(points), traj.members.shape[2]))
    for k, point in enumerate(points):
        if point.variable == "members":
            out[k] = traj.members[point.week, list(point.groups)].sum(axis=0)
        elif point.variable in observe.STOCKS:
            out[k] = weekly[point.variable][np.flatnonzero(point.mask)[-1]]
        else:
            out[k] = weekly[point.variable][point.mask].sum(axis=0)
    return out


def log_residuals(points: list[Point], sims: np.ndarray) -> np.ndarray:
    """log(simulated / observed) / relative_error, (points, runs); a one-sided target counts
    only on its wrong side (an `at_least` claim met contributes 0)."""
    observed = np.array([p.observed for p in points])[:, None]
    errors = np.array([p.relative_error for p in points])[:, None]
    r = np.log(np.maximum(sims, 1e-12) / observed) / errors
    for k, point in enumerate(points):
        if point.comparison == "at_least":
            r[k] = np.minimum(r[k], 0.0)
        elif point.comparison == "at_most":
            r[k] = np.maximum(r[k], 0.0)
    return r
