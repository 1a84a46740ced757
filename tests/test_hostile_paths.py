"""Hostile input, paths: nothing is written outside the output folder, no result is replaced
without --force, a result is written whole or not at all, and the edges of the file system
and the network (files that are not files, folders that cannot be written, a full disk,
addresses where nothing listens) are one-line errors. Families 1, 2 and 4 of issue 15.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from test_hostile_helpers import (
    HOSTILE,
    assert_clean,
    cli,
    file_size_limit,
    no_report,
    snapshot,
    tiny_document,
    write_scenario,
)

from cartelsim import outputs

# --- family 1: writes outside the output folder -------------------------------------------

HOSTILE_NAMES = [
    "../../escape",
    "../escape",
    "a/../../escape",
    "sub/name",
    "ABSOLUTE",  # replaced by an absolute path inside the test's sandbox
    ".",
    "..",
    "",
    " padded ",
    ".hidden",
    "nul\x00byte",
    "new\nline",
    "tab\there",
    "back\\slash",
    "\u202eright-to-left",
    "é" * 150,  # 300 bytes in UTF-8
    "x" * 300,
    "~",
    "~root",
    "-rf",
    "CON",
    "a:b",
    "normal-name",
    "Mexico 2006",
]
NAME_TEXT = st.text(
    alphabet=st.sampled_from(list("ab./\\~ -_:é\x00\n\t") + ["\u2028", "\ud7ff"]), max_size=12
)


@HOSTILE
@given(name=st.one_of(st.sampled_from(HOSTILE_NAMES), NAME_TEXT))
def test_scenario_names_never_write_outside_results(name):
    """`cartelsim run FILE` without --out: a name that is not a plain name is refused at
    load (naming the field `name`); a plain one writes only under ./results/NAME."""
    with tempfile.TemporaryDirectory() as folder:
        sandbox = Path(folder)
        cwd = sandbox / "work" / "here"
        cwd.mkdir(parents=True)
        if name == "ABSOLUTE":
            name = str(sandbox / "escaped")
        scenario = write_scenario(sandbox / "s.toml", tiny_document(name=name))
        before = snapshot(sandbox)
        old = os.getcwd()
        os.chdir(cwd)
        try:
            with no_report():
                status, _, err = cli("run", scenario)
        finally:
            os.chdir(old)
        assert_clean(status, err)
        created = set(snapshot(sandbox)) - set(before)
        event("refused" if status else "written under results/")
        if status == 2:
            assert err.startswith("cartelsim: s.toml: name: "), err
            assert not created, created
        else:
            assert outputs.name_problem(name) is None
            prefix = os.path.join("work", "here", "results")
            assert created and all(p.startswith(prefix) for p in created), created
            assert (cwd / "results" / name / "summary.json").is_file()


def test_default_folders_check_names_made_in_code():
    """A Scenario changed in code (model_copy skips validation) still cannot name a folder."""
    for name in ("../x", "/abs", "", ".git", "a\x00b"):
        with pytest.raises(outputs.OutputError, match="name"):
            outputs.default_folder(name, "compare-")
    assert outputs.default_folder("pc2023", "sobol-") == Path("results/sobol-pc2023")


# --- family 4: output folders at the edges of the file system --------------------------------

COMMANDS = {
    "run": ["run", "mexico-2006-2012"],
    "compare": ["compare", "mexico-2006-2012", "--policy", "halve-recruitment"],
    "sensitivity": ["sensitivity", "mexico-2006-2012", "--samples", "8"],
    "calibrate": ["calibrate", "mexico-2006-2012"],
}


def _edge_folders(tmp: Path) -> dict[str, Path]:
    (tmp / "file").write_text("not a folder", encoding="utf-8")
    (tmp / "dangling").symlink_to(tmp / "nowhere")
    (tmp / "link-to-file").symlink_to(tmp / "file")
    edges = {
        "a regular file": tmp / "file",
        "under a regular file": tmp / "file" / "sub" / "out",
        "a dangling link": tmp / "dangling",
        "a link to a file": tmp / "link-to-file",
        "a name too long": tmp / ("x" * 300),
        "an existing folder nobody may write": Path("/proc/self"),
        "a folder on a read-only file system": Path("/sys/cartelsim-test"),
    }
    if os.geteuid() != 0:  # as root, permissions do not stop a write
        locked = tmp / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        edges["a read-only folder"] = locked
    return edges


@pytest.mark.parametrize("command", COMMANDS)
def test_unusable_output_folders_are_one_line(tmp_path, command):
    """--out on a file, under a file, on a dangling link, too long a name, where nothing can
    be written: one line naming --out, before any work; nothing is created."""
    edges = _edge_folders(tmp_path)
    before = snapshot(tmp_path)
    for what, out in edges.items():
        status, _, err = cli(*COMMANDS[command], "--out", out)
        assert_clean(status, err, ok=False)
        assert f"--out {out}" in err, (what, err)
    assert snapshot(tmp_path) == before


def test_nul_in_output_path(tmp_path):
    status, _, err = cli("run", "mexico-2006-2012", "--out", f"{tmp_path}/a\x00b")
    assert_clean(status, err, ok=False)
    assert "not a valid path" in err


def test_something_named_parts_in_the_way(tmp_path):
    """A file, or a link to a folder elsewhere, named `parts` in the output folder: refused
    without --force (the elsewhere folder is never touched); with --force the run replaces
    it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep", encoding="utf-8")
    for kind in ("file", "link"):
        out = tmp_path / kind
        out.mkdir()
        if kind == "file":
            (out / "parts").write_text("x", encoding="utf-8")
        else:
            (out / "parts").symlink_to(elsewhere, target_is_directory=True)
        for extra in ([], ["--resume"]):
            status, _, err = cli("run", "mexico-2006-2012", "--out", out, *extra)
            assert_clean(status, err, ok=False)
            assert "parts: something that is not the parts folder" in err
        with no_report():
            status, _, err = cli("run", "mexico-2006-2012", "--out", out, "--force")
        assert_clean(status, err, ok=True)
        assert (out / "summary.json").is_file() and not (out / "parts").exists()
    assert (elsewhere / "keep.txt").read_text(encoding="utf-8") == "keep"


# --- family 2: results overwritten or lost without --force ---------------------------------


@pytest.fixture(scope="module")
def results_of_each_kind(tmp_path_factory):
    """A folder holding each command's result: a run, a comparison, Sobol indices, a
    calibration (its files, not a real history: what is checked is that none is replaced),
    and two damaged run folders (results.parquet without summary.json; a lone report)."""
    root = tmp_path_factory.mktemp("kinds")
    with no_report():
        assert cli("run", "mexico-2006-2012", "--out", root / "run")[0] == 0
        assert cli(*COMMANDS["compare"], "--out", root / "compare")[0] == 0
        assert cli(*COMMANDS["sensitivity"], "--out", root / "sensitivity")[0] == 0
    cal = root / "calibrate"
    cal.mkdir()
    for name in ("abc.db", "calibration.json", "posterior.parquet", "summary.json"):
        (cal / name).write_bytes(b"a calibration's " + name.encode())
    lone = root / "results-only"
    lone.mkdir()
    (lone / "results.parquet").write_bytes((root / "run" / "results.parquet").read_bytes())
    report = root / "report-only"
    report.mkdir()
    (report / "report.html").write_text("<html>an old report</html>", encoding="utf-8")
    return root


KINDS = ("run", "compare", "sensitivity", "calibrate", "results-only", "report-only")


@pytest.mark.parametrize("command", COMMANDS)
def test_no_command_replaces_a_result_without_force(results_of_each_kind, command):
    """Every command into every kind of result folder (but its own calibration history,
    which calibrate continues): refused, one line, before any work; every byte unchanged."""
    for kind in KINDS:
        folder = results_of_each_kind / kind
        before = snapshot(folder)
        for extra in ([], ["--resume"]) if command == "run" else ([],):
            status, _, err = cli(*COMMANDS[command], "--out", folder, *extra)
            assert_clean(status, err, ok=False)
            assert str(folder) in err, (kind, err)
            if command != "calibrate" or kind != "calibrate":
                assert "--force" in err, (kind, err)
        assert snapshot(folder) == before, (command, kind)


def test_force_replaces_another_commands_result_whole(results_of_each_kind, tmp_path):
    """With --force, `compare` into a run's folder leaves a comparison, not a mixture."""
    folder = tmp_path / "was-a-run"
    folder.mkdir()
    for name, data in snapshot(results_of_each_kind / "run").items():
        (folder / name).write_bytes(data)
    status, _, err = cli(*COMMANDS["compare"], "--out", folder, "--force")
    assert_clean(status, err, ok=True)
    assert sorted(os.listdir(folder)) == ["compare.json", "compare.png", "compare.txt"]


# --- family 4: writing a result on a full disk or past a file-size limit --------------------

RUN10 = ["run", "mexico-2006-2012", "--runs", "10", "--chunk", "1", "--mode", "stochastic"]


def test_file_size_limit_while_replacing_a_result_keeps_it_whole(tmp_path):
    """`run --force` over a finished result with a 60 kB file-size limit: each part (36 kB)
    is saved, results.parquet (97 kB) is not: one line, and every old file byte for byte
    (no parts/ left, so the folder still reads as finished)."""
    out = tmp_path / "o"
    with no_report():
        assert cli(*RUN10, "--out", out)[0] == 0
        before = snapshot(out)
        with file_size_limit(60_000):
            status, _, err = cli(*RUN10, "--out", out, "--force", "--seed", "3")
    assert_clean(status, err, ok=False)
    assert "File too large" in err and "unchanged" in err
    assert snapshot(out) == before
    with file_size_limit(20_000):  # now even the parts do not fit
        status, _, err = cli(*RUN10, "--out", out, "--force", "--seed", "3")
    assert_clean(status, err, ok=False)
    assert "cannot save a part" in err and "unchanged" in err
    assert snapshot(out) == before


def test_file_size_limit_on_a_new_result_writes_none_and_resumes(tmp_path):
    """A new run past the limit writes no result file, keeps its parts, and --resume
    without the limit completes it."""
    out = tmp_path / "o"
    with no_report():
        with file_size_limit(60_000):
            status, _, err = cli(*RUN10, "--out", out)
        assert_clean(status, err, ok=False)
        assert "no result was written" in err and "--resume" in err
        assert sorted(os.listdir(out)) == ["parts"]
        assert cli(*RUN10, "--out", out, "--resume")[0] == 0
    assert {"results.parquet", "summary.json"} <= set(os.listdir(out))


@pytest.mark.parametrize("command", ["compare", "sensitivity"])
def test_full_disk_while_replacing_keeps_the_old_files(tmp_path, monkeypatch, command):
    """A disk that fills up while the figure is written (ENOSPC on the PNG): the old result
    of `compare --force`/`sensitivity --force` is unchanged; no temporary folder is left."""
    out = tmp_path / "o"
    assert cli(*COMMANDS[command], "--out", out)[0] == 0
    before = snapshot(out)
    write_bytes = Path.write_bytes

    def full(self, data):
        if self.suffix == ".png":
            write_bytes(self, bytes(data)[:100])  # part of it, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    status, _, err = cli(*COMMANDS[command], "--out", out, "--force")
    monkeypatch.undo()
    assert_clean(status, err, ok=False)
    assert "No space left on device" in err and "unchanged" in err
    assert snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["o"]


# --- family 4: the network ---------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


SCHEDULERS = [
    "tcp://127.0.0.1:{closed}",
    "127.0.0.1:{closed}",
    "tcp://256.1.1.1:8786",
    "tcp://1.2.3.4.5:8786",
    "tcp://127.0.0.1:99999",
    "tcp://127.0.0.1:0",
    "tcp://127.0.0.1",
    "tcp://:8786",
    "http://127.0.0.1:8786",
    "nonsense",
    "",
]


@pytest.mark.parametrize("command", ["run", "calibrate"])
def test_schedulers_that_do_not_answer(tmp_path, command):
    """--scheduler at an address where nothing listens, or not an address: one line naming
    --scheduler, at once (no Dask retries), nothing written."""
    closed = _closed_port()
    for address in SCHEDULERS:
        address = address.format(closed=closed)
        status, _, err = cli(*COMMANDS[command], "--scheduler", address, "--out", tmp_path / "o")
        assert_clean(status, err, ok=False)
        assert "--scheduler" in err, (address, err)
    assert not (tmp_path / "o" / "summary.json").exists()


def test_serve_refuses_addresses_it_cannot_listen_on():
    """--port outside 1-65535 or not a number, --host not an address or not this machine's,
    a port in use: one line each, before the web framework is loaded."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        used = busy.getsockname()[1]
        cases = [
            ["--port", "99999"],
            ["--port", "-1"],
            ["--port", "0"],
            ["--port", "65536"],
            ["--port", "80.5"],
            ["--port", "http"],
            ["--host", "256.1.1.1"],
            ["--host", "1.2.3.4.5"],
            ["--host", "::zz"],
            ["--host", "192.0.2.1"],  # TEST-NET-1: not an address of this machine
            ["--host", "127.0.0.1", "--port", str(used)],
        ]
        for args in cases:
            status, _, err = cli("serve", *args)
            assert_clean(status, err, ok=False)
            assert "--port" in err or "--host" in err, (args, err)


# --- family 4: files that are not files, and inputs that never end ------------------------


def _odd_files(tmp: Path) -> dict[str, Path]:
    fifo = tmp / "fifo"
    os.mkfifo(fifo)
    huge = tmp / "huge"
    with open(huge, "wb") as f:  # sparse: no disk used
        f.truncate(300 * 2**20)
    (tmp / "folder").mkdir()
    (tmp / "latin1").write_bytes('{"scenario": "Ju\xe1rez"}'.encode("latin-1"))
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    return {
        "/dev/zero": Path("/dev/zero"),
        "/dev/null": Path("/dev/null"),
        "a FIFO nobody writes to": fifo,
        "a 300 MB file": huge,
        "a folder": tmp / "folder",
        "a missing file": tmp / "missing",
        "Latin-1 text": tmp / "latin1",
        "JSON nested 100,000 deep": tmp / "deep.json",
    }


def test_from_files_that_are_not_summaries(tmp_path):
    """`run --from` on a device, a FIFO, a huge file, a folder, a missing file, Latin-1
    bytes, JSON nested 100,000 deep: one line naming the file, at once."""
    for what, path in _odd_files(tmp_path).items():
        status, _, err = cli("run", "--from", path, "--out", tmp_path / "o")
        assert_clean(status, err, ok=False)
        assert f"cartelsim: {path}: " in err, (what, err)
    assert not (tmp_path / "o").exists()


def test_scenario_paths_that_are_not_files(tmp_path):
    for what, path in _odd_files(tmp_path).items():
        status, _, err = cli("run", path, "--out", tmp_path / "o")
        assert_clean(status, err, ok=False)
        assert "(file)" in err or "(syntax)" in err, (what, err)


NESTED = {
    "arrays": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "inline tables": "x = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n",
    "dotted keys": "x" + ".x" * 100_000 + " = 1\n",
    "table headers": "[" + ".".join(["t"] * 100_000) + "]\n",
    "arrays 900 deep": "name = " + "[" * 900 + "]" * 900 + "\n",
}


@pytest.mark.parametrize("kind", NESTED)
def test_toml_nested_very_deep(tmp_path, kind):
    path = tmp_path / "deep.toml"
    path.write_text(NESTED[kind], encoding="utf-8")
    status, _, err = cli("run", path, "--out", tmp_path / "o")
    assert_clean(status, err, ok=False, lines=20)
    assert err.startswith("cartelsim: deep.toml: "), err


def test_csv_series_that_are_not_files(tmp_path):
    """A scenario whose observed series is a device, a FIFO, a huge file or a folder: one
    line naming the scenario's field and the file, before any run."""
    for what, path in _odd_files(tmp_path).items():
        if what.startswith(("Latin", "JSON")):
            continue
        series = [{"name": "s", "variable": "killings", "data": f"csv:{path}"}]
        document = tiny_document(observation={"cartel_share": 0.2, "series": series})
        scenario = write_scenario(tmp_path / "s.toml", document)
        status, _, err = cli("run", scenario, "--out", tmp_path / "o")
        assert_clean(status, err, ok=False)
        assert "observation.series[0].data: " in err and str(path) in err, (what, err)
    assert not (tmp_path / "o").exists()


def test_start_from_its_own_file_or_a_cycle(tmp_path):
    """start_from pointing at its own file, a cycle of two or three files, a missing file,
    a chain of 60: one line naming simulation.start_from, not a RecursionError."""

    def write(name: str, base: str | None) -> Path:
        simulation = {"start": "2010-01-01", "weeks": 20}
        if base is not None:
            simulation["start_from"] = str(tmp_path / base)
        return write_scenario(tmp_path / name, tiny_document(name=name[:-5], simulation=simulation))

    cases = [write("self.toml", "self.toml")]
    write("a.toml", "b.toml")
    cases.append(write("b.toml", "a.toml"))
    write("c1.toml", "c2.toml")
    write("c2.toml", "c3.toml")
    cases.append(write("c3.toml", "c1.toml"))
    cases.append(write("orphan.toml", "missing.toml"))
    write("chain0.toml", None)
    for i in range(1, 61):
        write(f"chain{i}.toml", f"chain{i - 1}.toml")
    cases.append(tmp_path / "chain60.toml")
    for path in cases:
        for command in (["run"], ["compare", "--policy", "halve-recruitment"]):
            status, _, err = cli(command[0], path, *command[1:], "--out", tmp_path / "o")
            assert_clean(status, err, ok=False)
            assert "simulation.start_from: " in err, (path.name, err)


def test_bom_is_not_an_error(tmp_path):
    """A scenario or a summary saved by an editor that writes a UTF-8 byte-order mark."""
    scenario = tmp_path / "bom.toml"
    scenario.write_bytes(b"\xef\xbb\xbf" + b'extends = "mexico-2006-2012"\nname = "bom"\n')
    with no_report():
        status, _, err = cli("run", scenario, "--out", tmp_path / "o")
        assert_clean(status, err, ok=True)
        summary = tmp_path / "bom.json"
        summary.write_bytes(b"\xef\xbb\xbf" + (tmp_path / "o" / "summary.json").read_bytes())
        status, _, err = cli("run", "--from", summary, "--out", tmp_path / "again")
    assert_clean(status, err, ok=True)
    assert "is identical to it" in err
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["scenario"] == "bom"
