"""The agent engine's additions to the results: weekly series by region, and their summary.

Regional killings follow the national observation model (observe.recorded), region by
region: each death counted once, by who killed whom (the groups' victims from the members
killed by rivals and the cartel share; members killed by the state and the army, federal and
local police the engine's groups killed, added once), and homicides = killings + the
scenario's other homicides shared in proportion to population. Region ids are the region
table's (INEGI codes for the states); national rows carry region 0, INEGI's code for the
whole country.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd

from cartelsim import observe
from cartelsim.agents.record import SHARES, STOCKS
from cartelsim.agents.world import NATIONAL_MECHANISMS, REGION_VARIABLES
from cartelsim.datasets import PACKAGE_DATA, fact_rows


def state_forces_killed(regional: np.ndarray) -> np.ndarray:
    """(weeks, regions, runs) army, federal and local police killed, from the regional
    array (weeks, len(REGION_VARIABLES), regions, runs)."""
    federal = REGION_VARIABLES.index("forces_killed")
    local = REGION_VARIABLES.index("local_police_killed")
    return regional[:, federal] + regional[:, local]


def regional_weekly(results) -> dict[str, np.ndarray]:
    """Each variable as (weeks, regions, runs), plus killings and homicides."""
    agents = results.extra
    out = {name: agents.regional[:, k] for k, name in enumerate(REGION_VARIABLES)}
    population = agents.regions.population
    share = (population / population.sum())[None, :, None]
    recorded = observe.recorded(
        results.plan, out["conflict_deaths"], out["state_kills"], population_share=share,
        forces=state_forces_killed(agents.regional),
    )  # fmt: skip
    out["killings"], out["homicides"] = recorded["killings"], recorded["homicides"]
    return out


def regional_table(results) -> pd.DataFrame:
    """Tidy rows (run, date, group, region, variable, value) for every region: the weekly
    variables under group "all", and members by group (who holds each region)."""
    plan, weekly = results.plan, regional_weekly(results)
    dates = pd.to_datetime(plan.dates())
    ids = results.extra.regions.ids
    frames = []
    for name, values in weekly.items():
        weeks, regions, runs = values.shape
        stock = name in STOCKS
        frames.append(
            pd.DataFrame(
                {
                    "run": np.tile(np.arange(runs), weeks * regions),
                    "date": np.repeat(dates[1:] if stock else dates[:-1], regions * runs),
                    "group": "all",
                    "region": np.tile(np.repeat(ids, runs), weeks),
                    "variable": name,
                    "value": values.reshape(-1),
                }
            )
        )
    by_region = results.extra.members_by_region  # (weeks + 1, groups, regions, runs)
    held = by_region.any(axis=(0, 2, 3))  # groups that ever had members somewhere
    weeks1, _, regions, runs = by_region.shape
    for g in np.flatnonzero(held):
        frames.append(
            pd.DataFrame(
                {
                    "run": np.tile(np.arange(runs), weeks1 * regions),
                    "date": np.repeat(dates, regions * runs),
                    "group": plan.shorts[g],
                    "region": np.tile(np.repeat(ids, runs), weeks1),
                    "variable": "members",
                    "value": by_region[:, g].reshape(-1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


#: Regional weekly variables summed over a year in the yearly rows (the rest: at its end).
YEARLY_FLOWS = (
    "raids",
    "raids_leaked",
    "leaders_captured",
    "splits",
    "forces_killed",
    "local_police_killed",
    "arrests",
)
#: National mechanism series that are counts of events (summed over a year).
NATIONAL_FLOWS = ("splits", "truces_decided", "truces_broken", "mergers_decided", "leaders_removed")


def yearly_by_region(results) -> list[dict]:
    """Ensemble means per calendar year and region: homicides, oc_killings (the killings
    the conflict causes), members_total (at the year's end), the mechanisms' events of the
    year (YEARLY_FLOWS: raids, leaked raids, leaders captured, splits, state forces and local
    police killed, arrests) and the state at its end (businesses_closed, payroll shares by
    level)."""
    plan, weekly = results.plan, regional_weekly(results)
    ids = results.extra.regions.ids
    rows = []
    for year in observe.years(plan):
        mask = observe.window(plan, year)
        last = np.flatnonzero(mask)[-1]
        values = {
            "homicides": weekly["homicides"][mask].sum(axis=0).mean(axis=-1),
            "oc_killings": weekly["killings"][mask].sum(axis=0).mean(axis=-1),
            "members_total": weekly["members_total"][last].mean(axis=-1),
            **{k: weekly[k][mask].sum(axis=0).mean(axis=-1) for k in YEARLY_FLOWS},
            "businesses_closed": weekly["businesses_closed"][last].mean(axis=-1),
            **{k: weekly[k][last].mean(axis=-1) for k in SHARES},
        }
        for k, region in enumerate(ids):
            row = {"year": int(year), "region": int(region)}
            row.update({name: float(v[k]) for name, v in values.items()})
            rows.append(row)
    return rows


def national_mechanisms(results) -> dict[str, np.ndarray]:
    """Each national mechanism series as (weeks, runs), plus the regional flows summed over
    regions and businesses_closed as the population-weighted national share."""
    agents = results.extra
    out = {name: agents.national[:, k] for k, name in enumerate(NATIONAL_MECHANISMS)}
    weekly = regional_weekly(results)
    for name in YEARLY_FLOWS:
        if name not in out:
            out[name] = weekly[name].sum(axis=1)
    weights = agents.regions.population / agents.regions.population.sum()
    out["businesses_closed"] = np.einsum("wrn,r->wn", weekly["businesses_closed"], weights)
    return out


def yearly_with_mechanisms(results) -> list[dict]:
    """The summary's yearly rows (results.yearly) with every mechanism of the year beside
    them, ensemble means: events summed over the year (raids, leaked raids, leaders captured
    in raids and removed in all, splits, truces decided and broken, mergers decided, state
    forces and local police killed), and at the year's end active groups, the share of
    businesses closed (population-weighted) and the payroll shares by level."""
    plan, series = results.plan, national_mechanisms(results)
    flows = set(NATIONAL_FLOWS) | set(YEARLY_FLOWS)
    rows = results.yearly()
    for row in rows:
        mask = observe.window(plan, row["year"])
        last = np.flatnonzero(mask)[-1]
        for name, values in series.items():
            if name == "arrests":  # the core row has it as incapacitated
                continue
            value = values[mask].sum(axis=0) if name in flows else values[last]
            row[name] = float(value.mean())
    return rows


# --- Ciudad Juarez ---------------------------------------------------------------------------

#: The Juarez region of a region table (`--regions states-juarez`): its name, and the state
#: it is part of (INEGI code of Chihuahua).
JUAREZ_NAME = "Ciudad Juárez"
CHIHUAHUA = 8
#: The observed series: Ciudad Juarez homicides by the Chihuahua state prosecutor
#: (facts/mexico_yearly.csv), and national INEGI homicides by year of occurrence.
JUAREZ_SERIES = "juarez_homicides"
NATIONAL_SERIES = "inegi_homicides_occurrence"
#: The year whose shares the naive baselines hold constant, and the years the errors cover
#: (the baselines equal the observed value in the share year by construction).
SHARE_YEAR = 2007
ERROR_YEARS = (2008, 2011)


def _fact_series(name: str) -> dict[int, float]:
    return {int(r["year"]): float(r["value"]) for r in fact_rows("mexico_yearly.csv")
            if r["series"] == name and r["months"] == "1-12"}  # fmt: skip


def _inegi_state(year: int, code: int) -> float:
    """INEGI homicides in one state and year (data/inegi/state_month_2000_2007.csv)."""
    text = (PACKAGE_DATA / "inegi" / "state_month_2000_2007.csv").read_text(encoding="utf-8")
    return sum(
        float(r["homicides"])
        for r in csv.DictReader(text.splitlines())
        if int(r["year"]) == year and int(r["state_code"]) == code and r["homicides"] != ""
    )


def juarez_comparison(results) -> dict | None:
    """The Juarez region's simulated homicides per year against the observed series, beside
    three naive baselines that hold Juarez's 2007 share constant: of the nation's observed
    homicides (INEGI, by year of occurrence), of the model's national homicides, and of the
    model's Chihuahua (Juarez and the rest). Error of each: predicted / observed - 1, and
    over 2008-2011 the mean absolute log ratio. None when the region table has no Juarez
    region or the run covers no observed year."""
    regions, plan = results.extra.regions, results.plan
    if JUAREZ_NAME not in regions.names:
        return None
    k = regions.names.index(JUAREZ_NAME)
    chihuahua = [j for j, i in enumerate(regions.ids) if int(i) == CHIHUAHUA or j == k]
    observed, national = _fact_series(JUAREZ_SERIES), _fact_series(NATIONAL_SERIES)
    share_nation = observed[SHARE_YEAR] / national[SHARE_YEAR]
    share_chihuahua = observed[SHARE_YEAR] / _inegi_state(SHARE_YEAR, CHIHUAHUA)
    homicides = regional_weekly(results)["homicides"].mean(axis=-1)  # (weeks, regions)
    rows = []
    for year in observe.years(plan):
        mask = observe.window(plan, year)
        if year not in observed or not observe.covers(plan, year, (1, 12)):
            continue
        model = homicides[mask].sum(axis=0)
        predicted = {
            "model": float(model[k]),
            "baseline_share_of_nation": share_nation * national[year],
            "baseline_share_of_model_nation": share_nation * float(model.sum()),
            "baseline_share_of_model_chihuahua": share_chihuahua * float(model[chihuahua].sum()),
        }
        row = {"year": int(year), "observed": observed[year], **predicted}
        row.update({f"{name}_error": v / observed[year] - 1 for name, v in predicted.items()})
        rows.append(row)
    if not rows:
        return None
    low, high = ERROR_YEARS
    scored = [r for r in rows if low <= r["year"] <= high]
    names = [n for n in rows[0] if n.endswith("_error")]
    return {
        "region": int(regions.ids[k]),
        "observed": f"{JUAREZ_SERIES} (facts/mexico_yearly.csv, Chihuahua state prosecutor)",
        "share_year": SHARE_YEAR,
        "share_of_nation": share_nation,
        "share_of_chihuahua": share_chihuahua,
        "rows": rows,
        "mean_abs_log_error": {
            n.removesuffix("_error"): float(np.mean([abs(np.log1p(r[n])) for r in scored]))
            for n in names
        } if scored else {},
        "error_years": list(ERROR_YEARS),
    }  # fmt: skip
