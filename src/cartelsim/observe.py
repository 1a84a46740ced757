"""From model state to recorded numbers, and the observed series they are compared with.

The model counts members; statistics count bodies. Every death is counted once, by who
killed whom (issue "One Mexico"; DESIGN 3.3):

    member_deaths_by_rivals   members killed by other groups      (the engine's conflict deaths)
    member_deaths_by_state    members killed by state forces      (the engine's state kills)
    state_forces_killed       soldiers and police killed by groups = forces_killed_per_state_kill
                                                                    * member_deaths_by_state
                              (the agent engine counts its own: army, federal and local police)
    civilians_killed          non-members killed by groups         = member_deaths_by_rivals
                                                                    * (1 - s) / s
    missing_persons           the groups' victims never found      = missing_share * (
                              member_deaths_by_rivals + civilians_killed)
    oc_killings (`killings`)  what the government database counts: executions and clashes
                              between groups (the groups' victims found: group_killings),
                              clashes with authorities (member_deaths_by_state) and
                              aggressions against authorities (state_forces_killed)
    other_homicides           homicides outside the conflict: other_homicides_per_year at the
                              start, times other_homicides_yearly_factor per year after
    homicides                 oc_killings + other_homicides         (what INEGI records)
    homicides_and_missing     homicides + missing_persons

One definition of the cartel share s, the same in every scenario: of the people the groups
kill, found or missing, apart from state forces, the fraction who are members of a group.
In PC2023's world (no state forces, no other homicides, all homicides and missing persons
attributed to the groups) it is exactly their assumption of 10 % of homicides plus missing
persons, so members compare between scenarios at the same s. Nobody killed by
the state is divided by s: a soldier's kill is one death.

Observed series come from the package's fact files (`data/facts/`, every row with its
source) or from a downloaded dataset (PC2023).
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
from cartelsim.scenario import FIRST_DATE, LAST_DATE, OBSERVATION_NAMES, ScenarioError
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


def observation_values(plan: Plan, runs: int, draws: dict | None = None) -> dict[str, np.ndarray]:
    """Each observation parameter per run (runs,): the draw's value where `draws` has one,
    the scenario's otherwise."""
    obs = plan.scenario.observation
    out = {}
    for name in OBSERVATION_NAMES:  # scenario.py: the observation section's parameters
        if draws is not None and name in draws:
            out[name] = np.broadcast_to(np.asarray(draws[name], float), (runs,))
        else:
            out[name] = np.full(runs, getattr(obs, name).value)
    return out


def national_weekly(
    plan: Plan, traj: Trajectories, draws: dict | None = None, forces: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """National weekly variables, each (weeks, runs): the engine's flows (FLOWS), the deaths
    by who killed whom, the recorded series (module docstring) and members_total (the stock
    at the end of each week). `draws` gives per-run observation parameters; `forces` the
    state forces killed, where the engine counts them itself (recorded)."""
    out = {name: traj.flows[:, k, :] for k, name in enumerate(FLOWS)}
    out.update(recorded(plan, out["conflict_deaths"], out["state_kills"], draws, forces=forces))
    values = observation_values(plan, out["incapacitated"].shape[1], draws)
    out["incarcerations"] = out["incapacitated"] / values["incarceration_share"]
    out["recruits_net"] = out["recruits"] - out["saturation"]
    out["members_total"] = traj.members[1:].sum(axis=1)
    return out


def recorded(
    plan: Plan, by_rivals: np.ndarray, by_state: np.ndarray, draws: dict | None = None,
    population_share: np.ndarray | float = 1.0, forces: np.ndarray | None = None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """The deaths by who killed whom and the recorded series from the members killed by
    rivals and by the state, (weeks, ..., runs) with runs last. `population_share` spreads
    the other homicides (the agent engine: each region's share of the population, shaped to
    broadcast against the arrays). `forces`, shaped as by_state: the soldiers and police the
    groups killed, where the engine counts them itself (the agent engine); otherwise
    forces_killed_per_state_kill times by_state."""
    values = observation_values(plan, by_rivals.shape[-1], draws)
    share, missing = values["cartel_share"], values["missing_share"]
    victims = by_rivals / share  # everyone the groups kill, state forces apart
    civilians = victims - by_rivals
    if forces is None:
        forces = by_state * values["forces_killed_per_state_kill"]
    group_killings = victims * (1.0 - missing)  # the bodies found
    killings = group_killings + by_state + forces
    years = plan.week_year()[:-1] - plan.start_year
    shape = (len(years),) + (1,) * (by_rivals.ndim - 1)
    growth = values["other_homicides_yearly_factor"] ** years.reshape(shape)
    other = values["other_homicides_per_year"] / WEEKS_PER_YEAR * growth * population_share
    return {
        "member_deaths_by_rivals": by_rivals,
        "member_deaths_by_state": by_state,
        "member_deaths": by_rivals + by_state,
        "state_forces_killed": forces,
        "civilians_killed": civilians,
        "group_killings": group_killings,
        "killings": killings,
        "missing_persons": victims * missing,
        "other_homicides": other + np.zeros_like(killings),
        "homicides": killings + other,
        "homicides_and_missing": killings + other + victims * missing,
    }


#: Which weekly variable a scenario's observed series is compared with.
VARIABLE_OF = {
    "killings": "killings",
    "homicides": "homicides",
    "incapacitated": "incapacitated",
    "conflict_deaths": "member_deaths_by_rivals",
    "member_deaths": "member_deaths",
    "member_deaths_by_state": "member_deaths_by_state",
    "state_forces_killed": "state_forces_killed",
    "group_killings": "group_killings",
    "other_homicides": "other_homicides",
    "missing_persons": "missing_persons",
    "homicides_and_missing": "homicides_and_missing",
    "members": "members_total",
}
STOCKS = {"members_total"}


#: The government database's breakdown of its killings (Jan-Sep 2011): category, the model's
#: weekly variable, and the fact series (data/facts/mexico_yearly.csv) that sum to it.
BREAKDOWN = (
    ("executions and clashes between groups", "group_killings",
     ("oc_killings_executions", "oc_killings_clashes_between_groups")),
    ("clashes with authorities", "member_deaths_by_state",
     ("oc_killings_clashes_with_authorities",)),
    ("aggressions against authorities", "state_forces_killed",
     ("oc_killings_aggressions_against_authorities",)),
)  # fmt: skip


def killings_breakdown(plan: Plan, weekly: dict[str, np.ndarray]) -> list[dict]:
    """The database's killings by kind against the model's, for every year the fact file
    breaks down and the run covers: counts and shares of the database's total (ensemble
    means). Empty when no breakdown falls inside the run, or when the fact file cannot be
    read (being written, or replaced by a user's): the breakdown is an addition, never a
    reason for a run to fail."""
    try:
        observed = {name: _fact_series(name) for _, _, names in BREAKDOWN for name in names}
    except (OSError, KeyError, ValueError):
        return []
    years = sorted(set.intersection(*(set(s.values) for s in observed.values())))
    rows = []
    for year in years:
        months = observed[BREAKDOWN[0][2][0]].months[year]
        if not covers(plan, year, months):
            continue
        counts = [sum(observed[n].values[year] for n in names) for _, _, names in BREAKDOWN]
        sims = [
            float(window_value(plan, weekly[variable], variable, year, months).mean())
            for _, variable, _ in BREAKDOWN
        ]
        for (category, variable, names), count, sim in zip(BREAKDOWN, counts, sims, strict=True):
            rows.append({
                "year": year, "months": f"{months[0]}-{months[1]}", "category": category,
                "variable": variable, "observed": count, "observed_share": count / sum(counts),
                "simulated": sim, "simulated_share": sim / sum(sims) if sum(sims) else 0.0,
                "source": observed[names[0]].sources[year],
            })  # fmt: skip
    return rows


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


#: Monthly observed series: key -> (file under data/, its column, source). INEGI homicides
#: by month of occurrence, national sums of Gargiulo, Aburto & Floridi's state file (CC BY
#: 4.0; data/inegi/PROVENANCE.md says what was summed and the licence's attribution).
MONTHLY = {
    "inegi:homicides_monthly": (
        "inegi/national_month_2000_2022.csv",
        "homicides",
        "INEGI homicides by month of occurrence, national sums of Gargiulo, Aburto & Floridi, "
        "'Monthly municipal-level homicide rates in Mexico (January 2000-December 2022)', "
        "OSF doi:10.17605/OSF.IO/U8DC3 (CC BY 4.0; summed over states by cartelsim)",
    ),
}


@dataclass(frozen=True)
class MonthlySeries:
    """Observations by calendar month: (year, month) -> value, with one source."""

    key: str
    values: dict[tuple[int, int], float]
    source: str

    def year_total(self, year: int) -> float | None:
        """The calendar year's sum, when all twelve months are observed."""
        months = [self.values.get((year, m)) for m in range(1, 13)]
        return None if any(v is None for v in months) else float(sum(months))


def load_monthly(key: str) -> MonthlySeries:
    """A monthly series shipped with the package (MONTHLY), every row checked."""
    if key not in MONTHLY:
        raise KeyError(f"unknown monthly series {key!r} (known: {', '.join(MONTHLY)})")
    file, column, source = MONTHLY[key]
    text = (datasets.PACKAGE_DATA / file).read_text(encoding="utf-8")
    values = {}
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        year, month = int(row["year"]), int(row["month"])
        value = float(row[column])
        if not (1 <= month <= 12 and math.isfinite(value) and value >= 0):
            raise ValueError(f"{file}: line {line}: not a month and a count")
        values[(year, month)] = value
    return MonthlySeries(key, values, source)


def month_weights(plan: Plan, year: int, month: int) -> np.ndarray:
    """(weeks,) the share of each model week that falls in the calendar month, by days: a
    week's flow spread evenly over its days. Summing a weekly flow times these weights gives
    the month's value without the 4-or-5-week jumps of counting week starts."""
    dates = plan.dates()
    starts = np.array([d.toordinal() for d in dates[:-1]], dtype=float)
    ends = np.array([d.toordinal() for d in dates[1:]], dtype=float)
    first = dt.date(year, month, 1).toordinal()
    last = dt.date(year + (month == 12), month % 12 + 1, 1).toordinal()
    overlap = np.clip(np.minimum(ends, last) - np.maximum(starts, first), 0.0, None)
    return overlap / (ends - starts)


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
