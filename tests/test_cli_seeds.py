"""Explicit seed lists (`--seeds 1,5,9`): one stochastic run per listed seed, each the same
as the one run with that `--seed`; through the ensemble (chunks, resume, --from), both
engines and `compare`; bad lists are one line naming the option."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cartelsim import ensemble, rng
from cartelsim.cli import main

STOCHASTIC = ["run", "mexico-2006-2012", "--mode", "stochastic"]


def _table(folder) -> pd.DataFrame:
    table = pd.read_parquet(folder / "results.parquet")
    return table.assign(group=table["group"].astype(str), variable=table["variable"].astype(str))


def _run_rows(table: pd.DataFrame, run: int) -> pd.DataFrame:
    rows = table[table["run"] == run].drop(columns="run")
    return rows.sort_values(["date", "group", "variable"]).reset_index(drop=True)


def test_run_seeds_maps_each_listed_seed_to_its_single_run():
    """Run r of a seed list gets the stream of run 0 seeded seeds[r], in any chunk."""
    listed = rng.run_seeds((3, 11, 7), 3)
    assert list(listed) == [rng.run_seeds(s, 1)[0] for s in (3, 11, 7)]
    assert list(rng.run_seeds((3, 11, 7), 2, first_run=1)) == list(listed[1:])
    assert len(rng.run_seeds((3, 11), 0, first_run=2)) == 0  # deterministic: nothing drawn
    with pytest.raises(ValueError, match="2 listed"):
        rng.run_seeds((3, 11), 2, first_run=1)
    for bad in ((), (1, 1), (-1,), (2**63,), (True,), (1.5,)):
        with pytest.raises(ValueError, match="seeds"):
            rng.check_seeds(bad)


def test_a_seed_list_equals_the_single_runs(capsys, tmp_path):
    """--seeds 3,11 in chunks of one run: run 0 is `--seed 3`, run 1 is `--seed 11`, to the
    last bit; the summary and report record the list; --from reproduces the files."""
    listed = tmp_path / "listed"
    assert main([*STOCHASTIC, "--seeds", "3,11", "--chunk", "1", "--out", str(listed)]) == 0
    for seed in (3, 11):
        assert main([*STOCHASTIC, "--seed", str(seed), "--out", str(tmp_path / f"s{seed}")]) == 0
    table = _table(listed)
    assert sorted(table["run"].unique()) == [0, 1]
    for run, seed in enumerate((3, 11)):
        single = _table(tmp_path / f"s{seed}")
        pd.testing.assert_frame_equal(_run_rows(table, run), _run_rows(single, 0))
    assert not _run_rows(table, 0)["value"].equals(_run_rows(table, 1)["value"])
    summary = json.loads((listed / "summary.json").read_text(encoding="utf-8"))
    assert summary["seed"] == [3, 11] and summary["provenance"]["seed"] == [3, 11]
    assert summary["runs"] == 2
    report = (listed / "report.html").read_text(encoding="utf-8")
    assert "cartelsim run mexico-2006-2012 --seeds 3,11 --mode stochastic" in report
    assert "3, 11 (one run each)" in report
    capsys.readouterr()
    again = tmp_path / "again"
    assert main(["run", "--from", str(listed / "summary.json"), "--out", str(again)]) == 0
    assert "is identical to it" in capsys.readouterr().err
    for name in ("results.parquet", "summary.json"):
        assert (listed / name).read_bytes() == (again / name).read_bytes(), name


def test_an_interrupted_seed_list_resumes_only_with_the_same_list(capsys, tmp_path, monkeypatch):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    args = [*STOCHASTIC, "--seeds", "5,2,9", "--chunk", "1"]
    assert main([*args, "--out", str(whole)]) == 0
    save, count = ensemble._save_part, {"n": 0}

    def save_then_stop(path, *rest):
        save(path, *rest)
        count["n"] += 1
        if count["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(ensemble, "_save_part", save_then_stop)
    assert main([*args, "--out", str(cut)]) == 130
    monkeypatch.undo()
    capsys.readouterr()
    other = [*STOCHASTIC, "--seeds", "5,2,8", "--chunk", "1", "--out", str(cut), "--resume"]
    assert main(other) == 2
    assert "seed: the unfinished ensemble has [5, 2, 9]" in capsys.readouterr().err
    assert main([*args, "--out", str(cut), "--resume"]) == 0
    for name in ("results.parquet", "summary.json"):
        assert (whole / name).read_bytes() == (cut / name).read_bytes(), name


def test_agent_engine_seed_list_equals_its_single_runs(tmp_path):
    agents = ["run", "mexico-2006-2012", "--engine", "agents", "--scale", "0.02"]
    assert main([*agents, "--seeds", "4,9", "--out", str(tmp_path / "listed")]) == 0
    assert main([*agents, "--seed", "9", "--out", str(tmp_path / "nine")]) == 0
    listed, nine = _table(tmp_path / "listed"), _table(tmp_path / "nine")
    # Splinter groups are named after run 0's (the table's group names are run 0's), so the
    # rows are compared in the order written, without the group names.
    # A splinter slot that holds nobody in a run has rows only where another run of the
    # same ensemble filled it: those zeros are left out of the comparison.
    rows = [
        t[(t["run"] == r) & ~((t["variable"] == "members") & (t["value"] == 0))].drop(
            columns=["run", "group"]
        )
        for t, r in ((listed, 1), (nine, 0))
    ]
    pd.testing.assert_frame_equal(*(x.reset_index(drop=True) for x in rows))


def test_compare_takes_a_seed_list(capsys, tmp_path):
    """compare --seeds a,b: the paired changes of the two runs `--seed a` and `--seed b`."""
    base = ["compare", "mexico-2006-2012", "--policy", "troop-surge", "--mode", "stochastic"]
    base += ["--start", "2010-01-01", "--json"]
    values = []
    for seed in (3, 11):
        single = [*base, "--seed", str(seed), "--runs", "1"]
        assert main([*single, "--out", str(tmp_path / f"s{seed}")]) == 0
        change = json.loads(capsys.readouterr().out)["policies"]["troop-surge"]
        values.append(change["change_vs_base_pct"]["members_total"]["median"])
    assert main([*base, "--seeds", "3,11", "--out", str(tmp_path / "listed")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runs"] == 2 and result["interval"].startswith("2 stochastic runs")
    got = result["policies"]["troop-surge"]["change_vs_base_pct"]["members_total"]
    low, high = min(values), max(values)
    assert got["median"] == pytest.approx((low + high) / 2, rel=1e-12)
    assert got["q05"] == pytest.approx(low + 0.05 * (high - low), rel=1e-12)
    # a posterior chooses its draws with --seed; a deterministic list repeats one run
    assert main([*base[:-1], "--seeds", "1,2", "--posterior", str(tmp_path)]) == 2
    assert "not with --posterior" in capsys.readouterr().err
    deterministic = ["compare", "mexico-2006-2012", "--policy", "troop-surge", "--seeds", "1,2"]
    assert main([*deterministic, "--out", str(tmp_path / "d")]) == 2
    assert "add --mode stochastic" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,,x", "expected seeds separated by commas"),
        ("-1", "must be between 0 and 2**63-1 (got -1)"),
        ("1,5,1", "1 is listed twice"),
        ("", "expected seeds separated by commas"),
        ("x", "must be a whole number"),
        ("1;5", "must be a whole number"),
        (str(2**63), "must be between 0 and 2**63-1"),
        ("1.5", "must be a whole number"),
    ],
)
def test_bad_seed_lists_are_one_line_naming_the_option(capsys, tmp_path, value, expected):
    for command in (STOCHASTIC, ["compare", "mexico-2006-2012", "--policy", "troop-surge"]):
        assert main([*command, f"--seeds={value}", "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("cartelsim: --seeds "), err
        assert expected in err, err
        assert not (tmp_path / "x").exists()


def test_seed_lists_do_not_mix_with_seed_runs_or_from(capsys, tmp_path):
    out = ["--out", str(tmp_path / "x")]
    assert main([*STOCHASTIC, "--seeds", "1,2", "--seed", "1", *out]) == 2
    assert "--seeds: not with --seed" in capsys.readouterr().err
    assert main([*STOCHASTIC, "--seeds", "1,2", "--runs", "2", *out]) == 2
    assert "--seeds: not with --runs" in capsys.readouterr().err
    assert main(["run", "--from", str(tmp_path / "s.json"), "--seeds", "1", *out]) == 2
    assert "--from: takes the scenario" in capsys.readouterr().err


def test_seed_list_in_xarray_attributes(tmp_path):
    import cartelsim

    results = cartelsim.run("mexico-2006-2012", runs=2, seed=(3, 11))
    assert results.summary()["seed"] == [3, 11]
    assert np.array_equal(results.to_xarray().attrs["seed"], [3, 11])
