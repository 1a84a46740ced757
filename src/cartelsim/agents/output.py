"""The agent engine's additions to the results: weekly series by region, and their summary.

Regional killings follow the national observation model (observe.recorded), region by
region: each death counted once, by who killed whom (the groups' victims from the members
killed by rivals and the cartel share; members killed by the state and the forces killed
added once), and homicides = killings + the scenario's other homicides shared in proportion
to population. Region ids are
the region table's (INEGI codes for the states); national rows carry region 0, INEGI's code
for the whole country.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartelsim import observe
from cartelsim.agents.record import SHARES, STOCKS
from cartelsim.agents.world import NATIONAL_MECHANISMS, REGION_VARIABLES


def regional_weekly(results) -> dict[str, np.ndarray]:
    """Each variable as (weeks, regions, runs), plus killings and homicides."""
    agents = results.extra
    out = {name: agents.regional[:, k] for k, name in enumerate(REGION_VARIABLES)}
    population = agents.regions.population
    share = (population / population.sum())[None, :, None]
    recorded = observe.recorded(
        results.plan, out["conflict_deaths"], out["state_kills"], population_share=share
    )
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
