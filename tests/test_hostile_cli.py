"""Hostile input, the whole command line: generated command lines mixing every command with
hostile option values never end in a traceback, a hang or an internal error; a real bug is
one line saying "internal error" (exit 70), never a traceback.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_hostile_helpers import HOSTILE, assert_clean, cli, no_report

import cartelsim.cli

#: Values any option may get: numbers at and past every bound, text, paths that are not
#: what they should be (filled in per example: FILE is a regular file, DIR a folder).
VALUES = [
    "0", "-1", "1", "8", "1e9", str(10**9), "nan", "inf", "", "abc", "9" * 25,
    "/dev/zero", "/dev/null", "/proc/self", "FILE", "FILE/under", "DIR", "../../escape",
    "tcp://127.0.0.1:1", "256.1.1.1", "2030-01-01", "2006-11-30", "cartel_share=-1",
    "mexico:no_such_series", "merger:SIN+NOPE", "no-such-scenario", "1,5,9", "1,,x", "3,3",
]  # fmt: skip
OPTIONS = {
    "run": ["--runs", "--seed", "--seeds", "--out", "--chunk", "--workers", "--scheduler",
            "--scale", "--regions", "--from", "--data-dir", "--engine"],
    "compare": ["--policy", "--posterior", "--runs", "--seed", "--seeds", "--from", "--out"],
    "sensitivity": ["--samples", "--seed", "--out"],
    "calibrate": ["--populations", "--particles", "--workers", "--scheduler", "--fix", "--seed",
                  "--out"],
    "fit": ["--param"],
    "serve": ["--host", "--scenarios", "--posteriors"],
    "data": ["--data-dir"],
}  # fmt: skip
SCENARIOS = ["mexico-2006-2012", "FILE", "DIR", "/dev/zero", "no-such-scenario", ""]


@settings(HOSTILE, max_examples=80)
@given(data=st.data())
def test_generated_command_lines_end_cleanly(data):
    command = data.draw(st.sampled_from(list(OPTIONS)))
    chosen = data.draw(st.lists(st.sampled_from(OPTIONS[command]), min_size=1, max_size=3))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "FILE").write_text("just text", encoding="utf-8")
        (tmp / "DIR").mkdir()

        def real(text: str) -> str:
            return str(tmp / text) if text.split("/")[0] in ("FILE", "DIR") else text

        if command == "data":
            argv = ["data", "fetch", "pc2023"]
        elif command == "serve":
            argv = ["serve", "--port", "99999"]  # never a server that starts
        else:
            argv = [command, real(data.draw(st.sampled_from(SCENARIOS)))]
        for option in chosen:
            argv += [option, real(data.draw(st.sampled_from(VALUES)))]
        if command == "compare" and "--policy" not in chosen:
            argv += ["--policy", "halve-recruitment"]
        if command == "fit" and "--param" not in chosen:
            argv += ["--param", "nope"]  # the least-squares fit itself is not under test
        if command == "calibrate":
            argv += ["--fix", "cartel_share=-1"]  # never a calibration that runs for minutes
        if "--out" not in chosen and command != "fit":
            argv += ["--out", str(tmp / "out")]
        old = os.getcwd()
        os.chdir(tmp)  # a default folder (results/NAME) lands in the temporary folder
        try:
            with no_report():
                status, _, err = cli(*argv)
        finally:
            os.chdir(old)
        assert_clean(status, err, lines=10)
        event(f"exit {status}")


def test_a_bug_is_one_line_saying_internal_error(monkeypatch):
    """Not bad input but a bug: one line, "internal error", what to report, exit 70."""

    def broken(args):
        raise RuntimeError("a bug\nwith a second line")

    monkeypatch.setattr(cartelsim.cli, "_scenarios", broken)
    status, _, err = cli("scenarios")
    assert status == cartelsim.cli.INTERNAL
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("cartelsim: internal error (RuntimeError: a bug); please report it")


def test_a_fifo_where_the_history_goes(tmp_path):
    """calibrate into a folder whose abc.db is a FIFO (SQLite would wait for a writer)."""
    (tmp_path / "o").mkdir()
    os.mkfifo(tmp_path / "o" / "abc.db")
    status, _, err = cli("calibrate", "mexico-2006-2012", "--out", tmp_path / "o")
    assert_clean(status, err, ok=False)
    assert "abc.db: not a regular file" in err
