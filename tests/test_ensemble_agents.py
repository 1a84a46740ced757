"""The agent engine goes through the same ensemble path as the aggregate one: chunks on
several processes give the files one process gives, and a killed ensemble resumes."""

from __future__ import annotations

import pytest

from cartelsim import ensemble
from cartelsim.cli import main

#: A small world: a twentieth of the people, four runs.
SCALE = "0.05"
RUNS = "4"


def run_cli(out, *extra: str) -> int:
    args = ["run", "mexico-2006-2012", "--engine", "agents", "--scale", SCALE, "--runs", RUNS]
    return main([*args, "--out", str(out), *extra])


def interrupt_after(monkeypatch, parts: int) -> None:
    """Make the next ensemble stop, as if killed, once `parts` parts are saved."""
    save, count = ensemble._save_part, {"n": 0}

    def save_then_stop(path, *args):
        save(path, *args)
        count["n"] += 1
        if count["n"] == parts:
            raise KeyboardInterrupt

    monkeypatch.setattr(ensemble, "_save_part", save_then_stop)


def test_two_workers_give_the_files_of_one(tmp_path):
    """Two processes, one process and a rerun from the summary (--from, which takes the
    engine and its options from the summary) give byte-identical files."""
    assert run_cli(tmp_path / "one", "--workers", "1") == 0
    assert run_cli(tmp_path / "two", "--workers", "2") == 0
    again = ["run", "--from", str(tmp_path / "one" / "summary.json")]
    assert main([*again, "--out", str(tmp_path / "again")]) == 0
    for name in ("results.parquet", "summary.json"):
        one = (tmp_path / "one" / name).read_bytes()
        assert one == (tmp_path / "two" / name).read_bytes(), name
        assert one == (tmp_path / "again" / name).read_bytes(), name


def test_how_the_runs_are_chunked_does_not_change_the_result(tmp_path):
    """One run per part (the CLI's default for agents) or all runs in one part give the same
    files: a splinter that one run created and saw dissolve keeps its members and its name
    even where only other runs' parts reach its slot. (Seed 1 at a fiftieth of the people:
    run 0 has such a splinter; before the fix one-run parts dropped it.)"""
    args = ["run", "mexico-2006-2012", "--engine", "agents", "--scale", "0.02", "--seed", "1"]
    assert main([*args, "--runs", "2", "--chunk", "1", "--out", str(tmp_path / "ones")]) == 0
    assert main([*args, "--runs", "2", "--chunk", "2", "--out", str(tmp_path / "whole")]) == 0
    for name in ("results.parquet", "summary.json"):
        ones = (tmp_path / "ones" / name).read_bytes()
        assert ones == (tmp_path / "whole" / name).read_bytes(), name


def test_a_killed_agent_ensemble_resumes_to_the_same_result(tmp_path, monkeypatch, capsys):
    assert run_cli(tmp_path / "whole") == 0
    interrupt_after(monkeypatch, 2)
    assert run_cli(tmp_path / "cut") == 130
    monkeypatch.undo()
    assert len(list((tmp_path / "cut" / "parts").glob("runs-*.npz"))) == 2
    assert run_cli(tmp_path / "cut", "--resume") == 0
    for name in ("results.parquet", "summary.json"):
        whole = (tmp_path / "whole" / name).read_bytes()
        assert whole == (tmp_path / "cut" / name).read_bytes(), name
    capsys.readouterr()
    # A part from another engine, or of other runs, is not used: the aggregate engine's
    # unfinished ensemble in the same folder is refused, not assembled into agent results.
    interrupt_after(monkeypatch, 2)
    args = ["run", "mexico-2006-2012", "--runs", RUNS, "--chunk", "1", "--mode", "stochastic"]
    assert main([*args, "--out", str(tmp_path / "mixed")]) == 130
    monkeypatch.undo()
    assert run_cli(tmp_path / "mixed", "--resume", "--mode", "stochastic") == 2
    assert "engine: the unfinished ensemble has 'aggregate', this run 'agents'" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("bad", ["other_runs", "other_seed"])
def test_a_part_that_is_not_the_one_asked_for_is_recomputed(tmp_path, monkeypatch, bad):
    """A part file replaced by another part (runs 0 copied over runs 1) or by a part of
    another seed is detected by its identity and computed again."""
    out = tmp_path / "o"
    interrupt_after(monkeypatch, 2)
    assert run_cli(out) == 130
    monkeypatch.undo()
    first, second = sorted((out / "parts").glob("runs-*.npz"))
    if bad == "other_runs":
        second.write_bytes(first.read_bytes())
    else:
        interrupt_after(monkeypatch, 2)
        assert run_cli(tmp_path / "seed5", "--seed", "5") == 130
        monkeypatch.undo()
        second.write_bytes(
            sorted((tmp_path / "seed5" / "parts").glob("runs-*.npz"))[1].read_bytes()
        )
    recomputed = []
    original = ensemble._simulate_chunk

    def counting(prepared, first_run, stop):
        recomputed.append((first_run, stop))
        return original(prepared, first_run, stop)

    monkeypatch.setattr(ensemble, "_simulate_chunk", counting)
    assert run_cli(out, "--resume") == 0
    assert (1, 2) in recomputed and (0, 1) not in recomputed
