"""From model state to recorded numbers, and the observed series they are compared with.

The model counts members; statistics count bodies. The observation model (DESIGN 3.3):

    deaths    = conflict deaths + state kills          (members killed, per week)
    killings  = deaths / cartel_share                  (all killings the conflict causes)
    homicides = killings + other homicides             (what INEGI records)

cartel_share is the fraction of conflict killings whose victims are group members: PC2023
assume 10 % of homicides plus missing persons. Observed series come from the package's fact
files (`data/facts/`, every row with its source) or from a downloaded dataset (PC2023).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartelsim import datasets, outputs
from cartelsim.plan import WEEKS_PER_YEAR, Plan
from cartelsim.scenario import FIRST_DATE, LAST_DATE, ScenarioError
from cartelsim.trajectories import FLOWS, Trajectories

#: The largest yearly value a series may hold (killings, homicides, members, arrests).
MAX_SERIES_VALUE = 1e10


@dataclass(frozen=True)
class ObservedSeries:
    """Yearly observations: value and the months each covers, with the source of each."""

    key: str
    unit: str
    values: dict[int, float]
    months: dict[int, tuple[int, int]]  # first and last month covered, 1-12
    sources: dict[int, str]

    def source_text(self) -> str:
        return " ; ".join(dict.fromkeys(self.sources.values()))


def national_weekly(plan: Plan, traj: Trajectories) -> dict[str, np.ndarray]:
    """National weekly variables, each (weeks, runs): the flows, deaths, killings, homicides,
    and members_total (the stock at the end of each week)."""
    obs = plan.scenario.observation
    out = {name: traj.flows[:, k, :] for k, name in enumerate(FLOWS)}
    out["deaths"] = out["conflict_deaths"] + out["state_kills"]
    out["killings"] = out["deaths"] / obs.cartel_share.value
    out["homicides"] = out["killings"] + obs.other_homicides_per_year.value / WEEKS_PER_YEAR
    out["members_total"] = traj.members[1:].sum(axis=1)
    return out


#: Which weekly variable a scenario's observed series is compared with.
VARIABLE_OF = {
    "killings": "killings",
    "homicides": "homicides",
    "incapacitated": "incapacitated",
    "conflict_deaths": "deaths",
    "members": "members_total",
}
STOCKS = {"members_total"}


def window(plan: Plan, year: int, months: tuple[int, int] = (1, 12)) -> np.ndarray:
    """Boolean mask of the weeks that start inside `year`, months first..last."""
    starts = plan.dates()[:-1]
    return np.array([d.year == year and months[0] <= d.month <= months[1] for d in starts])


def covers(plan: Plan, year: int, months: tuple[int, int]) -> bool:
    """Whether the simulation spans the whole window (within one week at either end)."""
    first = dt.date(year, months[0], 1)
    last = dt.date(year + (months[1] == 12), months[1] % 12 + 1, 1)
    dates = plan.dates()
    return dates[0] <= first + dt.timedelta(days=7) and dates[-1] >= last - dt.timedelta(days=7)


def window_value(plan: Plan, weekly: np.ndarray, variable: str, year: int, months=(1, 12)):
    """Per-run value of a weekly variable over a window: a sum for flows, the last value for
    stocks. Returns an array (runs,)."""
    mask = window(plan, year, months)
    if variable in STOCKS:
        return weekly[np.flatnonzero(mask)[-1]]
    return weekly[mask].sum(axis=0)


def years(plan: Plan) -> list[int]:
    return sorted({d.year for d in plan.dates()[:-1]})


def load_series(key: str, data_dir: str | Path | None = None) -> ObservedSeries:
    """An observed yearly series by key: 'mexico:<series>' or 'pc2023:<column>'."""
    source, _, name = key.partition(":")
    if source == "mexico":
        return _fact_series(name)
    if source == "pc2023":
        folder = datasets.fetch_pc2023(data_dir)
        trends = datasets.load_pc2023_trends(folder)
        if name not in trends:
            raise KeyError(f"unknown pc2023 series {name!r} (known: {', '.join(trends)})")
        values = trends[name]
        return ObservedSeries(
            key,
            "per year",
            values,
            {y: (1, 12) for y in values},
            {y: datasets.PC2023_CITATION + ", Trends2012_2021.csv" for y in values},
        )
    if source == "csv":
        return _csv_series(key, Path(name))
    raise KeyError(f"unknown data source {source!r} in {key!r} (known: mexico, pc2023, csv)")


def _csv_series(key: str, path: Path) -> ObservedSeries:
    """A user's yearly series: a CSV with columns year, value and optionally months ("1-12",
    the default, or e.g. "1-9") and source. Read only if it is a regular file of at most
    16 MB (outputs.read_bounded); every value is checked: a year inside the era cartelsim
    simulates, once; months 1-12, first <= last; a finite value >= 0."""
    try:
        text = outputs.read_bounded(path, "series").decode("utf-8-sig")
    except outputs.OutputError as exc:
        raise ValueError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        rows = list(csv.DictReader(text.splitlines()))
    except csv.Error as exc:
        raise ValueError(f"{path}: not a CSV table ({exc})") from None
    if rows and not {"year", "value"} <= set(rows[0]):
        raise ValueError(f"{path}: needs the columns year, value (got {', '.join(rows[0])})")
    values, months, sources = {}, {}, {}
    for line, row in enumerate(rows, start=2):
        year = _csv_field(path, line, "year", row.get("year"), int)
        if not FIRST_DATE.year <= year <= LAST_DATE.year:
            raise ValueError(
                f"{path}: line {line}: year: must be between {FIRST_DATE.year} and "
                f"{LAST_DATE.year} (got {year})"
            )
        if year in values:
            raise ValueError(f"{path}: line {line}: year: {year} appears twice")
        value = _csv_field(path, line, "value", row.get("value"), float)
        if not (math.isfinite(value) and 0 <= value <= MAX_SERIES_VALUE):
            raise ValueError(
                f"{path}: line {line}: value: must be finite, between 0 and "
                f"{MAX_SERIES_VALUE:g} (got {row.get('value')!r})"
            )
        text_months = (row.get("months") or "1-12").strip()
        first, _, last = text_months.partition("-")
        pair = (
            _csv_field(path, line, "months", first, int),
            _csv_field(path, line, "months", last or first, int),
        )
        if not 1 <= pair[0] <= pair[1] <= 12:
            raise ValueError(
                f"{path}: line {line}: months: must be FIRST-LAST within 1-12, first <= last "
                f"(got {text_months!r})"
            )
        values[year], months[year] = value, pair
        sources[year] = row.get("source") or str(path)
    if not values:
        raise ValueError(f"{path}: no rows (columns: year, value, months, source)")
    return ObservedSeries(key, "per year", values, months, sources)


def _csv_field(path: Path, line: int, column: str, text, kind):
    try:
        return kind(str(text).strip())
    except (TypeError, ValueError):
        shown = repr(text) if text is None or len(str(text)) <= 40 else repr(str(text)[:40])
        raise ValueError(
            f"{path}: line {line}: {column}: not {'a whole number' if kind is int else 'a number'}"
            f" (got {shown})"
        ) from None


def checked_series(scenario, key: str, data_dir, field: str) -> ObservedSeries:
    """load_series, with an error that names the scenario and the field that asked for it
    (e.g. ``x.toml: observation.series[0].data: series.csv: line 3: value: ...``)."""
    try:
        return load_series(key, data_dir)
    except (KeyError, ValueError) as exc:
        reason = exc.args[0] if exc.args else str(exc)
        raise ScenarioError(f"{scenario.name}.toml: {field}: {reason}") from None


def check_local_series(scenario) -> None:
    """Read every series of the scenario held in a local CSV file (`csv:PATH`) now, before
    any run: a series that cannot be used stops the command before the work, not after."""
    for i, series in enumerate(scenario.observation.series):
        if series.data.startswith("csv:"):
            checked_series(scenario, series.data, None, f"observation.series[{i}].data")


def _fact_series(name: str) -> ObservedSeries:
    rows = [r for r in datasets.fact_rows("mexico_yearly.csv") if r["series"] == name]
    if not rows:
        raise KeyError(f"unknown mexico series {name!r}")
    values, months, sources = {}, {}, {}
    for row in rows:
        year = int(row["year"])
        first, _, last = row["months"].partition("-")
        values[year] = float(row["value"])
        months[year] = (int(first), int(last or first))
        sources[year] = row["source"]
    return ObservedSeries(f"mexico:{name}", rows[0]["unit"], values, months, sources)


def compare(plan: Plan, weekly: dict[str, np.ndarray], data_dir=None) -> list[dict]:
    """Observed against simulated (ensemble mean, 5 % and 95 %) for every series and year the
    simulation covers. One dict per (series, year)."""
    rows = []
    for i, series in enumerate(plan.scenario.observation.series):
        field = f"observation.series[{i}].data"
        observed = checked_series(plan.scenario, series.data, data_dir, field)
        variable = VARIABLE_OF[series.variable]
        for year, value in sorted(observed.values.items()):
            months = observed.months[year]
            if not covers(plan, year, months):
                continue
            sim = window_value(plan, weekly[variable], variable, year, months)
            rows.append(
                {
                    "series": series.name,
                    "year": year,
                    "months": f"{months[0]}-{months[1]}",
                    "observed": value,
                    "simulated": float(sim.mean()),
                    "simulated_q05": float(np.quantile(sim, 0.05)),
                    "simulated_q95": float(np.quantile(sim, 0.95)),
                    "relative_error": float(sim.mean() / value - 1.0) if value else float("nan"),
                    "fit": series.fit,
                    "source": observed.sources[year],
                }
            )
    return rows
