"""Results.to_xarray: run x date x group x region, the tidy table's numbers, provenance as
attributes; `run --format netcdf` writes results.nc beside results.parquet."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from cartelsim import runner
from cartelsim.cli import main
from cartelsim.results import NATIONAL, read_results
from cartelsim.scenario import PARAMETER_NAMES, load_scenario, with_mode

AGENT_SCENARIO = "mexico-2006-2012"


@pytest.fixture(scope="module")
def aggregate():
    return runner.run("mexico-2006-2012", runs=2, seed=3)


@pytest.fixture(scope="module")
def agents():
    return runner.run(AGENT_SCENARIO, runs=2, seed=1, engine="agents", scale=0.02)


def _value(table: pd.DataFrame, **where) -> float:
    rows = table
    for column, value in where.items():
        if column in ("group", "variable"):
            rows = rows[rows[column].astype(str) == value]
        else:
            rows = rows[rows[column] == value]
    assert len(rows) == 1, where
    return float(rows["value"].iloc[0])


def _check_attrs(ds: xr.Dataset, results) -> None:
    provenance = results.provenance()
    assert ds.attrs["cartelsim_version"] == provenance["cartelsim_version"]
    assert ds.attrs["scenario"] == results.plan.scenario.name
    assert ds.attrs["scenario_sha256"] == results.plan.scenario.sha256()
    assert ds.attrs["seed"] == results.seed
    assert ds.attrs["engine"] == results.engine
    assert json.loads(ds.attrs["provenance"]) == json.loads(json.dumps(provenance))
    assert "date_convention" in ds.attrs
    for name in PARAMETER_NAMES:
        param = getattr(results.plan.scenario.parameters, name)
        assert ds.attrs[f"parameter_{name}"] == param.value
        assert ds.attrs[f"parameter_{name}_source"] == param.source


def test_aggregate_dims_coords_attrs(aggregate):
    ds = aggregate.to_xarray()
    plan = aggregate.plan
    assert dict(ds.sizes) == {
        "run": 2,
        "date": plan.weeks + 1,
        "group": plan.n_groups,
        "region": 1,
    }
    assert ds["members"].dims == ("run", "date", "group", "region")
    assert list(ds["run"].values) == [0, 1] and ds["run"].dtype.kind == "i"
    assert ds["date"].dtype.kind == "M"
    assert list(ds["date"].values) == list(pd.to_datetime(plan.dates()).values)
    assert list(ds["group"].values) == list(plan.shorts)
    assert list(ds["group_name"].values) == list(plan.names)
    assert list(ds["region"].values) == [0]
    for name in NATIONAL:
        assert ds[name].dims == ("run", "date")
    assert not any(name.startswith("regional_") for name in ds.data_vars)
    _check_attrs(ds, aggregate)


def test_aggregate_values_equal_the_tidy_table(aggregate):
    ds, table = aggregate.to_xarray(), aggregate.to_pandas()
    dates = pd.to_datetime(aggregate.plan.dates())
    short = aggregate.plan.shorts[0]
    for run, week in ((0, 0), (1, 10), (1, aggregate.plan.weeks)):
        expected = _value(table, run=run, date=dates[week], group=short, variable="members")
        got = ds["members"].sel(run=run, date=dates[week], group=short, region=0)
        assert float(got) == expected
    # Flows at the week's start, members_total at the week's end, as in the table.
    for name in ("member_deaths", "recruits", "members_total", "homicides"):
        rows = table[(table["variable"].astype(str) == name) & (table["run"] == 1)]
        got = ds[name].sel(run=1, date=rows["date"].to_numpy()).values
        np.testing.assert_array_equal(got, rows["value"].to_numpy())
    assert np.isnan(ds["members_total"].isel(run=0, date=0))
    assert np.isnan(ds["member_deaths"].isel(run=0, date=-1))
    members_total = ds["members"].sel(region=0).sum("group").isel(date=slice(1, None))
    np.testing.assert_allclose(members_total, ds["members_total"].isel(date=slice(1, None)))


def test_agents_dims_and_regional_values(agents):
    ds, table = agents.to_xarray(), agents.to_pandas()
    ids = [int(r) for r in agents.extra.regions.ids]
    assert list(ds["region"].values) == [0, *ids]
    assert ds["members"].dims == ("run", "date", "group", "region")
    assert ds["regional_homicides"].dims == ("run", "date", "region")
    assert ds["regional_members_total"].dims == ("run", "date", "region")
    _check_attrs(ds, agents)
    assert ds.attrs["engine"] == "agents"
    dates = pd.to_datetime(agents.plan.dates())
    region = ids[5]
    for name, week in (("homicides", 3), ("members_total", 4), ("arrests", 0)):
        expected = _value(table, run=1, date=dates[week], group="all", region=region, variable=name)
        got = ds[f"regional_{name}"].sel(run=1, date=dates[week], region=region)
        assert float(got) == expected
    held = table[(table["variable"].astype(str) == "members") & (table["region"] > 0)]
    row = held.iloc[len(held) // 2]
    got = ds["members"].sel(run=row["run"], date=row["date"], group=str(row["group"]))
    assert float(got.sel(region=row["region"])) == row["value"]
    # Regions add up to the national members.
    np.testing.assert_allclose(
        ds["members"].isel(region=slice(1, None)).sum("region").isel(date=-1),
        ds["members"].sel(region=0).isel(date=-1),
    )


def test_cli_netcdf_reads_back_equal(tmp_path, capsys):
    out = tmp_path / "o"
    args = ["run", "mexico-2006-2012", "--runs", "2", "--mode", "stochastic", "--format", "netcdf"]
    assert main([*args, "--out", str(out)]) == 0
    capsys.readouterr()
    assert {"results.parquet", "results.nc", "summary.json", "report.html"} <= {
        p.name for p in out.iterdir()
    }
    scenario = with_mode(load_scenario("mexico-2006-2012"), "stochastic")
    expected = runner.run(scenario, runs=2, seed=0).to_xarray()
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        xr.testing.assert_identical(ds.load(), expected)
    table = read_results(out / "results.parquet")
    assert len(table) == len(runner.run("mexico-2006-2012", runs=2, seed=0).to_pandas())


def test_cli_agents_netcdf(tmp_path, capsys):
    out = tmp_path / "a"
    args = ["run", AGENT_SCENARIO, "--engine", "agents", "--scale", "0.02", "--seed", "1"]
    assert main([*args, "--runs", "2", "--format", "netcdf", "--out", str(out)]) == 0
    capsys.readouterr()
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        xr.testing.assert_identical(ds.load(), _agents_again())


def _agents_again():
    return runner.run(AGENT_SCENARIO, runs=2, seed=1, engine="agents", scale=0.02).to_xarray()


def test_parquet_default_writes_no_netcdf(tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["run", "mexico-2006-2012", "--out", str(out)]) == 0
    assert not (out / "results.nc").exists()
    # A netcdf result replaced with --force by a parquet one loses its stale results.nc.
    netcdf = ["run", "mexico-2006-2012", "--format", "netcdf", "--force"]
    assert main([*netcdf, "--out", str(out)]) == 0
    assert (out / "results.nc").is_file()
    assert main(["run", "mexico-2006-2012", "--out", str(out), "--force"]) == 0
    assert not (out / "results.nc").exists()


def test_importing_cartelsim_does_not_import_xarray():
    code = "import sys, cartelsim, cartelsim.results, cartelsim.cli; print('xarray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
