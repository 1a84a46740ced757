"""A calibration killed with SIGKILL part way resumes from its pyabc history: the finished
populations are kept as they were, the missing ones are computed, nothing is duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pyabc
from test_calibration import synthetic_scenario

from cartelsim.analysis import calibrate

SCRIPT = """
import sys, pickle
from cartelsim.analysis.calibrate import calibrate
scenario = pickle.load(open(sys.argv[1], "rb"))
calibrate(scenario, sys.argv[2], populations=6, particles=60)
"""


def _populations(db) -> int:
    """Finished populations, read without writing (pyabc.History would create its tables,
    racing the calibration that is creating them)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("select count(*) from populations where t >= 0").fetchone()[0]
    except sqlite3.Error:  # not created yet, or being created
        return 0


def test_a_killed_calibration_resumes_without_loss(tmp_path):
    import pickle

    scenario = synthetic_scenario(tmp_path)
    (tmp_path / "scenario.pkl").write_bytes(pickle.dumps(scenario))
    out = tmp_path / "abc"
    db = out / "abc.db"
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "scenario.pkl"), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "stderr.txt").open("w"),
    )
    try:
        deadline = time.monotonic() + 120
        while _populations(db) < 2:
            assert child.poll() is None, (tmp_path / "stderr.txt").read_text()[-2000:]
            assert time.monotonic() < deadline, "no populations written in 120 s"
            time.sleep(0.2)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    before = pyabc.History(f"sqlite:///{db}").get_all_populations()
    done = int(before.t.max()) + 1
    assert 2 <= done < 6
    summary = calibrate.calibrate(scenario, out, populations=6, particles=60)
    after = pyabc.History(f"sqlite:///{db}").get_all_populations()
    assert summary["populations"] == 6
    assert list(after.t) == list(range(-1, 6)), "every population exactly once"
    kept = after[after.t < done].reset_index(drop=True)
    assert kept.epsilon.tolist() == before.epsilon.tolist()
    assert kept.samples.tolist() == before.samples.tolist()
