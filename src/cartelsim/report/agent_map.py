"""The report's agent-engine section: a tile-grid map of killings per 100,000 by year, and
the simulated ranking of states by killings against the observed one.

The map puts one square per region at its tile-grid position (for Mexico's states the
geofacet grid, roughly geographic; facts/mexico_states.csv), one panel per calendar year,
one colour scale for all panels. The observed ranking is the 2009 newspaper tallies of
executions by state (Milenio, El Universal, Reforma; facts/mexico_state_executions_2009.csv):
killings are compared by rank, not level, since the tallies count different things.
Called by report.py; plotting stays out of the engine.
"""

from __future__ import annotations

import numpy as np

from cartelsim.agents.output import regional_weekly
from cartelsim.datasets import fact_rows
from cartelsim.observe import window, years
from cartelsim.report import charts, page

OBSERVED_FILE = "mexico_state_executions_2009.csv"
OBSERVED_YEAR = 2009
OBSERVED_SOURCES = ("milenio", "el_universal", "reforma")
#: Years with fewer simulated weeks than this are left off the map (a partial first year).
MIN_WEEKS = 26


def section(results) -> str:
    """HTML of the section, or "" for results of the aggregate engine."""
    if results.extra is None:
        return ""

    rates, shown = killing_rates(results)
    parts = ["<h2>Regions: killings per 100,000 by year</h2>"]
    regions = results.extra.regions
    if regions.grid is not None and shown:
        parts.append(charts.html_div(_map(regions, rates, shown), "chart-regions"))
        parts.append(
            f"<p class='note'>Killings the conflict causes (member deaths / cartel share), per "
            f"100,000 people ({page.esc(regions.label)}; population as in the region table), "
            f"ensemble mean of {results.runs} run(s) at scale {results.extra.scale:g}.</p>"
        )
    else:
        parts.append("<p>The region table has no tile-grid position: no map.</p>")
    ranking = ranking_rows(results)
    if ranking is not None:
        rows, rho = ranking
        parts.append(f"<h2>Ranking of states by killings, {OBSERVED_YEAR}</h2>")
        parts.append(
            "<p>Simulated killings against newspaper tallies of executions by state "
            "(Milenio, El Universal, Reforma; diegovalle/Homicide-MX-Drug-War). Spearman rank "
            "correlation, simulated against each tally: "
            + ", ".join(f"{page.esc(k)} {v:+.2f}" for k, v in rho.items())
            + ".</p>"
        )
        headers = ["state", "simulated", "rank", "Milenio", "rank", "Reforma", "rank"]
        parts.append(page.table(headers, rows))
    parts.append(_settings_table(results, page.table))
    return "\n".join(parts)


def _settings_table(results, table) -> str:
    """The agent engine's parameters and levers, each with its unit and source."""
    settings = results.extra.settings
    rows, flagged = [], []
    for group in (settings.parameters, settings.levers):
        for name, param in group:
            if param is None:  # clash_locality: computed each day (clashes.locality)
                rows.append([name, "computed", "", "aggregate pairs over local pairs", ""])
                flagged.append(False)
                continue
            source = param.source if not param.assumption else ""
            rows.append(
                [name, f"{param.value:g}", param.unit, source, "assumption" * param.assumption]
            )
            flagged.append(param.assumption)
    scale = f"scale {settings.scale:g}, regions: {settings.regions}"
    return (
        f"<h2>Agent engine parameters and levers</h2><p class='note'>{scale}; lever changes: "
        f"{len(settings.lever_changes)}.</p>"
        + table(["parameter", "value", "unit", "source", ""], rows, flagged)
    )


def killing_rates(results) -> tuple[np.ndarray, list[int]]:
    """(years, regions) killings per 100,000 (ensemble mean), and the years shown."""
    plan = results.plan
    killings = regional_weekly(results)["killings"].mean(axis=-1)  # (weeks, regions)
    population = results.extra.regions.population
    shown, rates = [], []
    for year in years(plan):
        mask = window(plan, year)
        if mask.sum() < MIN_WEEKS:
            continue
        shown.append(year)
        rates.append(killings[mask].sum(axis=0) / population * 1e5)
    return np.array(rates).reshape(len(shown), -1), shown


def ranking_rows(results):
    """Rows of the ranking table and the rank correlations, or None without observations."""
    regions = results.extra.regions
    plan = results.plan
    if regions.label != "states" or OBSERVED_YEAR not in years(plan):
        return None
    mask = window(plan, OBSERVED_YEAR)
    if mask.sum() < MIN_WEEKS:
        return None
    simulated = regional_weekly(results)["killings"].mean(axis=-1)[mask].sum(axis=0)
    observed = {source: np.full(regions.n, np.nan) for source in OBSERVED_SOURCES}
    for row in fact_rows(OBSERVED_FILE):
        k = regions.position(int(row["id"]))
        for source in OBSERVED_SOURCES:
            if row[source] != "":
                observed[source][k] = float(row[source])
    from scipy.stats import spearmanr  # imported here: scipy.stats takes a second to import

    rho = {}
    for source, values in observed.items():
        known = ~np.isnan(values)
        rho[source.replace("_", " ").title()] = float(
            spearmanr(simulated[known], values[known]).statistic
        )
    rank = {name: _ranks(v) for name, v in [("sim", simulated), *observed.items()]}
    rows = []
    for k in np.argsort(-simulated, kind="stable"):
        rows.append(
            [
                regions.names[k],
                f"{simulated[k]:,.0f}",
                str(rank["sim"][k]),
                _number(observed["milenio"][k]),
                str(rank["milenio"][k]) if rank["milenio"][k] else "",
                _number(observed["reforma"][k]),
                str(rank["reforma"][k]) if rank["reforma"][k] else "",
            ]
        )
    return rows, rho


def _ranks(values: np.ndarray) -> np.ndarray:
    """1 = highest; 0 where the value is missing."""
    out = np.zeros(len(values), dtype=int)
    known = np.flatnonzero(~np.isnan(values))
    order = known[np.argsort(-values[known], kind="stable")]
    out[order] = np.arange(1, len(order) + 1)
    return out


def _number(x: float) -> str:
    return "" if np.isnan(x) else f"{x:,.0f}"


def _map(regions, rates: np.ndarray, shown: list[int]) -> dict:
    """One tile map per year, two per row, on one colour scale (square root: low rates stay
    visible); hover a tile for the region's name and rate."""
    labels = regions.abbr or [name[:3] for name in regions.names]
    grid = np.asarray(regions.grid)
    rows0, cols0 = grid[:, 0].min(), grid[:, 1].min()
    vmax = max(float(rates.max()), 1e-9)
    panels = []
    for year, rate in zip(shown, rates, strict=True):
        tiles = [
            {"abbr": labels[k], "name": regions.names[k], "row": int(grid[k, 0] - rows0 + 1),
             "col": int(grid[k, 1] - cols0 + 1), "value": float(rate[k])}
            for k in range(regions.n)
        ]  # fmt: skip
        panels.append(
            charts.tile_map(tiles, str(year), "killings per 100,000", vmax, width=460, sqrt=True)
        )
    return {"concat": panels, "columns": 2, "resolve": {"scale": {"color": "shared"}}}
