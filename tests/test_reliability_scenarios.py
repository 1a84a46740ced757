"""Reliability 1: generated scenario input, valid and broken, either loads (and then runs or
stops with an explanation) or fails with one line per problem naming the file, the field and
the reason. Never a traceback, never a hang.

Hypothesis generates the cases: documents mutated field by field (wrong types, negative and
huge numbers, unknown groups, dates out of order, missing and unknown keys), TOML files with
odd literals, damaged copies of the built-in files, random bytes, and chains of `extends`
with and without cycles. Examples are derandomized so CI sees the same cases every time.
"""

from __future__ import annotations

import copy
import datetime as dt
import tempfile
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cartelsim.cli import main
from cartelsim.invariants import InvariantError
from cartelsim.runner import run
from cartelsim.scenario import ScenarioError, load_scenario, validate

SETTINGS = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=20_000,  # a hang shows up as a deadline error (generous: CI machines are slow)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_one_line_per_problem(message: str, label: str) -> None:
    """Each line: `label: field: reason`, the field one token (or a parenthesized tag)."""
    lines = message.splitlines()
    assert lines, "an empty error message"
    for line in lines:
        assert line.startswith(f"{label}: "), line
        field, sep, reason = line[len(label) + 2 :].partition(": ")
        assert sep and reason.strip(), line
        assert field.startswith("(") or " " not in field, line
        assert len(line) < 400, f"an error line of {len(line)} characters"


def rich_document() -> dict:
    """Three groups (one created by a split), deployments, each kind of dated change and a
    policy: a valid document that the mutations start from."""
    doc = {
        "name": "small",
        "description": "two rival groups, then a splinter",
        "simulation": {"start": "2010-01-01", "weeks": 104},
        "parameters": {
            "recruitment_rate": 0.003,
            "incapacitation_form": "per_member",
            "incapacitation": 0.001,
            "conflict_lethality": 2e-8,
            "saturation": 1e-8,
            "state_arrest_rate": 1e-4,
            "state_kill_rate": {"value": 5e-5, "source": "test"},
        },
        "groups": [
            {"name": "Alpha", "short": "A", "initial_members": 10000},
            {"name": "Beta", "short": "B", "initial_members": 8000},
            {"name": "Gamma", "short": "C", "initial_members": 0},
        ],
        "network": {"rivalries": [{"groups": ["A", "B"], "weight": 5}]},
        "observation": {"cartel_share": 0.2},
    }
    doc["deployments"] = [
        {"date": "2010-03-01", "troops": 20000},
        {"date": "2011-01-01", "troops": 30000, "federal_police": 5000},
    ]
    doc["events"] = [
        {"date": "2010-06-01", "type": "split", "group": "A", "new_group": "C", "fraction": 0.3},
        {"date": "2010-09-01", "type": "leader_removed", "group": "B"},
        {"date": "2011-01-01", "type": "truce", "groups": ["A", "B"], "end": "2011-06-01"},
        {"date": "2011-03-01", "type": "alliance", "groups": ["A", "C"], "weight": 2},
    ]
    doc["policies"] = [{"parameter": "recruitment_rate", "date": "2011-01-01", "multiply": 0.5}]
    return doc


def leaf_paths(node, prefix=()) -> list[tuple]:
    """Every path to a value or container inside a document."""
    paths = [prefix] if prefix else []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, dict | list):
            paths += leaf_paths(value, (*prefix, key))
        else:
            paths.append((*prefix, key))
    return paths


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-1, -0.1, 0, 1e-300, 1e300, 1e308, 10**20, 2**63, 5201, -5200]),
    st.text(max_size=12),
    st.sampled_from(["Z", "A", "B", "C", "", "split", "2010-02-30", "1899-01-01", "9999-12-31"]),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)).map(str),
    st.lists(st.sampled_from(["A", "B", "C", "Z", 1]), max_size=3),
    st.dictionaries(st.sampled_from(["value", "x", "type", "date"]), st.integers(), max_size=2),
)


@st.composite
def mutated_documents(draw) -> dict:
    """A valid document with 1-4 mutations: set, delete, add a key, negate, scale, swap
    events; in either mode and with each integrator."""
    doc = rich_document()
    doc["simulation"]["mode"] = draw(st.sampled_from(["deterministic", "stochastic"]))
    doc["simulation"]["integrator"] = draw(st.sampled_from(["rk4", "euler", "dopri5"]))
    for _ in range(draw(st.integers(1, 4))):
        paths = leaf_paths(doc)
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        actions = ["set", "set", "delete", "add_key", "negate", "swap", "scale", "scale"]
        action = draw(st.sampled_from(actions))
        if action == "set":
            parent[key] = draw(ANY_VALUE)
        elif action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif action == "delete":
            parent.pop(key)
        elif action == "add_key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "weeks", "Value", "type"]))] = draw(ANY_VALUE)
        elif action == "negate" and isinstance(parent[key], int | float):
            parent[key] = -parent[key] if parent[key] else -1
        elif action == "scale" and type(parent[key]) in (int, float) and abs(parent[key]) < 1e300:
            parent[key] = parent[key] * draw(st.sampled_from([1e-6, 10, 1e3, 1e6, 1e12, 1e300]))
        elif action == "swap" and isinstance(doc.get("events"), list) and len(doc["events"]) > 1:
            events = doc["events"]
            i, j = draw(st.integers(0, len(events) - 1)), draw(st.integers(0, len(events) - 1))
            events[i], events[j] = events[j], events[i]
    return doc


@pytest.fixture(scope="module")
def compiled_engine():
    """Compile the Numba kernels first: compiling takes seconds, and must not count against
    the per-example deadline that catches hangs."""
    for mode in ("deterministic", "stochastic"):
        for integrator in ("rk4", "euler", "dopri5"):
            doc = rich_document()
            doc["simulation"].update(mode=mode, integrator=integrator)
            run(validate(doc, "warm.toml"), runs=1)


@SETTINGS
@given(doc=mutated_documents())
def test_generated_documents_load_run_or_explain(compiled_engine, doc):
    """A document either validates and runs (or stops with a one-line explanation), or fails
    with one line per problem naming the file, field and reason."""
    try:
        scenario = validate(copy.deepcopy(doc), "gen.toml")
    except ScenarioError as exc:
        event("refused when loading")
        assert_one_line_per_problem(str(exc), "gen.toml")
        return
    try:
        run(scenario, runs=1, seed=0)
        event("loaded and ran")
    except (ScenarioError, InvariantError) as exc:
        event(f"loaded, then stopped by {type(exc).__name__}")
        assert_one_line_per_problem(str(exc), f"{scenario.name}.toml")


TEMPLATE = """name = "gen"
description = "generated"
[simulation]
start = {start}
weeks = {weeks}
mode = {mode}
[parameters]
recruitment_rate = {rate}
incapacitation_form = "per_member"
incapacitation = 0.001
conflict_lethality = 2e-8
saturation = {saturation}
[[groups]]
name = "Alpha"
short = "A"
initial_members = {members}
[[groups]]
name = "Beta"
short = {short}
initial_members = 8000
[[network.rivalries]]
groups = ["A", "B"]
weight = 5
[[events]]
date = {event_date}
type = "leader_removed"
group = {event_group}
[observation]
cartel_share = {share}
"""
LITERALS = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "1e400",
            "-1e400",
            "inf",
            "nan",
            "99999999999999999999",
            "0x10",
            '"text"',
            "true",
            "[]",
            "{}",
            "2010-01-01",
            "2010-13-45",
            "1979-05-27T07:32:00Z",
            '"B"',
            '"Z"',
            '"A"',
            "0.5",
            "1.5",
            "",
            "'''",
            '"\\u0000"',
            "[1, 2]",
            "{ value = -3 }",
        ]
    ),  # fmt: skip
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
SLOTS = ("start", "weeks", "mode", "rate", "saturation", "members", "short", "event_date")
SLOTS += ("event_group", "share")
DEFAULTS = {
    "start": "2010-01-01",
    "weeks": "104",
    "mode": '"deterministic"',
    "rate": "0.003",
    "saturation": "1e-8",
    "members": "10000",
    "short": '"B"',
    "event_date": "2010-06-01",
    "event_group": '"B"',
    "share": "0.2",
}


@st.composite
def toml_files(draw) -> bytes:
    """A TOML scenario with odd literals in some slots, or a damaged built-in file, or junk."""
    kind = draw(st.sampled_from(["template", "template", "truncated", "flipped", "junk"]))
    if kind == "template":
        values = dict(DEFAULTS)
        for slot in draw(st.lists(st.sampled_from(SLOTS), min_size=1, max_size=3)):
            values[slot] = draw(LITERALS)
        return TEMPLATE.format(**values).encode("utf-8")
    builtin = resources.files("cartelsim") / "data" / "scenarios" / "mexico-2006-2012.toml"
    data = builtin.read_bytes()
    if kind == "truncated":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "flipped":
        damaged = bytearray(data)
        for _ in range(draw(st.integers(1, 3))):
            position = draw(st.integers(0, len(data) - 1))
            damaged[position] = draw(st.integers(0, 255))
        return bytes(damaged)
    return draw(st.binary(max_size=200))


@SETTINGS
@given(content=toml_files())
def test_generated_files_load_or_fail_with_one_line(tmp_path, content):
    """Files load, or fail with lines naming the file; the command line says the same on
    stderr and exits with status 2."""
    path = tmp_path / "gen.toml"
    path.write_bytes(content)
    try:
        load_scenario(path)
        event("loaded")
    except ScenarioError as exc:
        event("refused")
        assert_one_line_per_problem(str(exc), "gen.toml")


def test_broken_files_on_the_command_line(tmp_path, capsys):
    """Empty, non-UTF-8, binary, truncated and out-of-range files: exit 2, one line each."""
    cases = {
        "empty.toml": b"",
        "latin1.toml": 'name = "Ju\xe1rez"\n'.encode("latin-1"),
        "binary.toml": bytes(range(256)),
        "truncated.toml": TEMPLATE.format(**DEFAULTS).encode()[:300],
        "huge.toml": TEMPLATE.format(**{**DEFAULTS, "rate": "1e400"}).encode(),
        "bigint.toml": TEMPLATE.format(**{**DEFAULTS, "weeks": "99999999999999999999"}).encode(),
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        assert main(["run", str(tmp_path / name), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert_one_line_per_problem(err.replace("cartelsim: ", ""), name)
        assert "Traceback" not in err


@settings(SETTINGS, max_examples=100)  # each example writes and loads up to 6 files
@given(
    links=st.lists(
        st.one_of(st.none(), st.integers(0, 5), st.just("mexico-2006-2012")), min_size=1, max_size=6
    )
)
def test_extends_graphs_load_or_name_the_cycle(links):
    """Files f0..fn each extending another file, a built-in or nothing: every file loads or
    fails with one line naming a file of its chain (the one whose `extends` closes a cycle
    or names a missing file, or the one being loaded when the merged scenario is incomplete)."""
    with tempfile.TemporaryDirectory() as folder:
        check_extends_graph(Path(folder), links)


def check_extends_graph(tmp_path: Path, links: list) -> None:
    for i, target in enumerate(links):
        line = ""
        if isinstance(target, int):
            line = f'extends = "f{target}.toml"\n'
        elif target is not None:
            line = f'extends = "{target}"\n'
        (tmp_path / f"f{i}.toml").write_text(f'{line}name = "f{i}"\n', encoding="utf-8")
    for i in range(len(links)):
        try:
            load_scenario(tmp_path / f"f{i}.toml")
        except ScenarioError as exc:
            named = str(exc).split(":")[0]
            assert named in {f"f{k}.toml" for k in range(len(links))}, str(exc)
            assert_one_line_per_problem(str(exc), named)


@pytest.mark.parametrize("depth", [30, 60])
def test_long_extends_chains(tmp_path, depth):
    """A chain of `extends` deeper than the limit is refused with one line, not a
    RecursionError; a chain of reasonable length loads."""
    (tmp_path / "f0.toml").write_text('extends = "mexico-2006-2012"\n', encoding="utf-8")
    for i in range(1, depth):
        (tmp_path / f"f{i}.toml").write_text(f'extends = "f{i - 1}.toml"\n', encoding="utf-8")
    last = tmp_path / f"f{depth - 1}.toml"
    if depth < 50:
        assert load_scenario(last).name == "mexico-2006-2012"
        return
    with pytest.raises(ScenarioError) as info:
        load_scenario(last)
    assert_one_line_per_problem(str(info.value), last.name)
    assert "extends: more than" in str(info.value)
