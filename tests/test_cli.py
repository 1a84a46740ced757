"""The command line: JSON summaries as specified, one-line errors, no silent overwrites."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cartelsim.cli import main

SUMMARY_KEYS = {"scenario", "engine", "runs", "seed", "start", "end", "final", "yearly"}
FINAL_KEYS = {
    "members_total",
    "members_by_group",
    "deaths_per_week",
    "recruits_per_week",
    "incapacitated_per_week",
}
YEARLY_KEYS = {
    "year",
    "members_total",
    "conflict_deaths",
    "member_deaths_by_rivals",
    "member_deaths_by_state",
    "state_forces_killed",
    "civilians_killed",
    "oc_killings",
    "recruits",
    "arrests",
    "homicides",
}


def _json_run(capsys, *args) -> dict:
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_run_pc2023_json(capsys, tmp_path, pc2023_dir):
    """`run pc2023 --json` prints exactly the summary, with the PC2023 short names as keys."""
    summary = _json_run(capsys, "pc2023", "--data-dir", pc2023_dir, "--out", str(tmp_path / "o"))
    assert set(summary) >= SUMMARY_KEYS and summary["engine"] == "aggregate"
    assert set(summary["final"]) == FINAL_KEYS
    assert {"CJNG", "Sinaloa"} <= set(summary["final"]["members_by_group"])
    assert len(summary["final"]["members_by_group"]) == 150
    assert all(set(row) >= YEARLY_KEYS for row in summary["yearly"])
    assert "homicides_and_missing" in summary["yearly"][0]
    for name in ("results.parquet", "summary.json", "report.html"):
        assert (tmp_path / "o" / name).is_file()


def test_run_with_several_runs_adds_quantiles(capsys, tmp_path):
    """runs > 1 adds final_q05 and final_q95 with the same keys."""
    out = str(tmp_path / "o")
    scenario = tmp_path / "stoch.toml"
    text = 'extends = "mexico-2006-2012"\nname = "stoch"\n[simulation]\nmode = "stochastic"\n'
    scenario.write_text(text, encoding="utf-8")
    summary = _json_run(capsys, str(scenario), "--runs", "4", "--seed", "3", "--out", out)
    assert summary["runs"] == 4 and summary["seed"] == 3
    assert set(summary["final_q05"]) == set(summary["final"]) == set(summary["final_q95"])
    assert summary["final_q05"]["members_total"] <= summary["final_q95"]["members_total"]
    assert "oc_killings" in summary["yearly"][1]


def test_existing_results_are_not_overwritten_without_force(capsys, tmp_path):
    """A second run into the same folder stops unless --force is given."""
    out = str(tmp_path / "o")
    assert main(["run", "mexico-2006-2012", "--out", out]) == 0
    before = (tmp_path / "o" / "results.parquet").read_bytes()
    assert main(["run", "mexico-2006-2012", "--out", out, "--seed", "9"]) == 2
    assert "use --force" in capsys.readouterr().err
    assert (tmp_path / "o" / "results.parquet").read_bytes() == before
    assert main(["run", "mexico-2006-2012", "--out", out, "--force"]) == 0


def test_bad_scenario_gives_one_line_and_exit_2(capsys, tmp_path):
    """A broken scenario file ends with one line on stderr, no traceback."""
    bad = tmp_path / "halve.toml"
    bad.write_text(
        'extends = "pc2023"\nname = "h"\n[parameters]\nrecruitment_rate = -0.1\n', encoding="utf-8"
    )
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "cartelsim: halve.toml: parameters.recruitment_rate.value: must be >= 0 (got -0.1)"
    )
    assert not (tmp_path / "o").exists()


def test_scenarios_lists_builtins(capsys):
    """`scenarios` prints one line per built-in scenario with its description."""
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert {
        "pc2023",
        "pc2023-halve-recruitment",
        "pc2023-double-incapacitation",
        "mexico-2006-2012",
    } <= set(names)
    assert all(len(line.split(None, 1)) == 2 for line in lines)


@pytest.mark.parametrize(
    "args", [["run", "mexico-2006-2012", "--runs", "0"], ["run", "x", "--seed", "-1"]]
)
def test_bad_arguments_exit_2(args):
    """Invalid numbers are refused by the argument parser."""
    result = subprocess.run(
        [sys.executable, "-m", "cartelsim", *args], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "must be" in result.stderr


def test_version_and_help_with_examples(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("cartelsim 0.")
    for command in ("run", "compare", "calibrate", "sensitivity", "serve", "fit", "scenarios"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "examples:" in text and f"cartelsim {command}" in text, command


def test_identical_runs_are_refused_and_stochastic_runs_differ(capsys, tmp_path):
    """--runs N on a deterministic scenario would give N identical runs: refused, saying what
    to do; --mode stochastic gives runs that differ."""
    assert main(["run", "mexico-2006-2012", "--runs", "3", "--out", str(tmp_path / "d")]) == 2
    assert "add --mode stochastic" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
    args = ["run", "mexico-2006-2012", "--runs", "3", "--mode", "stochastic", "--json"]
    summary = _json_run(capsys, *args[1:-1], "--out", str(tmp_path / "s"))
    assert summary["final_q05"]["members_total"] < summary["final_q95"]["members_total"]
    assert summary["provenance"]["scenario"]["simulation"]["mode"] == "stochastic"


def test_compare_names_what_its_intervals_span_and_lists_policies(capsys, tmp_path):
    base = ["compare", "mexico-2006-2012", "--json"]
    assert main([*base, "--policy", "halve-recruitmnt", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'halve-recruitment'" in err and "troop-surge" in err
    five = [*base, "--policy", "troop-surge", "--runs", "5", "--out", str(tmp_path / "b")]
    assert main(five) == 2
    assert "add --mode stochastic or --posterior" in capsys.readouterr().err
    one = [*base, "--policy", "troop-surge", "--out", str(tmp_path / "c"), "--from", "2008-01-01"]
    assert main(one) == 0
    out = capsys.readouterr()
    assert "is now --start" in out.err
    assert json.loads(out.out)["interval"].startswith("nothing: one deterministic run")
    noisy = [*base, "--policy", "troop-surge", "--mode", "stochastic", "--runs", "8"]
    assert main([*noisy, "--start", "2008-01-01", "--out", str(tmp_path / "d")]) == 0
    assert json.loads(capsys.readouterr().out)["interval"] == (
        "8 stochastic runs at the scenario's parameter values"
    )


def test_default_folders_never_collide(capsys, tmp_path, monkeypatch):
    """Without --out, a second run of a scenario (and each engine) gets its own folder and
    says where, so the README's commands can follow `make demo` as written."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "mexico-2006-2012"]) == 0
    capsys.readouterr()
    assert main(["run", "mexico-2006-2012", "--json"]) == 0
    err = capsys.readouterr().err
    assert "holds a finished result; writing to results/mexico-2006-2012-2" in err
    agents = ["run", "mexico-2006-2012", "--engine", "agents", "--scale", "0.02"]
    assert main(agents) == 0
    assert (tmp_path / "results" / "mexico-2006-2012-agents" / "summary.json").exists()
    assert main(["run", "mexico-2006-2012", "--force"]) == 0  # --force: the first folder again
    assert not (tmp_path / "results" / "mexico-2006-2012-3").exists()
