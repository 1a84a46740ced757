"""Reliability 3: an ensemble killed with SIGKILL part way resumes to exactly the result of an
uninterrupted run: every run once, none lost, none duplicated, the same numbers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from cartelsim.cli import main
from cartelsim.ensemble import run_ensemble
from cartelsim.results import read_results

RUNS = 200
STOCHASTIC = (
    'extends = "mexico-2006-2012"\nname = "mexico-stochastic"\n[simulation]\nmode = "stochastic"\n'
)


def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path, capsys):
    """Kill `cartelsim run --runs 200` after some parts are saved; --resume completes it."""
    scenario = tmp_path / "mexico-stochastic.toml"
    scenario.write_text(STOCHASTIC, encoding="utf-8")
    out = tmp_path / "killed"
    args = ["run", str(scenario), "--runs", str(RUNS), "--seed", "3", "--out", str(out)]
    # One run per part, so the kill lands between parts many times over.
    process = subprocess.Popen(
        [sys.executable, "-m", "cartelsim", *args, "--chunk", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parts = out / "parts"
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if parts.is_dir() and len(list(parts.glob("runs-*.npz"))) >= 20:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the ensemble ended before it was killed"
    saved = len(list(parts.glob("runs-*.npz")))
    assert 20 <= saved < RUNS
    assert not (out / "summary.json").exists()

    assert main([*args, "--chunk", "1"]) == 2
    assert "use --resume to finish it" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    resumed = read_results(out / "results.parquet")

    _, paths = run_ensemble(scenario, RUNS, tmp_path / "whole", 3)
    whole = read_results(paths["results"])
    assert resumed.equals(whole)
    per_run = resumed.groupby("run").size()
    assert list(per_run.index) == list(range(RUNS))
    assert per_run.nunique() == 1  # every run has all its rows, once
    assert not resumed.duplicated(["run", "date", "group", "variable"]).any()
    assert not (out / "parts").exists()
