"""Results as an xarray.Dataset (Results.to_xarray): run x date x group x region.

The same numbers as the tidy table (Results.to_pandas), on one date axis: the start of each
week and the end date (weeks + 1 dates).

- members (run, date, group, region): stocks at each date; region 0 is the national total
  (the aggregate engine has only region 0, the agent engine adds its regions).
- the national weekly variables (results.NATIONAL, group "all" in the tidy table) as
  (run, date): flows during the week starting at `date` (the last date is NaN),
  members_total at the week's end as in the tidy table (the first date is NaN).
- agent results: the regional weekly variables as regional_NAME (run, date, region), dated
  as in the tidy table (stocks such as members_total at the week's end, flows at the week's
  start); NaN at region 0 (the national values are the variables above).

xarray is imported here, when a Dataset is asked for, so importing cartelsim does not.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cartelsim import rng
from cartelsim.scenario import PARAMETER_NAMES

if TYPE_CHECKING:
    import xarray

#: Variables whose value is a stock at the week's end (dated by the next week's start).
NATIONAL_STOCKS = ("members_total",)

DATE_CONVENTION = (
    "members: stock at each date (the start of each week, and the end date). Weekly "
    "variables: flows during the week starting at `date` (NaN at the last date); stocks "
    "(members_total, and regional stocks) at the week's end, dated by the next week's start "
    "(NaN at the first date), as in the tidy table (results.parquet)."
)


def to_xarray(results, national: tuple[str, ...]) -> xarray.Dataset:
    """The Dataset described in the module docstring, for a results.Results; `national`:
    the national weekly variables (results.NATIONAL; passed in, so that this module does not
    import results, which imports it)."""
    import xarray as xr

    plan, runs = results.plan, results.runs
    dates = pd.to_datetime(plan.dates()).values.astype("datetime64[ns]")
    weeks = plan.weeks
    members = results.traj.members  # (weeks + 1, groups, runs)
    groups = members.shape[1]
    shorts, names = list(plan.shorts)[:groups], list(plan.names)[:groups]
    extra = results.extra
    by_region = getattr(extra, "members_by_region", None)  # agents only
    regions = [0]
    if by_region is not None:
        regions += [int(r) for r in extra.regions.ids]
    cube = np.zeros((runs, weeks + 1, groups, len(regions)))
    cube[..., 0] = members.transpose(2, 0, 1)
    if by_region is not None:
        g = min(groups, by_region.shape[1])
        cube[:, :, :g, 1:] = by_region[:, :g].transpose(3, 0, 1, 2)
    data = {"members": (("run", "date", "group", "region"), cube)}
    for name in national:
        data[name] = (("run", "date"), _dated(results.weekly[name], name in NATIONAL_STOCKS))
    if by_region is not None:
        for name, values in _regional(results, dates, regions[1:]).items():
            data[f"regional_{name}"] = (("run", "date", "region"), values)
    ds = xr.Dataset(
        data,
        coords={
            "run": np.arange(runs),
            "date": dates,
            "group": shorts,
            "group_name": ("group", names),
            "region": np.array(regions, dtype=np.int64),
        },
        attrs=_attrs(results),
    )
    ds["members"].attrs["description"] = "members at each date; region 0: national"
    for name in national:
        ds[name].attrs["description"] = "national weekly variable (group 'all' in the table)"
    return ds


def _dated(values: np.ndarray, stock: bool) -> np.ndarray:
    """(weeks, ...runs last) on the weeks + 1 dates, runs first: stocks at the week's end."""
    values = np.asarray(values, dtype=float)
    out = np.full((values.shape[0] + 1, *values.shape[1:]), np.nan)
    if stock:
        out[1:] = values
    else:
        out[:-1] = values
    return np.moveaxis(out, -1, 0)  # (runs, weeks + 1, ...)


def _regional(results, dates: np.ndarray, ids: list[int]) -> dict[str, np.ndarray]:
    """The agent engine's regional weekly variables, each (runs, weeks + 1, regions) with
    NaN where the tidy table has no row. Read from its tidy rows (group "all"), which date
    them already, so this core module imports nothing from the agent engine."""
    table = results.extra.tidy_rows(results)
    table = table[table["group"].astype(str) == "all"]
    region_index = {r: k + 1 for k, r in enumerate(ids)}
    out = {}
    for name, rows in table.groupby(table["variable"].astype(str), sort=False):
        values = np.full((results.runs, len(dates), len(ids) + 1), np.nan)
        date = pd.DatetimeIndex(dates).get_indexer(pd.to_datetime(rows["date"]))
        region = rows["region"].map(region_index).to_numpy()
        values[rows["run"].to_numpy(), date, region] = rows["value"].to_numpy()
        out[name] = values
    return out


def _seed_attr(seed):
    """A seed as an attribute: a number, or (--seeds) an int64 array, one seed per run."""
    value = rng.as_json(seed)
    return np.asarray(value, dtype=np.int64) if isinstance(value, list) else value


def _attrs(results) -> dict:
    plan, provenance = results.plan, results.provenance()
    scenario = plan.scenario
    attrs = {
        "cartelsim_version": provenance["cartelsim_version"],
        "scenario": scenario.name,
        "scenario_sha256": provenance["scenario_sha256"],
        "seed": _seed_attr(results.seed),
        "engine": results.engine,
        "runs": int(results.runs),
        "date_convention": DATE_CONVENTION,
        "provenance": json.dumps(provenance),
    }
    for name in PARAMETER_NAMES:
        param = getattr(scenario.parameters, name)
        attrs[f"parameter_{name}"] = float(param.value)
        attrs[f"parameter_{name}_source"] = param.source
    return attrs
