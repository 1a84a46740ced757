"""Hostile input, numbers: every number a scenario, a CSV series, a command-line option or a
summary given to --from can hold is checked where it enters (finite, within physical bounds,
dates inside the scenario), and a refusal names the file (or the option) and the field.
Families 6 and 7 of issue 15.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_hostile_helpers import HOSTILE, assert_clean, cli, no_report, tiny_document

from cartelsim import observe
from cartelsim.cli import _parser
from cartelsim.invariants import InvariantError
from cartelsim.runner import run
from cartelsim.scenario import (
    BOUNDS,
    LAST_DATE,
    MAX_COUNT,
    MAX_FORCES,
    ScenarioError,
    bounds_of,
    validate,
)


def rich_document() -> dict:
    """Every kind of number a scenario holds: rates, counts, weights, dated events of each
    type, deployments, a policy, observed series, and a calibration with priors and targets."""
    return tiny_document(
        simulation={"start": "2010-01-01", "weeks": 104},
        parameters={
            "recruitment_rate": 0.003,
            "incapacitation_form": "per_member",
            "incapacitation": 0.001,
            "conflict_lethality": 2e-8,
            "saturation": 1e-8,
            "state_arrest_rate": 1e-4,
            "state_kill_rate": {"value": 5e-5, "source": "test"},
        },
        groups=[
            {"name": "Alpha", "short": "A", "initial_members": 10000},
            {"name": "Beta", "short": "B", "initial_members": 8000, "recruitment_multiplier": 1.2},
            {"name": "Gamma", "short": "C", "initial_members": 0},
            {"name": "Delta", "short": "D", "initial_members": 0},
        ],
        network={
            "rivalries": [{"groups": ["A", "B"], "weight": 5}],
            "alliances": [{"groups": ["A", "C"], "weight": 1}],
        },
        deployments=[{"date": "2010-03-01", "troops": 20000, "federal_police": 5000}],
        events=[
            {
                "date": "2010-06-01",
                "type": "split",
                "group": "A",
                "new_group": "C",
                "fraction": 0.3,
                "rivalry_weight": 2,
            },
            {"date": "2010-07-01", "type": "new_group", "group": "D", "members": 500},
            {
                "date": "2010-09-01",
                "type": "leader_removed",
                "group": "B",
                "violence_boost": 0.365,
                "duration_weeks": 26,
            },
            {"date": "2011-01-01", "type": "truce", "groups": ["A", "B"], "end": "2011-06-01"},
            {"date": "2011-03-01", "type": "alliance", "groups": ["A", "C"], "weight": 2},
        ],  # fmt: skip
        policies=[{"parameter": "recruitment_rate", "date": "2011-01-01", "multiply": 0.5}],
        observation={
            "cartel_share": 0.2,
            "other_homicides_per_year": 8500,
            "series": [
                {
                    "name": "k",
                    "variable": "killings",
                    "data": "mexico:oc_killings",
                    "relative_error": 0.1,
                },
            ],
        },  # fmt: skip
        calibration={
            "free": {
                "recruitment_rate": {"distribution": "log_uniform", "low": 1e-3, "high": 1e-2},
                "cartel_share": {"distribution": "uniform", "low": 0.05, "high": 0.25},
                "saturation": {
                    "distribution": "normal",
                    "mean": 1e-8,
                    "sd": 1e-9,
                    "low": 0,
                    "high": 1e-6,
                },  # fmt: skip
            },
            "targets": [
                {
                    "name": "k",
                    "data": "mexico:oc_killings",
                    "variable": "killings",
                    "relative_error": 0.2,
                    "first_year": 2010,
                    "last_year": 2011,
                },
            ],
            "particles": 50,
            "populations": 2,
            "min_epsilon": 0.5,
        },  # fmt: skip
    )


def test_the_rich_document_is_valid_and_runs():
    """The mutations start from a valid scenario (else every case would be refused)."""
    scenario = validate(rich_document(), "gen.toml")
    _physical(scenario)
    assert run(scenario, runs=1).runs == 1


def number_paths(node, prefix=()) -> list[tuple]:
    """Every path to a number or a date in a document."""
    paths = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, dict | list):
            paths += number_paths(value, (*prefix, key))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            paths.append((*prefix, key))
        elif isinstance(value, str) and value[:2] in ("19", "20"):
            paths.append((*prefix, key))  # a date
    return paths


HOSTILE_NUMBERS = [
    math.nan, math.inf, -math.inf, -1, -1e-9, 0, -0.0, 5e-324, 1e-300, 1.7e308, 1e308,
    10**20, 2**63, 10**400, 1e12, 1e9 + 1, 101, 11, 1.0000001, True,
]  # fmt: skip
HOSTILE_DATES = [
    "0001-01-01", "9999-12-31", "1899-12-31", "2301-01-01", "2009-12-31", "2012-01-10",
    "2030-01-01", "2010-02-30", "2010-13-01",
]  # fmt: skip
PATHS = number_paths(rich_document())


def _physical(scenario) -> None:
    """What an accepted scenario must satisfy (checked apart from the schema's code)."""
    start, end = scenario.simulation.start, scenario.simulation.end()
    assert dt.date(1900, 1, 1) <= start and end <= LAST_DATE
    form = scenario.parameters.incapacitation_form
    for name in BOUNDS:
        holder = scenario.observation if hasattr(scenario.observation, name) else None
        param = getattr(holder or scenario.parameters, name, None)
        if param is not None:
            low, high = bounds_of(name, form)
            assert math.isfinite(param.value) and low <= param.value <= high, name
    for group in scenario.groups:
        assert 0 <= group.initial_members <= MAX_COUNT
    for item in scenario.deployments:
        assert item.troops + item.federal_police <= 2 * MAX_FORCES and item.date < end
    for item in [*scenario.events, *scenario.policies]:
        assert start <= item.date < end
    for series in scenario.observation.series:
        assert math.isfinite(series.relative_error) and 0 < series.relative_error <= 100


@settings(HOSTILE, max_examples=150)
@given(
    path=st.sampled_from(PATHS),
    value=st.one_of(st.sampled_from(HOSTILE_NUMBERS), st.sampled_from(HOSTILE_DATES)),
)
def test_every_number_is_checked_at_the_schema(path, value):
    """Any number (or date) of a rich scenario set to a hostile value: refused with lines
    `gen.toml: FIELD: reason`, or accepted only within the physical bounds, and then it runs
    or stops with one line."""
    document = copy.deepcopy(rich_document())
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    try:
        scenario = validate(document, "gen.toml")
    except ScenarioError as exc:
        event("refused")
        for line in str(exc).splitlines():
            assert line.startswith("gen.toml: "), line
            field, sep, reason = line.removeprefix("gen.toml: ").partition(": ")
            assert sep and reason and " " not in field, line
        return
    event("accepted")
    _physical(scenario)
    try:
        run(scenario, runs=1)
    except (ScenarioError, InvariantError) as exc:
        assert str(exc).count("\n") == 0


#: The issue's examples, each with the field its refusal must name.
NAMED = {
    "cartel_share = 5e-324": (("observation", "cartel_share"), 5e-324, "observation.cartel_share"),
    "other homicides 1.7e308": (
        ("observation", "other_homicides_per_year"),
        1.7e308,
        "observation.other_homicides",
    ),
    "series error inf": (
        ("observation", "series", 0, "relative_error"),
        math.inf,
        "observation.series[0].relative",
    ),
    "target error inf": (
        ("calibration", "targets", 0, "relative_error"),
        math.inf,
        "calibration.targets[0].relative",
    ),
    "start in year 9999": (("simulation", "start"), "9999-01-01", "simulation.start"),
    "start in year 1": (("simulation", "start"), "0001-01-01", "simulation.start"),
    "event before the start": (("events", 0, "date"), "2009-06-01", "events[0].date"),
    "event after the end": (("events", 4, "date"), "2012-06-01", "events[4].date"),
    "policy after the end": (("policies", 0, "date"), "2013-01-01", "policies[0].date"),
    "deployment after the end": (("deployments", 0, "date"), "2014-01-01", "deployments[0].date"),
    "prior up to 1e300": (
        ("calibration", "free", "recruitment_rate", "high"),
        1e300,
        "calibration.free.recruitment",
    ),
    "normal prior without low": (
        ("calibration", "free", "saturation", "low"),
        None,
        "calibration.free.saturation.low",
    ),
    "series mexico:no_such_series": (
        ("observation", "series", 0, "data"),
        "mexico:no_such_series",
        "observation.series[0].data",
    ),
    "target claim:nope": (
        ("calibration", "targets", 0, "data"),
        "claim:nope",
        "calibration.targets[0].data",
    ),
    "data with no source": (
        ("observation", "series", 0, "data"),
        "oc_killings",
        "observation.series[0].data",
    ),
    "target year 99999": (
        ("calibration", "targets", 0, "first_year"),
        99999,
        "calibration.targets[0].first_year",
    ),
    "boost inf": (("events", 2, "violence_boost"), math.inf, "events[2].violence_boost"),
    "policy sets 1e12 troops": (("policies", 0), "set-forces", "policies[0]"),
}


@pytest.mark.parametrize("case", NAMED)
def test_the_issues_examples_name_their_field(case):
    path, value, field = NAMED[case]
    document = copy.deepcopy(rich_document())
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if value == "set-forces":
        parent[path[-1]] = {"parameter": "state_forces", "date": "2011-01-01", "set": 1e12}
    elif value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    with pytest.raises(ScenarioError) as info:
        validate(document, "gen.toml")
    assert f"gen.toml: {field}" in str(info.value), str(info.value)


def test_events_before_the_start_are_history_with_start_from():
    """With start_from, events before the start are how the start state came to be."""
    document = rich_document()
    document["simulation"]["start_from"] = "mexico-2006-2012"
    document["events"][0]["date"] = "2009-06-01"
    assert validate(document, "gen.toml").events[0].date == dt.date(2009, 6, 1)


# --- CSV series ------------------------------------------------------------------------------

CSV_YEARS = ["2008", "99999", "-1", "1899", "x", "2008.5", "", "1e3", " 2009 "]
CSV_VALUES = ["100", "nan", "inf", "-1", "1e400", "abc", "", "1e11", "-0", "0x10"]
CSV_MONTHS = ["1-12", "13-14", "0-5", "5-3", "x", "1-", "12", "", "1-12-3", "-5"]


@settings(HOSTILE, max_examples=80)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(CSV_YEARS), st.sampled_from(CSV_VALUES), st.sampled_from(CSV_MONTHS)
        ),
        min_size=0,
        max_size=4,
    ),
    header=st.sampled_from(["year,value,months", "year,value", "value,year,months", "yr,val"]),
)
def test_csv_series_values_are_checked_with_their_line(tmp_path_factory, rows, header):
    """A series CSV with hostile years, values and months: read with every value in range,
    or refused naming the file, the line and the column."""
    path = tmp_path_factory.mktemp("csv") / "series.csv"
    columns = header.split(",")
    lines = [header]
    for year, value, months in rows:
        cells = {"year": year, "value": value, "months": months, "yr": year, "val": value}
        lines.append(",".join(cells[c] for c in columns))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        series = observe.load_series(f"csv:{path}")
    except ValueError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        if ": line " in message:
            assert any(f": {c}: " in message for c in ("year", "value", "months")), message
        return
    for year, value in series.values.items():
        assert 1900 <= year <= 2300 and math.isfinite(value) and value >= 0
        first, last = series.months[year]
        assert 1 <= first <= last <= 12


def test_csv_series_errors_name_the_scenario_field(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("year,value,months\n2008,5,13-14\n", encoding="utf-8")
    series = [{"name": "s", "variable": "killings", "data": f"csv:{path}"}]
    scenario = validate(
        tiny_document(observation={"cartel_share": 0.2, "series": series}), "t.toml"
    )
    with pytest.raises(ScenarioError) as info:
        run(scenario)
    assert str(info.value).startswith(f"tiny.toml: observation.series[0].data: {path}: line 2: ")


# --- command-line options ------------------------------------------------------------------

OPTION_TEXT = [
    "0", "-1", "1e9", "1.5", "nan", "inf", "-inf", "", " ", "0x10", "9" * 30, "10**9",
    "abc", "1_000", "+5", "-0", "99999", "65536", "1e-12", "5e-324", "٣", "2**70",
]  # fmt: skip
OPTIONS = {
    "run": ["--runs", "--seed", "--chunk", "--workers", "--scale"],
    "calibrate": ["--particles", "--populations", "--seed", "--workers"],
    "compare": ["--runs", "--seed"],
    "sensitivity": ["--samples", "--seed"],
    "serve": ["--port"],
}
BOUNDS_OF_OPTIONS = {
    "--runs": (1, 2**63), "--seed": (0, 2**63 - 1), "--chunk": (1, 2**63), "--workers": (1, 1024),
    "--scale": (1e-300, 1), "--particles": (2, 100_000), "--populations": (1, 100),
    "--samples": (8, 2**20), "--port": (1, 65535),
}  # fmt: skip


@settings(HOSTILE, max_examples=120)
@given(
    command=st.sampled_from(list(OPTIONS)),
    data=st.data(),
    text=st.one_of(st.sampled_from(OPTION_TEXT), st.text(max_size=6)),
)
def test_options_are_parsed_into_their_bounds_or_refused(command, data, text):
    """Any text for a numeric option: argparse refuses it (exit 2, its usage line), or the
    value is finite and inside the option's bounds."""
    option = data.draw(st.sampled_from(OPTIONS[command]))
    positional = [] if command == "serve" else ["x"]
    extra = ["--out", "o"] if command == "calibrate" else []
    extra += ["--policy", "p"] if command == "compare" else []
    try:
        args = _parser().parse_args([command, *positional, *extra, f"{option}={text}"])
    except SystemExit as exc:
        assert exc.code == 2
        return
    value = getattr(args, option[2:].replace("-", "_"))
    low, high = BOUNDS_OF_OPTIONS[option]
    assert math.isfinite(value) and low <= value <= high, (option, text, value)
    if option == "--samples":
        assert value & (value - 1) == 0


FIXES = [
    "cartel_share=-1", "cartel_share=0", "cartel_share=nan", "cartel_share=inf", "cartel_share=",
    "=0.1", "cartel_share", "recruitment_rate=1e308", "incapacitation=300",
    "initial_members_total=-5", "not_a_parameter=1", "cartel_share=0.1=2", "cartel_share=1e400",
]  # fmt: skip


@pytest.mark.parametrize("fix", FIXES)
def test_fix_values_are_checked(tmp_path, fix):
    status, _, err = cli("calibrate", "mexico-2006-2012", "--fix", fix, "--out", tmp_path / "o")
    assert_clean(status, err, ok=False)
    assert "--fix" in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "date", ["2006-11-30", "2013-01-05", "2030-01-01", "1900-01-01", "2010-02-30", "yesterday"]
)
def test_compare_dates_outside_the_scenario(tmp_path, date):
    args = ["compare", "mexico-2006-2012", "--policy", "halve-recruitment", "--start", date]
    status, _, err = cli(*args, "--out", tmp_path / "o")
    assert_clean(status, err, ok=False)
    assert "--start" in err
    assert not (tmp_path / "o").exists()


# --- summaries given to --from ---------------------------------------------------------------


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    out = tmp_path_factory.mktemp("from") / "o"
    with no_report():
        assert cli("run", "mexico-2006-2012", "--out", out)[0] == 0
    return json.loads((out / "summary.json").read_text())


SUMMARY_VALUES = [True, False, None, 0, -1, 1.5, "1", 2**70, 2**63, -(2**63), [], {}, "Agents"]
SUMMARY_VALUES += [1e308, math.nan]
SUMMARY_FIELDS = [
    ("runs",), ("seed",), ("provenance", "seed"), ("engine",), ("engine_options",),
    ("engine_options", "scale"), ("engine_options", "regions"), ("provenance",),
    ("provenance", "scenario"), ("provenance", "scenario_sha256"),
    ("provenance", "cartelsim_version"),
]  # fmt: skip


@settings(HOSTILE, max_examples=60)
@given(field=st.sampled_from(SUMMARY_FIELDS), value=st.sampled_from(SUMMARY_VALUES))
def test_from_takes_only_what_the_command_line_would(summary, tmp_path_factory, field, value):
    """A summary whose runs, seed, engine, options or provenance are what the command line
    would refuse (runs = true, a seed of 2**70): one line naming the summary file."""
    changed = copy.deepcopy(summary)
    parent = changed
    for key in field[:-1]:
        parent = parent.setdefault(key, {})
    parent[field[-1]] = value
    folder = tmp_path_factory.mktemp("from")
    path = folder / "summary.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    with no_report():
        status, _, err = cli("run", "--from", path, "--out", folder / "o")
    assert_clean(status, err, lines=10)  # one line per problem of the scenario it holds
    if status == 2:
        assert err.startswith(f"cartelsim: {path}: "), err
    else:
        event(f"accepted {field}={value!r}")


def test_from_asking_for_a_billion_runs(summary, tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({**summary, "runs": 10**9}), encoding="utf-8")
    status, _, err = cli("run", "--from", path, "--out", tmp_path / "o")
    assert_clean(status, err, ok=False)
    assert f"{path}: runs 1,000,000,000: too large for this machine" in err
    assert not (tmp_path / "o").exists()
