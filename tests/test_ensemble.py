"""Ensembles in chunks: the same numbers as one call, parts saved as they finish, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cartelsim import ensemble
from cartelsim.report.run_report import write_report
from cartelsim.results import read_results
from cartelsim.runner import run
from cartelsim.scenario import load_scenario, validate


def stochastic_mexico():
    """The Mexico scenario in stochastic mode: runs differ, so run order matters."""
    document = load_scenario("mexico-2006-2012").model_dump(mode="json")
    document["name"] = "mexico-stochastic"
    document["simulation"]["mode"] = "stochastic"
    return validate(document, "mexico-stochastic.toml")


def test_chunks_equal_one_call(tmp_path):
    """Runs computed in chunks of 3 equal runner.run's runs exactly, in the same order."""
    scenario = stochastic_mexico()
    whole = run(scenario, runs=10, seed=4)
    results, paths = ensemble.run_ensemble(
        scenario, 10, tmp_path / "o", 4, chunk=3, write_report=write_report
    )
    np.testing.assert_array_equal(results.traj.members, whole.traj.members)
    np.testing.assert_array_equal(results.traj.flows, whole.traj.flows)
    assert not np.array_equal(whole.traj.members[-1, :, 0], whole.traj.members[-1, :, 1])
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "report.html",
        "results.parquet",
        "summary.json",
    ]
    table = read_results(paths["results"])
    assert sorted(table["run"].unique()) == list(range(10))


def test_first_run_gives_the_later_runs_of_an_ensemble():
    """runner.run(first_run=k) gives runs k, k+1, ... of the ensemble with that seed."""
    scenario = stochastic_mexico()
    whole = run(scenario, runs=6, seed=11)
    tail = run(scenario, runs=2, seed=11, first_run=4)
    np.testing.assert_array_equal(tail.traj.members, whole.traj.members[:, :, 4:])


def test_start_from_scenario_in_chunks(tmp_path, pc2023_dir):
    """A policy scenario that starts from another's final state gives the same in chunks."""
    document = load_scenario("pc2023-halve-recruitment").model_dump(mode="json")
    document["simulation"]["weeks"] = 52
    document["simulation"]["mode"] = "stochastic"
    scenario = validate(document, "halve.toml")
    whole = run(scenario, runs=3, seed=2, data_dir=pc2023_dir)
    results, _ = ensemble.run_ensemble(scenario, 3, tmp_path / "o", 2, chunk=2, data_dir=pc2023_dir)
    np.testing.assert_array_equal(results.traj.members, whole.traj.members)
    assert results.summary() == whole.summary()


def _interrupt_after(monkeypatch, parts_written: int) -> None:
    """Make the ensemble stop (as if killed) once `parts_written` parts are on disk."""
    save = ensemble._save_part
    count = {"n": 0}

    def save_then_maybe_stop(path, *args):
        save(path, *args)
        count["n"] += 1
        if count["n"] == parts_written:
            raise KeyboardInterrupt

    monkeypatch.setattr(ensemble, "_save_part", save_then_maybe_stop)


def test_resume_recomputes_only_missing_and_damaged_parts(tmp_path, monkeypatch):
    """After an interruption, --resume keeps the intact parts, recomputes a damaged one, and
    gives the same files as an uninterrupted ensemble."""
    scenario = stochastic_mexico()
    out = tmp_path / "o"
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        ensemble.run_ensemble(scenario, 20, out, 9, chunk=4)
    monkeypatch.undo()
    parts = sorted((out / "parts").glob("runs-*.npz"))
    assert len(parts) == 3 and not (out / "summary.json").exists()
    damaged = parts[1]
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with pytest.raises(FileExistsError, match="unfinished ensemble is there; use --resume"):
        ensemble.run_ensemble(scenario, 20, out, 9, chunk=4)
    with pytest.raises(ValueError, match=r"seed: the unfinished ensemble has 9, this run 8"):
        ensemble.run_ensemble(scenario, 20, out, 8, chunk=4, resume=True)

    simulated = []
    original = ensemble._simulate_chunk

    def counting(*args):
        simulated.append(args[-2:])
        return original(*args)

    monkeypatch.setattr(ensemble, "_simulate_chunk", counting)
    done = []
    ensemble.run_ensemble(scenario, 20, out, 9, chunk=4, resume=True, progress=done.append)
    assert sorted(simulated) == [(4, 8), (12, 16), (16, 20)]
    assert done[0] == 8 and sum(done) == 20
    assert not (out / "parts").exists()
    reference, _ = ensemble.run_ensemble(scenario, 20, tmp_path / "ref", 9)
    assert read_results(out / "results.parquet").equals(
        read_results(tmp_path / "ref" / "results.parquet")
    )


def test_finished_result_is_kept_without_force(tmp_path):
    """A finished ensemble is not replaced, even with --resume; --force replaces it (and
    removes a report that no longer matches)."""
    scenario = stochastic_mexico()
    out = tmp_path / "o"
    ensemble.run_ensemble(scenario, 2, out, 1)
    before = (out / "results.parquet").read_bytes()
    for resume in (False, True):
        with pytest.raises(FileExistsError, match="finished result is already there"):
            ensemble.run_ensemble(scenario, 2, out, 2, resume=resume)
    assert (out / "results.parquet").read_bytes() == before
    (out / "report.html").write_text("the replaced result's report", encoding="utf-8")
    ensemble.run_ensemble(scenario, 2, out, 2, force=True)
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert not (out / "report.html").exists()  # it described the replaced result
