"""Reliability 2: a truncated or altered results.parquet or summary.json gives a one-line
error naming the file, never other numbers; nothing replaces a finished result without
--force."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cartelsim.cli import main
from cartelsim.ensemble import run_ensemble
from cartelsim.results import read_results, read_summary

#: Bit flips tried per test run (positions drawn with a fixed seed).
FLIPS = 300


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-run result of the Mexico scenario (no report: not under test)."""
    out = tmp_path_factory.mktemp("finished")
    run_ensemble("mexico-2006-2012", 2, out, 0)
    return out


def test_truncated_results_file_names_the_file(finished, tmp_path):
    """Every cut of results.parquet, from empty to one byte short, is a one-line error."""
    data = (finished / "results.parquet").read_bytes()
    damaged = tmp_path / "results.parquet"
    for size in [0, 1, 4, 100, len(data) // 2, len(data) - 8, len(data) - 1]:
        damaged.write_bytes(data[:size])
        with pytest.raises(ValueError) as info:
            read_results(damaged)
        message = str(info.value)
        assert message.startswith(f"{damaged}: not a readable results file (")
        assert "\n" not in message


def test_flipped_bits_in_results_are_an_error_or_change_nothing(finished, tmp_path):
    """A bit flipped anywhere gives a one-line error naming the file, or (in bytes the
    reader does not use) the same table: never different numbers."""
    data = (finished / "results.parquet").read_bytes()
    original = read_results(finished / "results.parquet")
    damaged = tmp_path / "results.parquet"
    rng = np.random.default_rng(2026)
    detected = 0
    for position, bit in zip(
        rng.integers(0, len(data), FLIPS), rng.integers(0, 8, FLIPS), strict=True
    ):
        flipped = bytearray(data)
        flipped[position] ^= 1 << bit
        damaged.write_bytes(bytes(flipped))
        try:
            table = read_results(damaged)
        except ValueError as exc:
            assert str(exc).startswith(f"{damaged}: not a readable results file")
            assert "\n" not in str(exc)
            detected += 1
        else:
            assert table.equals(original), f"a flip at byte {position} changed the numbers"
    # The undetected flips fall in bytes the reader does not use (mostly the provenance
    # text in the footer): about three in four flips are detected, and none changes a number.
    assert detected > FLIPS // 2


def test_damaged_summary_names_the_file(finished, tmp_path, capsys):
    """A cut, non-UTF-8, wrong-shape or incomplete summary.json: one line naming the file,
    from read_summary and from `run --from`."""
    text = (finished / "summary.json").read_text(encoding="utf-8")
    summary = json.loads(text)
    cases = {
        "empty": b"",
        "cut": text[: len(text) // 2].encode(),
        "cut_at_end": text[:-2].encode(),
        "latin1": text.replace('"scenario"', '"escenário"', 1).encode("latin-1"),
        "array": b"[1, 2]",
        "no_provenance": json.dumps({k: v for k, v in summary.items() if k != "provenance"})
        .encode(),
    }  # fmt: skip
    for name, content in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(content)
        with pytest.raises(ValueError) as info:
            read_summary(path)
        assert str(info.value).startswith(f"{path}: "), name
        assert main(["run", "--from", str(path), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"cartelsim: {path}: ") and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_finished_result_is_never_replaced_without_force(finished, capsys):
    """run, run --resume, and run --from into a finished folder all stop and change nothing."""
    before = {p.name: p.read_bytes() for p in finished.iterdir()}
    out = str(finished)
    attempts = [
        ["run", "mexico-2006-2012", "--out", out],
        ["run", "mexico-2006-2012", "--out", out, "--resume"],
        ["run", "--from", str(finished / "summary.json"), "--out", out],
    ]
    for args in attempts:
        assert main(args) == 2
        assert "a finished result is already there; use --force" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in finished.iterdir()} == before
