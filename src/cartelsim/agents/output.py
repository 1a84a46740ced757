"""The agent engine's additions to the results: weekly series by region, and their summary.

Regional killings follow the national observation model (observe.py), region by region:
killings = member deaths (conflict deaths + state kills) / cartel_share, and homicides =
killings + the scenario's other homicides shared in proportion to population. Region ids are
the region table's (INEGI codes for the states); national rows carry region 0, INEGI's code
for the whole country.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartelsim import observe
from cartelsim.agents.record import STOCKS
from cartelsim.agents.world import REGION_VARIABLES
from cartelsim.plan import WEEKS_PER_YEAR


def regional_weekly(results) -> dict[str, np.ndarray]:
    """Each variable as (weeks, regions, runs), plus killings and homicides."""
    agents = results.extra
    out = {name: agents.regional[:, k] for k, name in enumerate(REGION_VARIABLES)}
    obs = results.plan.scenario.observation
    out["killings"] = (out["conflict_deaths"] + out["state_kills"]) / obs.cartel_share.value
    population = agents.regions.population
    other = obs.other_homicides_per_year.value / WEEKS_PER_YEAR * population / population.sum()
    out["homicides"] = out["killings"] + other[None, :, None]
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


def yearly_by_region(results) -> list[dict]:
    """Ensemble means per calendar year and region: homicides, oc_killings (the killings
    the conflict causes), members_total (at the year's end)."""
    plan, weekly = results.plan, regional_weekly(results)
    ids = results.extra.regions.ids
    rows = []
    for year in observe.years(plan):
        mask = observe.window(plan, year)
        last = np.flatnonzero(mask)[-1]
        homicides = weekly["homicides"][mask].sum(axis=0).mean(axis=-1)
        killings = weekly["killings"][mask].sum(axis=0).mean(axis=-1)
        members = weekly["members_total"][last].mean(axis=-1)
        for k, region in enumerate(ids):
            rows.append(
                {
                    "year": int(year),
                    "region": int(region),
                    "homicides": float(homicides[k]),
                    "oc_killings": float(killings[k]),
                    "members_total": float(members[k]),
                }
            )
    return rows
