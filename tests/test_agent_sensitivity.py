"""Morris screening of the agent assumptions: every parameter and output in the table,
identical reruns, a parameter that drives an output ranked above one that cannot, and bad
options refused in one line before anything is written."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cartelsim.analysis import agent_sensitivity as morris
from cartelsim.cli import main
from cartelsim.scenario import load_scenario

#: A tiny screening: 2 trajectories of 4 parameters (10 runs), one year at scale 0.01.
#: leak_given_payroll sets the chance that an informed official leaks a raid, so it drives
#: the leaked raids; truce_break_rate only ends truces the groups decided, a few a year;
#: vetting_removal_rate acts only under anti-corruption vetting, which mexico-2006-2012
#: does not use (the lever is 0), so it cannot change anything.
PARAMETERS = ["leak_given_payroll", "raid_rate", "truce_break_rate", "vetting_removal_rate"]
TINY = ["--scale", "0.01", "--years", "1", "--trajectories", "2", "--seed", "3"]


def _cli(out, *extra) -> int:
    return main(
        ["sensitivity", "mexico-2006-2012", "--engine", "agents", *TINY,
         "--parameters", ",".join(PARAMETERS), "--out", str(out), *extra]
    )  # fmt: skip


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    """The tiny screening run twice through the command line, into folders a and b."""
    root = tmp_path_factory.mktemp("morris")
    for name in ("a", "b"):
        assert _cli(root / name) == 0
    return root


def test_table_has_every_parameter_and_output(screened):
    """morris.csv: one row per output and varied parameter, with the indices."""
    table = pd.read_csv(screened / "a" / "morris.csv")
    assert set(table["parameter"]) == set(PARAMETERS)
    assert set(table["output"]) == set(morris.OUTPUTS)
    assert len(table) == len(PARAMETERS) * len(morris.OUTPUTS)
    assert list(table.columns) == ["output", "parameter", *morris.INDICES]
    runs = pd.read_csv(screened / "a" / "morris_runs.csv")
    assert len(runs) == 2 * (len(PARAMETERS) + 1)
    saved = json.loads((screened / "a" / "sensitivity.json").read_text())
    assert saved["runs"] == 10 and saved["scale"] == 0.01 and saved["end"] < "2008-01-01"
    assert [r["parameter"] for r in saved["ranking"]] != [], "a ranking"


def test_same_seed_gives_identical_indices(screened):
    """Same seed, same table, same indices (the bootstrap of mu_star_conf included)."""
    first, again = (screened / "a", screened / "b")
    assert (first / "morris.csv").read_bytes() == (again / "morris.csv").read_bytes()
    assert (first / "morris_runs.csv").read_bytes() == (again / "morris_runs.csv").read_bytes()
    a, b = (json.loads((f / "sensitivity.json").read_text()) for f in (first, again))
    assert a["indices"] == b["indices"] and a["ranking"] == b["ranking"]


def test_common_random_numbers_make_an_inert_parameter_exactly_zero(screened):
    """vetting_removal_rate cannot act here: with every point of a trajectory sharing its
    random streams its steps change nothing, so its mu_star is exactly 0 on every output
    (with fresh draws per point it would be the noise), while the raid rate's is not."""
    table = pd.read_csv(screened / "a" / "morris.csv").set_index(["parameter", "output"])
    assert (table.loc["vetting_removal_rate", "mu_star"] == 0).all()
    assert (table.loc["raid_rate", "mu_star"] > 0).any()


def test_driver_ranks_above_a_parameter_that_cannot_act(screened):
    """On leaked raids, the leak chance and the raid rate have a larger normalised mu_star
    than the truce break rate, which changes how many raids leak only through the worlds'
    drifting apart."""
    table = pd.read_csv(screened / "a" / "morris.csv").set_index(["output", "parameter"])
    leaked = table.loc["raids_leaked", "mu_star_normalised"]
    assert leaked["leak_given_payroll"] > 10 * leaked["truce_break_rate"]
    assert leaked["raid_rate"] > 10 * leaked["truce_break_rate"]
    assert leaked["leak_given_payroll"] > 0.1


def test_probability_ranges_are_clipped_at_one():
    """raid_success (0.5) at --factor 4 ranges 0.125-1, not 0.125-2; a rate is not clipped."""
    ranges = morris.varied(load_scenario("mexico-2006-2012"), 4.0)
    assert ranges["raid_success"]["low"] == 0.125 and ranges["raid_success"]["high"] == 1.0
    assert ranges["raid_rate"]["high"] == pytest.approx(0.8)
    assert "capture_boost_days" not in ranges, "a sourced parameter is not varied"
    assert all(r["low"] < r["high"] for r in ranges.values())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--factor", "1"], "--factor: must be > 1"),
        (["--trajectories", "1"], "--trajectories: must be a whole number >= 2"),
        (["--levels", "3"], "--levels: must be an even whole number >= 2"),
        (["--scale", "0"], "--scale: must be in (0, 1]"),
        (["--years", "40"], "--years: must be between 1 and 6"),
        (["--parameters", "raid_rate,nonsense"], "--parameters: 'nonsense' is not"),
        (["--samples", "16"], "--samples: only with --engine aggregate"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, extra, message):
    """Each bad option: exit 2, one line naming it, no output folder."""
    args = ["sensitivity", "mexico-2006-2012", "--engine", "agents", *extra]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"cartelsim: {message}"), err
    assert not (tmp_path / "out").exists()


def test_agent_options_refused_with_the_aggregate_engine(tmp_path, capsys):
    """--scale belongs to --engine agents: one line with the aggregate engine."""
    assert main(["sensitivity", "pc2023", "--scale", "0.1", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == "cartelsim: --scale: only with --engine agents"
    assert not (tmp_path / "o").exists()


def test_existing_result_needs_force(screened, capsys):
    """A second screening into the same folder is refused without --force."""
    assert _cli(screened / "a") == 2
    assert "use --force" in capsys.readouterr().err
