"""Hostile input, sizes: what cannot fit is refused before anything is allocated, with the
estimate of memory and time and the option to change; inputs that made a loop never end are
refused where they enter. Family 5 of issue 15 (and the region tables of families 5 and 7).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hostile_helpers import HOSTILE, assert_clean, cli, tiny_document, write_scenario

from cartelsim import budget
from cartelsim.scenario import validate

BILLION = str(10**9)


def _refused_fast(args: list, option: str) -> str:
    """The command is refused in seconds (no allocation), naming the option and the
    memory it would need."""
    started = time.monotonic()
    status, _, err = cli(*args)
    assert time.monotonic() - started < 20, "a refusal must come before the work"
    assert_clean(status, err, ok=False)
    assert "too large for this machine" in err and "of memory" in err and " on one core" in err
    assert option in err, err
    return err


def test_a_billion_runs_is_refused_with_the_estimate(tmp_path):
    err = _refused_fast(
        ["run", "mexico-2006-2012", "--runs", BILLION, "--out", tmp_path / "o"], "--runs"
    )
    assert "514 kB per run: 9 groups x 317 weeks" in err and "use --runs" in err
    assert not (tmp_path / "o").exists()


def test_a_billion_agent_runs_and_a_billion_draws(tmp_path):
    _refused_fast(
        ["run", "mexico-2006-2012", "--engine", "agents", "--scale", "0.01", "--runs", BILLION,
         "--out", tmp_path / "a"],
        "--runs",
    )  # fmt: skip
    _refused_fast(
        ["compare", "mexico-2006-2012", "--policy", "halve-recruitment", "--runs", BILLION,
         "--out", tmp_path / "c"],
        "--runs",
    )  # fmt: skip
    err = _refused_fast(
        ["sensitivity", "mexico-2006-2012", "--samples", str(2**20), "--out", tmp_path / "s"],
        "--samples",
    )
    assert "runs)" in err  # samples x (parameters + 2) runs
    assert not any((tmp_path / name).exists() for name in "acs")


def test_a_long_horizon_of_a_large_network(tmp_path):
    """100 years of pc2023's 150 groups: the budget knows a dataset's size before reading it."""
    path = tmp_path / "long.toml"
    path.write_text('extends = "pc2023"\nname = "long"\n[simulation]\nweeks = 5200\n')
    err = _refused_fast(["run", path, "--runs", "5000", "--out", tmp_path / "o"], "--runs")
    assert "150 groups x 5200 weeks" in err


def test_agents_that_cannot_fit_or_do_not_exist(tmp_path):
    """A billion members at 1:1 (the world alone would not fit), and a scale at which no
    group keeps an agent."""
    groups = [{"name": f"G{k}", "short": f"G{k}", "initial_members": 1e9} for k in range(8)]
    document = tiny_document(name="huge", groups=groups, network={})
    path = write_scenario(tmp_path / "huge.toml", document)
    args = ["run", path, "--engine", "agents", "--out", tmp_path / "o"]
    status, _, err = cli(*args)
    assert_clean(status, err, ok=False)
    assert "too large for this machine" in err
    for scale in ("1e-12", "1e-5"):
        status, _, err = cli("run", "mexico-2006-2012", "--engine", "agents", "--scale", scale)
        assert_clean(status, err, ok=False)
        assert "no group keeps an agent" in err and "use --scale >=" in err


@settings(HOSTILE, max_examples=60)
@given(
    runs=st.integers(1, 10**12),
    weeks=st.integers(1, 5200),
    groups=st.integers(1, 30),
    limit=st.sampled_from([2**28, 2**30, 2**34]),
)
def test_the_advice_fits(monkeypatch, runs, weeks, groups, limit):
    """Refused or not, the numbers hold: a refusal's "use --runs N or less" fits, N + 1
    does not (up to the estimate's rounding), and an accepted request fits."""
    monkeypatch.setattr(budget, "memory_limit", lambda: limit)
    document = tiny_document(
        simulation={"start": "2010-01-01", "weeks": weeks},
        groups=[{"name": f"G{k}", "short": f"G{k}", "initial_members": 10} for k in range(groups)],
        network={},
    )
    estimate = budget.aggregate_estimate(validate(document, "t.toml"))
    try:
        estimate.check(runs, "--runs")
    except budget.BudgetError as exc:
        assert runs * estimate.per_run_bytes > limit * budget.HEADROOM
        text = str(exc)
        most = (
            int(text.split("use --runs ")[1].split(" or less")[0].replace(",", ""))
            if "use --runs" in text
            else 0
        )
        if most:
            estimate.check(most, "--runs")  # fits
            with pytest.raises(budget.BudgetError):
                estimate.check(most + 1, "--runs")
    else:
        assert runs * estimate.per_run_bytes <= limit * budget.HEADROOM


def test_under_a_memory_limit(tmp_path):
    """In a process limited to 3 GB of address space (`ulimit -v`): the budget uses the
    limit, and a series that is /dev/zero is refused without being read."""
    series = [{"name": "s", "variable": "killings", "data": "csv:/dev/zero"}]
    scenario = write_scenario(
        tmp_path / "zero.toml", tiny_document(observation={"cartel_share": 0.2, "series": series})
    )
    script = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        from cartelsim.cli import main
        print(main(["run", "mexico-2006-2012", "--runs", "100000", "--out", "{tmp_path}/a"]))
        print(main(["run", "{scenario}", "--out", "{tmp_path}/b"]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.stdout.split() == ["2", "2"], done.stderr
    assert "Traceback" not in done.stderr
    first, second = done.stderr.strip().splitlines()
    assert "3.0 GB available" in first
    assert "observation.series[0].data: /dev/zero: not a regular file" in second


# --- region tables (the agent engine's map) --------------------------------------------------

HEADER = "id,name,population,neighbours,crossings,grid_row,grid_col"
GOOD_ROWS = ["1,North,1000000,2,1,0,0", "2,South,2000000,1,0,1,0"]
BAD_ROWS = {
    "NaN population": ("1,North,nan,2,1,0,0", "population"),
    "infinite population": ("1,North,inf,2,1,0,0", "population"),
    "negative population": ("1,North,-5,2,1,0,0", "population"),
    "population 1e300": ("1,North,1e300,2,1,0,0", "population"),
    "NaN crossings": ("1,North,1000000,2,nan,0,0", "crossings"),
    "negative crossings": ("1,North,1000000,2,-1,0,0", "crossings"),
    "non-integer grid row": ("1,North,1000000,2,1,0.5,0", "grid_row"),
    "grid column of a million": ("1,North,1000000,2,1,0,1000000", "grid_col"),
    "non-integer id": ("1.5,North,1000000,2,1,0,0", "id"),
    "too many fields": ("1,North,1000000,2,1,0,0,extra", "more fields"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_region_tables_with_impossible_values(tmp_path, case):
    row, column = BAD_ROWS[case]
    path = tmp_path / "map.csv"
    path.write_text("\n".join([HEADER, row, GOOD_ROWS[1]]) + "\n", encoding="utf-8")
    args = ["run", "mexico-2006-2012", "--engine", "agents", "--scale", "0.01"]
    status, _, err = cli(*args, "--regions", path, "--out", tmp_path / "o")
    assert_clean(status, err, ok=False)
    assert err.startswith(f"cartelsim: map.csv: row 2: {column}"), err


def test_region_tables_that_are_not_text(tmp_path):
    cases = {"latin1.csv": f"{HEADER}\n1,Nuevo Le\xf3n,1000,,0,0,0\n".encode("latin-1")}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for spec in [tmp_path / "latin1.csv", "/dev/zero", tmp_path]:
        args = ["run", "mexico-2006-2012", "--engine", "agents", "--scale", "0.01"]
        status, _, err = cli(*args, "--regions", spec, "--out", tmp_path / "o")
        assert_clean(status, err, ok=False)


def test_region_table_saved_by_excel_with_a_bom(tmp_path):
    """Valid input: Excel's "CSV UTF-8" starts with a byte-order mark."""
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([HEADER, *GOOD_ROWS]).encode() + b"\n")
    args = ["run", "mexico-2006-2012", "--engine", "agents", "--scale", "0.01"]
    status, _, err = cli(*args, "--regions", path, "--out", tmp_path / "o")
    assert status == 0, err
