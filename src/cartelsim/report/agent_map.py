"""The report's agent-engine section: a tile-grid map of killings per 100,000 by year, and
the simulated ranking of states by killings against the observed one.

The map puts one square per region at its tile-grid position (for Mexico's states the
geofacet grid, roughly geographic; facts/mexico_states.csv), one panel per calendar year,
one colour scale for all panels. The observed ranking is the 2009 newspaper tallies of
executions by state (Milenio, El Universal, Reforma; facts/mexico_state_executions_2009.csv):
killings are compared by rank, not level, since the tallies count different things.

Null baselines (issue 13 item 4): beside every spatial comparison, the state table
(`baseline_rows`) gives per year and observed state series the model's Spearman rank
correlation and share error against it, beside three baselines that use no model: the
population alone (every state's share of the count = its share of the population; per
capita this predicts equal rates, so it has no rank correlation), the starting territories
alone (the members each state holds at the start), and persistence (every state keeps its
share, or per capita its rate, of the last observed year before: INEGI homicides by state,
data/inegi/state_month_2000_2007.csv, 2006 for 2007 and 2007 for every later year), for
counts and per capita (2020 census population, the region table's). Share error: half the
sum over states of |predicted share - observed share| (0 = the same distribution, 1 =
disjoint), over the states the series covers; per capita, of the shares of the rates. The
observed series are the package's (INEGI homicides 2007; the 2009 tallies) and any given
by a user (`state_series`, e.g. the full upstream INEGI file with later years): state-level
violence after 2007 is never used to choose a rule or parameter, it is the held-out test,
with persistence of 2007 shares as the bar to beat.
Called by report.py; plotting stays out of the engine.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from cartelsim.agents.output import juarez_comparison, regional_weekly
from cartelsim.datasets import PACKAGE_DATA, fact_rows
from cartelsim.observe import window, years
from cartelsim.region_table import PART_OF
from cartelsim.report import charts, page

OBSERVED_FILE = "mexico_state_executions_2009.csv"
OBSERVED_YEAR = 2009
OBSERVED_SOURCES = ("milenio", "el_universal", "reforma")
#: Years with fewer simulated weeks than this are left off the map (a partial first year).
MIN_WEEKS = 26
#: INEGI homicides by state and month (Gargiulo, Aburto & Floridi, OSF
#: doi:10.17605/OSF.IO/U8DC3, CC BY 4.0; data/inegi/PROVENANCE-state.md), to 2007 only.
INEGI_STATE_FILE = "state_month_2000_2007.csv"
INEGI_CITATION = "INEGI homicides (Gargiulo, Aburto & Floridi, OSF doi:10.17605/OSF.IO/U8DC3)"
BASELINES = ("population", "territories", "persistence")


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
        headers = ["state", "simulated", "rank", "Milenio", "rank", "Reforma", "rank", "misfit"]
        flagged = [bool(r[-1]) for r in rows]
        if any(flagged):
            parts.append(
                f"<p>{sum(flagged)} state(s) flagged as misfits: the model's share of the "
                f"national killings is more than {MISFIT_FACTOR:g} times, or less than "
                f"1/{MISFIT_FACTOR:g} of, the Milenio tally's share.</p>"
            )
        parts.append(page.table(headers, rows, flagged, flag_class="misfit"))
    parts.append(baseline_section(results))
    parts.append(juarez_section(results))
    parts.append(_settings_table(results, page.table))
    return "\n".join(parts)


# --- null baselines -------------------------------------------------------------------------


def inegi_state_homicides(path: str | Path | None = None) -> dict[int, dict[int, float]]:
    """{year: {INEGI state code: homicides}} from the package's 2000-2007 file, or from
    `path`: a file of the same columns (state_code, year, month, homicides) or the upstream
    '|'-separated file (cve_ent|year|month|homicides|...), e.g. with years after 2007."""
    if path is None:
        text = (PACKAGE_DATA / "inegi" / INEGI_STATE_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    delimiter = "|" if "|" in text.splitlines()[0] else ","
    out: dict[int, dict[int, float]] = {}
    for row in csv.DictReader(text.splitlines(), delimiter=delimiter):
        code = int(row.get("state_code") or row["cve_ent"])
        year = int(row["year"])
        value = row["homicides"]
        if value in ("", "NA"):
            continue
        per_year = out.setdefault(year, {})
        per_year[code] = per_year.get(code, 0.0) + float(value)
    return out


def state_series(results, inegi: dict | None = None, regions=None) -> list[dict]:
    """The observed state series for the simulated years: [{name, year, model variable,
    values (R,) with NaN where missing}], R the regions of `regions` (default: the run's).
    INEGI homicides (the package's, or `inegi` as inegi_state_homicides returns it) against
    the model's homicides; the 2009 tallies of executions against its killings."""
    plan = results.plan
    regions = results.extra.regions if regions is None else regions
    inegi = inegi_state_homicides() if inegi is None else inegi
    out = []
    for year in years(plan):
        if window(plan, year).sum() < MIN_WEEKS:
            continue
        if year in inegi:
            values = np.full(regions.n, np.nan)
            for code, v in inegi[year].items():
                values[regions.position(code)] = v
            out.append({"name": "INEGI homicides", "year": year, "variable": "homicides",
                        "values": values})  # fmt: skip
        if year == OBSERVED_YEAR:
            rows = fact_rows(OBSERVED_FILE)
            for source in OBSERVED_SOURCES:
                values = np.full(regions.n, np.nan)
                for row in rows:
                    if row[source] != "":
                        values[regions.position(int(row["id"]))] = float(row[source])
                name = source.replace("_", " ").title() + " executions"
                out.append({"name": name, "year": year, "variable": "killings",
                            "values": values})  # fmt: skip
    return out


#: Region tables whose regions are Mexico's states or parts of them (region_table.PART_OF).
STATE_TABLES = ("states", "states-juarez")


def _states():
    from cartelsim.agents.regions import load_regions

    return load_regions("states")


def _to_states(regions):
    """A function taking (R,) values of `regions` to (32,) values by state: a region that is
    part of a state (Ciudad Juarez) is added to its state."""
    if regions.label == "states":
        return lambda values: values
    states = _states()
    target = np.array([states.position(PART_OF.get(int(i), int(i))) for i in regions.ids])

    def fold(values):
        out = np.zeros(states.n, dtype=float)
        np.add.at(out, target, values)
        return out

    return fold


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties); NaN when either side is constant."""
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _share_error(predicted: np.ndarray, observed: np.ndarray) -> float:
    p, o = predicted / predicted.sum(), observed / observed.sum()
    return float(0.5 * np.abs(p - o).sum())


def baseline_rows(results, inegi: dict | None = None) -> list[dict]:
    """Per year, observed series and measure (counts, per capita): the model's and each
    baseline's Spearman rho and share error (module docstring), by state: with
    `states-juarez`, Ciudad Juarez is added to Chihuahua. Returns [] for other tables."""
    regions, plan = results.extra.regions, results.plan
    if regions.label not in STATE_TABLES:
        return []
    inegi = inegi_state_homicides() if inegi is None else inegi
    fold = _to_states(regions)
    weekly = regional_weekly(results)
    population = fold(regions.population.astype(float))
    start = fold(results.extra.members_by_region[0].sum(axis=0).mean(axis=-1))  # (states,)
    states = _states()
    rows = []
    for series in state_series(results, inegi, states):
        year, observed = series["year"], series["values"]
        model = fold(weekly[series["variable"]].mean(axis=-1)[window(plan, year)].sum(axis=0))
        before = max((y for y in inegi if y < year), default=None)
        last = np.full(states.n, np.nan)
        if before is not None:
            for code, v in inegi[before].items():
                last[states.position(code)] = v
        predictors = {"model": model, "population": population, "territories": start,
                      "persistence": last}  # fmt: skip
        for measure in ("counts", "per capita"):
            known = ~np.isnan(observed) & (~np.isnan(last) if before is not None else True)
            obs = observed[known] / (population[known] if measure == "per capita" else 1)
            row = {"year": year, "series": series["name"], "measure": measure,
                   "states": int(known.sum()), "persistence_year": before}  # fmt: skip
            for name, values in predictors.items():
                if name == "persistence" and before is None:
                    row[f"{name}_rho"] = row[f"{name}_error"] = float("nan")
                    continue
                v = values[known] / (population[known] if measure == "per capita" else 1)
                row[f"{name}_rho"] = _spearman(v, obs)
                row[f"{name}_error"] = _share_error(v, obs)
            rows.append(row)
    return rows


def baseline_section(results, inegi: dict | None = None) -> str:
    """The state table with its null baselines (HTML), or "" without observed state data."""
    rows = baseline_rows(results, inegi)
    if not rows:
        return ""
    names = ("model", *BASELINES)
    table, flagged = [], []
    for row in rows:
        cells = [str(row["year"]), row["series"], row["measure"]]
        cells += [_fmt(row[f"{n}_rho"], "+.2f") for n in names]
        cells += [_fmt(row[f"{n}_error"], ".2f") for n in names]
        table.append(cells)
        bar = row["persistence_rho"]
        flagged.append(not np.isnan(bar) and not row["model_rho"] > bar)
    headers = ["year", "observed", "measure", "rho model", "rho population",
               "rho territories", "rho persistence", "error model", "error population",
               "error territories", "error persistence"]  # fmt: skip
    return (
        "<h2>States: the model against null baselines</h2>"
        "<p>Per year and observed state series: Spearman rank correlation across states "
        "(rho, higher is better) and share error (half the summed absolute difference of "
        "the states' shares, 0 = same distribution, lower is better) of the model and of "
        "three baselines without a model: population alone, the starting territories alone, "
        "and persistence (each state keeps its share, per capita its rate, of the last "
        f"year observed before: {page.esc(INEGI_CITATION)}, CC BY 4.0). Per capita: 2020 "
        "census population; the population baseline then predicts equal rates (no rho). "
        "Rows where the model does not rank states better than persistence are flagged. "
        "INEGI homicides are compared with the model's homicides, the 2009 tallies of "
        "executions with its killings.</p>" + page.table(headers, table, flagged)
    )


def juarez_section(results) -> str:
    """Ciudad Juarez's simulated homicides against the observed series and three naive
    baselines (agents/output.juarez_comparison), or "" without a Juarez region."""
    juarez = juarez_comparison(results)
    if juarez is None:
        return ""
    names = ("model", "baseline_share_of_nation", "baseline_share_of_model_nation",
             "baseline_share_of_model_chihuahua")  # fmt: skip
    table = [
        [str(r["year"]), f"{r['observed']:,.0f}"]
        + [f"{r[n]:,.0f} ({r[n + '_error']:+.0%})" for n in names]
        for r in juarez["rows"]
    ]
    low, high = juarez["error_years"]
    scores = ", ".join(f"{page.esc(n)} {v:.2f}" for n, v in juarez["mean_abs_log_error"].items())
    headers = ["year", "observed", "model", f"{juarez['share_year']} share of nation",
               f"{juarez['share_year']} share of model nation",
               f"{juarez['share_year']} share of model Chihuahua"]  # fmt: skip
    return (
        "<h2>Ciudad Juárez: homicides, model against naive baselines</h2>"
        "<p>Homicides in the Ciudad Juárez region (ensemble mean) against the Chihuahua state "
        "prosecutor's count for the city (facts/mexico_yearly.csv), beside baselines that "
        f"hold Juárez's {juarez['share_year']} share constant: of the nation's observed "
        f"homicides (INEGI, {juarez['share_of_nation']:.1%}), of the model's national "
        f"homicides, and of the model's Chihuahua ({juarez['share_of_chihuahua']:.1%} of "
        f"INEGI's {juarez['share_year']} Chihuahua homicides). In brackets: predicted / "
        f"observed − 1. Mean absolute log ratio {low}-{high} (lower is better): {scores}.</p>"
        + page.table(headers, table)
    )


def _fmt(x: float, spec: str) -> str:
    return "" if x is None or np.isnan(x) else format(x, spec)


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


#: A state is a misfit of the ranking table when its share of the simulated killings is more
#: than this factor away from its share of the Milenio tally (Sonora in the 1:1 run of
#: 2026-11: 2,065 simulated against 294 in Milenio's tally, about 4 times its share).
MISFIT_FACTOR = 3.0


def ranking_rows(results):
    """Rows of the ranking table and the rank correlations, or None without observations."""
    regions = results.extra.regions
    plan = results.plan
    if regions.label not in STATE_TABLES or OBSERVED_YEAR not in years(plan):
        return None
    mask = window(plan, OBSERVED_YEAR)
    if mask.sum() < MIN_WEEKS:
        return None
    fold = _to_states(regions)
    simulated = fold(regional_weekly(results)["killings"].mean(axis=-1)[mask].sum(axis=0))
    regions = _states() if regions.label != "states" else regions
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
    milenio = observed["milenio"]
    known = ~np.isnan(milenio)
    sim_share = simulated / max(simulated[known].sum(), 1e-12)
    obs_share = milenio / max(np.nansum(milenio), 1e-12)
    rows = []
    for k in np.argsort(-simulated, kind="stable"):
        ratio = sim_share[k] / obs_share[k] if known[k] and obs_share[k] > 0 else np.nan
        misfit = (
            f"{ratio:.1f} x Milenio's share"
            if np.isfinite(ratio) and not 1 / MISFIT_FACTOR <= ratio <= MISFIT_FACTOR
            else ""
        )
        rows.append(
            [
                regions.names[k],
                f"{simulated[k]:,.0f}",
                str(rank["sim"][k]),
                _number(observed["milenio"][k]),
                str(rank["milenio"][k]) if rank["milenio"][k] else "",
                _number(observed["reforma"][k]),
                str(rank["reforma"][k]) if rank["reforma"][k] else "",
                misfit,
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
