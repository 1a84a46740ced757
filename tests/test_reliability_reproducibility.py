"""Reliability 4: the same scenario and seed give identical files with 1 worker, 2 worker
processes and a Dask cluster; a result records what made it, and `run --from` remakes it."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from distributed import LocalCluster

import cartelsim
from cartelsim.cli import main
from cartelsim.ensemble import run_ensemble
from cartelsim.results import DEPENDENCIES, read_results

STOCHASTIC = (
    'extends = "mexico-2006-2012"\nname = "mexico-stochastic"\n[simulation]\nmode = "stochastic"\n'
)


@pytest.fixture
def stochastic(tmp_path):
    path = tmp_path / "mexico-stochastic.toml"
    path.write_text(STOCHASTIC, encoding="utf-8")
    return path


def test_one_worker_two_workers_and_dask_give_identical_files(tmp_path, stochastic):
    """results.parquet and summary.json are byte for byte the same however runs are spread.

    The Dask cluster runs in threads (two workers, two threads each), so chunks of one
    process run concurrently: the harder case for per-run seeding."""
    outs = {name: tmp_path / name for name in ("one", "two", "dask")}
    common = {"chunk": 5}
    run_ensemble(stochastic, 23, outs["one"], 8, workers=1, **common)
    run_ensemble(stochastic, 23, outs["two"], 8, workers=2, **common)
    with LocalCluster(
        n_workers=2, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        run_ensemble(stochastic, 23, outs["dask"], 8, scheduler=cluster.scheduler_address, **common)
    for name in ("results.parquet", "summary.json"):
        files = {key: (out / name).read_bytes() for key, out in outs.items()}
        assert files["one"] == files["two"] == files["dask"], name
    table = read_results(outs["one"] / "results.parquet")
    assert table["run"].nunique() == 23
    finals = table[(table.variable == "members_total")].groupby("run")["value"].last()
    assert finals.nunique() == 23  # the runs really differ: a wrong seed would show


def test_results_record_version_scenario_seed_and_dependencies(tmp_path, stochastic):
    """The Parquet metadata and the summary hold the version, the resolved scenario with its
    hash, the seed and the versions of the packages that compute and write the numbers."""
    _, paths = run_ensemble(stochastic, 2, tmp_path / "o", 5)
    meta = pq.read_schema(paths["results"]).metadata
    prov = json.loads(paths["summary"].read_text(encoding="utf-8"))["provenance"]
    for record in ({k.decode(): json.loads(v) for k, v in meta.items() if k != b"pandas"}, prov):
        assert record["cartelsim_version"] == cartelsim.__version__
        assert record["seed"] == 5
        assert record["scenario"]["name"] == "mexico-stochastic"
        assert record["scenario"]["simulation"]["mode"] == "stochastic"
        assert len(record["scenario"]["groups"]) == 9  # resolved through `extends`
        assert len(record["scenario_sha256"]) == 64
        assert set(record["dependencies"]) == {"python", *DEPENDENCIES}


def test_run_from_summary_reproduces_it(tmp_path, stochastic, capsys):
    """`cartelsim run --from DIR/summary.json` reruns the recorded scenario, runs and seed
    into identical files, and says so; without the scenario file it was made from."""
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(["run", str(stochastic), "--runs", "3", "--seed", "12", "--out", str(first)]) == 0
    stochastic.unlink()
    capsys.readouterr()
    assert main(["run", "--from", str(first / "summary.json"), "--out", str(again)]) == 0
    assert "the new summary is identical to it" in capsys.readouterr().err
    for name in ("results.parquet", "summary.json"):
        assert (first / name).read_bytes() == (again / name).read_bytes()


def test_run_from_refuses_an_edited_or_damaged_summary(tmp_path, stochastic, capsys):
    """An edited scenario fails its recorded hash; --from with --seed is refused; each is a
    one-line error naming the file."""
    out = tmp_path / "o"
    run_ensemble(stochastic, 1, out, 0)
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    summary["provenance"]["scenario"]["parameters"]["saturation"]["value"] *= 2
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(summary), encoding="utf-8")
    cases = {
        (str(edited),): f"cartelsim: {edited}: provenance.scenario: does not match its "
        "scenario_sha256 (the file was edited or damaged)",
        (str(summary_path), "--seed", "3"): "cartelsim: --from: takes the scenario, --runs and "
        "--seed from the summary",
    }
    for args, message in cases.items():
        assert main(["run", "--from", *args, "--out", str(tmp_path / "x")]) == 2
        assert capsys.readouterr().err.strip() == message
