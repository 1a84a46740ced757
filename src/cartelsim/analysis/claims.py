"""The news reports' claims as probabilities: how much of an ensemble (a posterior
predictive, stochastic runs) lies on the claimed side.

A claim (data/facts/mexico_claims.csv) names a quantity at a date and a comparison: more
than, fewer than, or about (within APPROX_TOLERANCE). Quantities the model computes (members
of the named groups, killings over a span) get a probability; quantities that are inputs
(the deployed forces) are read from the scenario and said to be inputs, never scored.
A claim the calibration fitted (a target) says so: its probability is not a prediction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cartelsim import datasets
from cartelsim.plan import FORCES_UNIT, Plan

#: An "about" claim holds when the model is within this fraction of the claimed value.
APPROX_TOLERANCE = 0.25
#: The groups the foot-soldier claim counts (Sinaloa, Gulf, and the Zetas after their split).
CLAIM_GROUPS = ("SIN", "GOL", "ZET")
CLAIMS_FILE = "mexico_claims.csv"


@dataclass(frozen=True)
class Claim:
    name: str
    date: dt.date
    value: float
    kind: str  # above, below, about
    unit: str
    source: str


def load_claims() -> list[Claim]:
    """The fact file's claims, every row with its source."""
    out = []
    for row in datasets.fact_rows(CLAIMS_FILE):
        parts = [int(p) for p in row["date"].split("-")]
        day = dt.date(*(parts + [1] * (3 - len(parts))))
        out.append(
            Claim(
                row["claim"],
                day,
                float(row["value"]),
                kind_of(row["comparison"]),
                row["unit"],
                row["source"],
            )  # fmt: skip
        )
    return out


def kind_of(comparison: str) -> str:
    """'above', 'below' or 'about', from the fact file's comparison column ('greater_than',
    '>', 'at least', 'approx', ...); anything not a bound reads as 'about'."""
    text = comparison.strip().lower().replace("_", " ")
    if text in ("gt", "ge") or text.startswith((">", "greater", "more", "over", "at least")):
        return "above"
    if text in ("lt", "le") or text.startswith(("<", "less", "fewer", "under", "at most")):
        return "below"
    return "about"


def members_at(plan: Plan, members: np.ndarray, day: dt.date) -> np.ndarray | None:
    """Members of CLAIM_GROUPS at `day`, per run; None outside the run or without them."""
    week = plan.week_of(day)
    present = [plan.shorts.index(s) for s in CLAIM_GROUPS if s in plan.shorts]
    if not present or not 0 <= week <= plan.weeks:
        return None
    return members[week, present, :].sum(axis=0)


def between(plan: Plan, weekly: np.ndarray, first: dt.date, end: dt.date) -> np.ndarray | None:
    """A weekly flow summed from `first` up to `end`, per run; weeks straddling either day
    count in proportion to their days inside (a month is 4.4 model weeks)."""
    dates = np.array(plan.dates(), dtype="datetime64[D]")
    start, stop = np.datetime64(first), np.datetime64(end)
    if dates[0] > start or dates[-1] < stop:
        return None
    inside = np.minimum(dates[1:], stop) - np.maximum(dates[:-1], start)
    share = np.clip(inside.astype(float), 0, None) / np.diff(dates).astype(float)
    return share @ weekly


def _year_before(plan, members, weekly, day):
    end = day.replace(day=1)
    return between(plan, weekly["killings"], end.replace(year=end.year - 1), end)


#: Claim -> (what the model quantity is, how to measure it from plan, members, weekly).
MEASURES: dict[str, tuple[Callable[[dt.date], str], Callable]] = {
    "foot_soldiers_sinaloa_gulf_zetas": (
        lambda d: f"members of {' + '.join(CLAIM_GROUPS)} on {d}",
        lambda plan, members, weekly, d: members_at(plan, members, d),
    ),
    "deaths_past_year": (
        lambda d: f"organized-crime killings in the 12 months before {d:%B %Y}",
        _year_before,
    ),
    "deaths_january_2009": (
        lambda d: "organized-crime killings in January 2009",
        lambda plan, members, weekly, d: between(
            plan, weekly["killings"], dt.date(2009, 1, 1), dt.date(2009, 2, 1)
        ),
    ),
}
#: Claims about the scenario's inputs: (what, deployed personnel of which kind).
INPUTS = {"army_size": "troops", "troops_engaged": "troops"}


def probability(kind: str, value: float, model: np.ndarray) -> float:
    """The share of runs on the claimed side."""
    if kind == "above":
        return float(np.mean(model > value))
    if kind == "below":
        return float(np.mean(model < value))
    return float(np.mean(np.abs(model / value - 1.0) <= APPROX_TOLERANCE))


def claim_table(
    plan: Plan, members: np.ndarray, weekly: dict, models: np.ndarray | None = None,
    fitted: set[str] = frozenset(),
) -> list[dict]:  # fmt: skip
    """One row per claim the run covers: the model's median and 90 % range, the probability
    of the claim (overall and, with `models`, per model), whether it was a calibration
    target; input claims carry the scenario's value instead of a probability."""
    rows = []
    for claim in load_claims():
        base = {
            "claim": claim.name,
            "date": claim.date.isoformat(),
            "claimed": claim.value,
            "kind": claim.kind,
            "unit": claim.unit,
            "source": claim.source,
        }
        if claim.name in INPUTS:
            week = plan.week_of(claim.date)
            if not 0 <= week < plan.weeks:
                continue
            deployed = _troops_at(plan, claim.date)
            what = "troops deployed in the scenario (an input, not a result)"
            rows.append({**base, "role": "input", "scenario_value": deployed, "what": what})
            continue
        if claim.name not in MEASURES:
            continue
        what, measure = MEASURES[claim.name]
        model = measure(plan, members, weekly, claim.date)
        if model is None:
            continue
        row = {
            **base,
            "role": "fitted (a calibration target)" if claim.name in fitted else "not fitted",
            "what": what(claim.date),
            "median": float(np.median(model)),
            "q05": float(np.quantile(model, 0.05)),
            "q95": float(np.quantile(model, 0.95)),
            "probability": probability(claim.kind, claim.value, model),
        }
        if models is not None:
            row["probability_by_model"] = {
                str(m): probability(claim.kind, claim.value, model[models == m])
                for m in dict.fromkeys(models)
            }
        rows.append(row)
    return rows


def _troops_at(plan: Plan, day: dt.date) -> float:
    """Troops of the scenario's deployment in force at `day` (federal police apart)."""
    troops = 0.0
    for item in plan.scenario.deployments:
        if item.date <= day:
            troops = float(item.troops)
    return troops if troops else float(plan.forces[max(plan.week_of(day), 0)] * FORCES_UNIT)
