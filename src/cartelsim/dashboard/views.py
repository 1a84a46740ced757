"""What the dashboard shows, computed from the tidy results table (no drawing here).

Everything reads the documented table (run, date, group, region, variable, value), so any
engine's results can be shown. Region 0 rows are national; an engine with regions (the agent
engine) adds rows for regions 1-32, the INEGI state codes.
Bands are quantiles across runs: 50 % (25th-75th percentile) and 90 % (5th-95th).

The map needs state-level numbers. With regional rows they are the run's own. Without them
(the aggregate engine is national) the map spreads the simulated national killings over
the states in proportion to each state's share of the 2009 executions tallied by Milenio
(facts/mexico_state_executions_2009.csv): an explicit assumption, said on the page, that
the states' shares stayed as in 2009. Which group controls a state needs regional members,
by group, so it is shown only for results that have them (variable `members`, a group and
a region).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cartelsim import datasets, observe
from cartelsim.scenario import Scenario

QUANTILES = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
PER = 100_000


#: Region code of national rows (INEGI's code for the whole country).
NATIONAL = 0


def national(table: pd.DataFrame) -> pd.DataFrame:
    """The national rows (an engine with regions adds rows for each region)."""
    return table[table["region"] == NATIONAL] if "region" in table.columns else table


def regional(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of single regions (none for a national engine)."""
    return table[table["region"] != NATIONAL] if "region" in table.columns else table.iloc[:0]


def by_run(table: pd.DataFrame, variable: str, group: str = "all") -> pd.DataFrame:
    """One national variable of one group as a date x run frame."""
    rows = national(table)
    rows = rows[(rows["variable"] == variable) & (rows["group"] == group)]
    return rows.pivot_table(index="date", columns="run", values="value", aggfunc="sum")


def bands(wide: pd.DataFrame) -> pd.DataFrame:
    """Quantiles across runs (columns) for each date (rows)."""
    values = wide.to_numpy()
    return pd.DataFrame(
        {k: np.quantile(values, q, axis=1) for k, q in QUANTILES.items()}, index=wide.index
    )


def largest_groups(table: pd.DataFrame, top: int = 8) -> list[str]:
    """Groups by their peak median membership, largest first (at most `top`)."""
    rows = national(table)
    members = rows[(rows["variable"] == "members") & (rows["group"] != "all")]
    peak = (
        members.groupby(["group", "date", "run"], observed=True)["value"]
        .sum()
        .groupby(level=["group", "date"], observed=True)
        .median()
        .groupby(level="group", observed=True)
        .max()
    )
    return list(peak.sort_values(ascending=False).index[:top])


@dataclass(frozen=True)
class Observed:
    """An observed yearly series as weekly averages over the months it covers."""

    name: str
    variable: str  # the tidy table's variable it is compared with
    spans: list[tuple[pd.Timestamp, pd.Timestamp, float]]  # first day, end day, per week
    source: str
    sources: dict[int, str] = field(default_factory=dict)  # by year: that year's source(s)


def observed_series(scenario: Scenario, data_dir=None) -> tuple[list[Observed], list[str]]:
    """The scenario's observed series, and one line for each that could not be read."""
    found, problems = [], []
    for series in scenario.observation.series:
        try:
            data = observe.load_series(series.data, data_dir)
        except (KeyError, OSError, ValueError) as exc:
            problems.append(f"observed series {series.name}: {exc}")
            continue
        spans = []
        for year, value in sorted(data.values.items()):
            first, last = data.months[year]
            begin = pd.Timestamp(year, first, 1)
            end = pd.Timestamp(year, last, 1) + pd.offsets.MonthBegin(1)
            spans.append((begin, end, value / ((end - begin).days / 7)))
        variable = observe.VARIABLE_OF[series.variable]
        found.append(Observed(series.name, variable, spans, data.source_text(), dict(data.sources)))
    return found, problems


def yearly_totals(table: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Per calendar year and run, the sum of a weekly national flow (years x runs)."""
    wide = by_run(table, variable)
    return wide.groupby(wide.index.year).sum()


# --- the map -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class States:
    """The 32 states: INEGI code, abbreviation, name, 2020 population, tile position."""

    table: pd.DataFrame  # indexed by INEGI code
    executions_2009: pd.Series  # Milenio's tally by INEGI code (NaN where it printed none)

    @classmethod
    def load(cls) -> States:
        rows = pd.DataFrame(datasets.fact_rows("mexico_states.csv"))
        table = pd.DataFrame(
            {
                "abbr": rows["abbr"].to_numpy(),
                "name": rows["name"].to_numpy(),
                "population": rows["population"].astype(float).to_numpy(),
                "row": rows["grid_row"].astype(int).to_numpy(),
                "col": rows["grid_col"].astype(int).to_numpy(),
            },
            index=rows["id"].astype(int).rename("region"),
        )
        tally = pd.DataFrame(datasets.fact_rows("mexico_state_executions_2009.csv"))
        milenio = pd.to_numeric(tally["milenio"], errors="coerce").to_numpy()
        executions = pd.Series(milenio, index=tally["id"].astype(int).to_numpy())
        return cls(table, executions.reindex(table.index))


@dataclass(frozen=True, eq=False)  # compared by identity: it holds Series
class MapFrame:
    """One year of the map: killings per 100,000 by state, and who controls each state."""

    year: int
    rate: pd.Series  # per 100,000 inhabitants (2020 census), by INEGI code; NaN = no data
    control: pd.Series | None  # group short name by INEGI code; None without regions
    method: str  # how the numbers were made, for the page


def map_years(table: pd.DataFrame) -> list[int]:
    """Calendar years with a full year of weekly killings."""
    rows = national(table)
    dates = pd.DatetimeIndex(rows.loc[rows["variable"] == "killings", "date"].unique())
    counts = pd.Series(1, index=dates).groupby(dates.year).sum()
    return [int(y) for y, n in counts.items() if n >= 52]


def map_frame(table: pd.DataFrame, states: States, year: int) -> MapFrame:
    population = states.table["population"]
    rows = regional(table)
    if not rows.empty:
        rows = rows[(rows["variable"] == "killings") & (rows["date"].dt.year == year)]
        per_run = rows.groupby(["region", "run"])["value"].sum()
        killings = per_run.groupby(level="region").median().reindex(population.index)
        return MapFrame(
            year,
            killings / population * PER,
            _control(table, year),
            "simulated killings by state (ensemble median); 2020 census population",
        )
    national = float(yearly_totals(table, "killings").loc[year].median())
    shares = states.executions_2009 / states.executions_2009.sum()
    return MapFrame(
        year,
        national * shares / population * PER,
        None,
        "simulated national killings (ensemble median) spread over the states by their share "
        "of the 2009 executions tallied by Milenio (assumption: shares as in 2009); "
        "2020 census population",
    )


def observed_map_frame(states: States) -> MapFrame:
    """Milenio's 2009 tally of executions per 100,000 (2020 census population)."""
    return MapFrame(
        2009,
        states.executions_2009 / states.table["population"] * PER,
        None,
        "observed: executions in 2009 tallied by Milenio (newspaper count); 2020 census population",
    )


def _control(table: pd.DataFrame, year: int) -> pd.Series | None:
    """The group with the most members (ensemble median) in each region at the year's end."""
    rows = regional(table)
    members = rows[(rows["variable"] == "members") & (rows["group"] != "all")]
    members = members[members["date"].dt.year == year]
    if members.empty:
        return None
    last = members[members["date"] == members["date"].max()]
    median = last.groupby(["region", "group"], observed=True)["value"].median().unstack()
    leader = median.idxmax(axis=1).where(median.max(axis=1) >= 1.0)
    return leader


# --- comparison ----------------------------------------------------------------------------


def difference(table_a: pd.DataFrame, table_b: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Bands of run-by-run differences A - B on the dates both cover.

    Run r of A and run r of B share their random seed, so the difference of run r isolates
    the change between the scenarios rather than the noise between runs."""
    a, b = by_run(table_a, variable), by_run(table_b, variable)
    dates = a.index.intersection(b.index)
    runs = a.columns.intersection(b.columns)
    return bands(a.loc[dates, runs] - b.loc[dates, runs])


def totals(table: pd.DataFrame) -> dict[str, float]:
    """Ensemble medians for the comparison table."""
    return {
        "killings (whole run)": float(by_run(table, "killings").sum().median()),
        "arrests and other incapacitations": float(by_run(table, "incapacitated").sum().median()),
        "members at the end": float(by_run(table, "members_total").iloc[-1].median()),
    }
