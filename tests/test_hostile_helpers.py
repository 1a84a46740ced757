"""Helpers of the hostile-input tests (tests/test_hostile_*.py); no tests of its own.

Every hostile case goes through `cli`, which calls the command line in this process and
returns its exit status and output, and `assert_clean`, which is the property all of them
share: exit status 0 or 2 (argparse's usage errors are 2 too), no traceback, no "internal
error", and every line of the error output a `cartelsim: ` line (or argparse's usage).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import resource
from pathlib import Path

from hypothesis import HealthCheck, settings

from cartelsim.cli import main

#: Hypothesis settings of the hostile tests: few, fixed examples (CI sees the same cases).
HOSTILE = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=30_000,  # a hang shows up as a deadline error
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def cli(*args: str) -> tuple[int, str, str]:
    """Run `cartelsim ARGS` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors
            status = exc.code if isinstance(exc.code, int) else 2
    return status, out.getvalue(), err.getvalue()


def assert_clean(status: int, err: str, *, ok: bool | None = None, lines: int = 1) -> None:
    """The shared property: 0 or 2, never a traceback or an internal error; a refusal is at
    most `lines` lines `cartelsim: ...` (or argparse's usage and error lines), besides
    `cartelsim: warning: ...` lines."""
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    assert status in (0, 2), (status, err)
    if ok is not None:
        assert (status == 0) == ok, (status, err)
    if status == 2 and "usage:" not in err:
        mine = [
            line
            for line in err.splitlines()
            if line.startswith("cartelsim: ") and not line.startswith("cartelsim: warning: ")
        ]
        others = [
            line
            for line in err.splitlines()
            if not line.startswith("cartelsim: ") and "%|" not in line and line.strip()
        ]
        assert mine and not others, err
        assert len(mine) <= lines, err
        assert all(len(line) < 600 for line in mine), err


def toml_value(value) -> str:
    """A value as TOML (inline tables and arrays; dates as strings, which the schema reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(type(value))


def to_toml(document: dict) -> str:
    """A scenario document as TOML text, one `key = value` line per top-level key."""
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in document.items())


def tiny_document(**changes) -> dict:
    """A fast scenario: two rival groups, 20 weeks, no report-heavy series."""
    document = {
        "name": "tiny",
        "description": "two rival groups",
        "simulation": {"start": "2010-01-01", "weeks": 20},
        "parameters": {
            "recruitment_rate": 0.003,
            "incapacitation_form": "per_member",
            "incapacitation": 0.001,
            "conflict_lethality": 2e-8,
            "saturation": 1e-8,
        },
        "groups": [
            {"name": "Alpha", "short": "A", "initial_members": 10000},
            {"name": "Beta", "short": "B", "initial_members": 8000},
        ],
        "network": {"rivalries": [{"groups": ["A", "B"], "weight": 5}]},
        "observation": {"cartel_share": 0.2},
    }
    document.update(copy.deepcopy(changes))
    return document


def write_scenario(path: Path, document: dict) -> Path:
    path.write_text(to_toml(document), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under `folder` by relative path: a file's bytes, a link's target, None
    for a folder, "special" for a FIFO or a device."""
    found: dict[str, object] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            key = os.path.relpath(path, folder)
            if os.path.islink(path):
                found[key] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[key] = None
            elif os.path.isfile(path):
                found[key] = Path(path).read_bytes()
            else:
                found[key] = "special"
    return found


@contextlib.contextmanager
def file_size_limit(limit: int):
    """RLIMIT_FSIZE in this process for the block: a write past `limit` bytes fails with
    EFBIG (Python ignores SIGXFSZ), as on a disk that is full for large files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


@contextlib.contextmanager
def no_report():
    """`cartelsim run` without its HTML report (seconds of figures per case): a stub that
    writes a small file where the report goes, so the paths are those of a real run."""
    from cartelsim.report import run_report

    original = run_report.write_report

    def stub(results, path):
        Path(path).write_text("report", encoding="utf-8")
        return Path(path)

    run_report.write_report = stub
    try:
        yield
    finally:
        run_report.write_report = original
