"""Hostile input, resume: `--resume` uses a saved part only if it is the part asked for (its
identity: scenario hash, seed, engine, run range), whole (the SHA-256 of its arrays), of this
ensemble's shapes and with values a simulation can have (finite, not negative). Anything
else is computed again, and the result is then the uninterrupted one. Family 3 of issue 15.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hostile_helpers import HOSTILE, assert_clean, cli, tiny_document

from cartelsim import ensemble, integrity
from cartelsim.results import read_results
from cartelsim.scenario import validate

RUNS, CHUNK, SEED = 6, 2, 4
CHUNKS = [(0, 2), (2, 4), (4, 6)]


def scenario():
    document = tiny_document(simulation={"start": "2010-01-01", "weeks": 20, "mode": "stochastic"})
    return validate(document, "tiny.toml")


def interrupted(out: Path, seed: int = SEED) -> None:
    """An ensemble stopped (as if killed) once all of its parts are saved."""
    save, count = ensemble._save_part, {"n": 0}

    def save_then_stop(path, *args):
        save(path, *args)
        count["n"] += 1
        if count["n"] == len(CHUNKS):
            raise KeyboardInterrupt

    ensemble._save_part = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            ensemble.run_ensemble(scenario(), RUNS, out, seed, chunk=CHUNK)
    finally:
        ensemble._save_part = save


@pytest.fixture(scope="module")
def ensembles(tmp_path_factory):
    """The uninterrupted result, an interrupted ensemble with all its parts, and one of
    another seed."""
    root = tmp_path_factory.mktemp("parts")
    ensemble.run_ensemble(scenario(), RUNS, root / "reference", SEED, chunk=CHUNK)
    interrupted(root / "cut")
    interrupted(root / "other-seed", seed=SEED + 1)
    return root


def part_path(folder: Path, k: int) -> Path:
    first, stop = CHUNKS[k]
    return folder / "parts" / f"runs-{first:06d}-{stop - 1:06d}.npz"


def read_part(path: Path) -> tuple[dict, dict]:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {k: data[k].copy() for k in data.files if k != "meta"}
    return meta, arrays


def write_part(path: Path, meta: dict, arrays: dict, *, redigest: bool) -> None:
    """Write a part as cartelsim does; `redigest`: with a checksum recomputed over the new
    arrays (an editor who knows the format), else with the old one."""
    if redigest:
        meta = {**meta, "sha256": integrity.digest_arrays(arrays, meta["identity"])}
    with open(path, "wb") as f:
        np.savez(f, meta=json.dumps(meta), **arrays)


def forged_header(path: Path) -> None:
    """Replace the members array's header so that it declares 10**12 elements."""
    with zipfile.ZipFile(path) as z:
        members = {info.filename: z.read(info) for info in z.infolist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    original = members["members.npy"]
    members["members.npy"] = header.getvalue() + original[len(header.getvalue()) :]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)


TAMPERS = (
    "nan",
    "nan, old checksum",
    "negative",
    "negative flows",
    "inf",
    "copy of another part",
    "another seed's part",
    "identity edited",
    "identity edited, checksum recomputed",
    "wrong shape",
    "no checksum",
    "bit flip",
    "truncated",
    "empty file",
    "not a zip",
    "forged header",
    "compressed",
    "deleted",
)


def tamper(kind: str, folder: Path, k: int, where: int, other_seed: Path) -> None:
    path = part_path(folder, k)
    meta, arrays = read_part(path)
    flat = arrays["members"].reshape(-1)
    spot = where % flat.size
    if kind in ("nan", "nan, old checksum"):
        flat[spot] = np.nan
        write_part(path, meta, arrays, redigest=kind == "nan")
    elif kind == "negative":
        flat[spot] = -5.0
        write_part(path, meta, arrays, redigest=True)
    elif kind == "negative flows":
        arrays["flows"].reshape(-1)[where % arrays["flows"].size] = -1.0
        write_part(path, meta, arrays, redigest=True)
    elif kind == "inf":
        flat[spot] = np.inf
        write_part(path, meta, arrays, redigest=True)
    elif kind == "copy of another part":
        shutil.copyfile(part_path(folder, (k + 1) % len(CHUNKS)), path)
    elif kind == "another seed's part":
        shutil.copyfile(part_path(other_seed, k), path)
    elif kind.startswith("identity edited"):
        meta["identity"] = {**meta["identity"], "seed": meta["identity"]["seed"] + 1}
        write_part(path, meta, arrays, redigest=kind.endswith("recomputed"))
    elif kind == "wrong shape":
        arrays["members"] = arrays["members"][:-1]
        write_part(path, meta, arrays, redigest=True)
    elif kind == "no checksum":
        meta.pop("sha256")
        write_part(path, meta, arrays, redigest=False)
    elif kind == "bit flip":
        data = bytearray(path.read_bytes())
        data[where % len(data)] ^= 1 << (where % 8)
        path.write_bytes(bytes(data))
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: where % len(data)])
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "not a zip":
        path.write_bytes(b"PK\x03\x04 but nothing else")
    elif kind == "forged header":
        forged_header(path)
    elif kind == "compressed":
        with zipfile.ZipFile(path) as z:
            members = {info.filename: z.read(info) for info in z.infolist()}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
                z.writestr(name, data)
    elif kind == "deleted":
        path.unlink()


@pytest.mark.parametrize("kind", TAMPERS)
@settings(HOSTILE, max_examples=3)
@given(k=st.integers(0, len(CHUNKS) - 1), where=st.integers(0, 10**6))
def test_resume_recomputes_every_part_it_cannot_trust(ensembles, kind, k, where):
    """A part damaged, edited, replaced by another or forged: recomputed (a bit flip in
    bytes the reader does not use may leave it intact); the others are kept; the result
    equals the uninterrupted one."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "o"
        shutil.copytree(ensembles / "cut", out)
        tamper(kind, out, k, where, ensembles / "other-seed")
        computed = []
        original = ensemble._simulate_chunk

        def counting(prepared, first, stop):
            computed.append((first, stop))
            return original(prepared, first, stop)

        ensemble._simulate_chunk = counting
        try:
            ensemble.run_ensemble(scenario(), RUNS, out, SEED, chunk=CHUNK, resume=True)
        finally:
            ensemble._simulate_chunk = original
        assert set(computed) <= {CHUNKS[k]}, computed
        if kind != "bit flip":
            assert computed == [CHUNKS[k]], (kind, computed)
        reference = read_results(ensembles / "reference" / "results.parquet")
        assert read_results(out / "results.parquet").equals(reference)
        assert not (out / "parts").exists()


def test_every_load_checks_the_part(ensembles, tmp_path):
    """`_load_part` itself (used for the final assembly too) refuses a part with NaN, with
    a recomputed checksum: the range check does not depend on the checksum."""
    out = tmp_path / "o"
    shutil.copytree(ensembles / "cut", out)
    tamper("nan", out, 0, 3, ensembles / "other-seed")
    manifest = json.loads((out / "parts" / "manifest.json").read_text())
    with pytest.raises(ensemble.PartError, match="members: holds values that are not finite"):
        ensemble._load_part(part_path(out, 0), manifest, 0, 2)


MANIFESTS = {
    "missing": None,
    "empty": b"",
    "a JSON array": b"[1, 2]",
    "not JSON": b"{not json",
    "another seed": "seed",
    "another runs": "runs",
    "another engine": "engine",
    "chunk 0": "chunk0",
    "chunk true": "chunktrue",
    "larger than 1 MB": b" " * (2**20 + 10) + b"{}",
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("case", MANIFESTS)
def test_a_manifest_that_cannot_be_trusted_is_refused(ensembles, tmp_path, case):
    """The manifest says what the parts are; a damaged or different one is one line, and
    nothing in the folder changes."""
    out = tmp_path / "o"
    shutil.copytree(ensembles / "cut", out)
    file = out / "parts" / "manifest.json"
    value = MANIFESTS[case]
    if value is None:
        file.unlink()
    elif isinstance(value, bytes):
        file.write_bytes(value)
    else:
        manifest = json.loads(file.read_text())
        changes = {
            "seed": {"seed": 99},
            "runs": {"runs": 7},
            "engine": {"engine": "agents"},
            "chunk0": {"chunk": 0},
            "chunktrue": {"chunk": True},
        }[value]
        file.write_text(json.dumps({**manifest, **changes}))
    before = sorted(p.name for p in (out / "parts").iterdir())
    status, _, err = _resume_cli(out)
    assert_clean(status, err, ok=False)
    assert "manifest.json" in err, err
    assert sorted(p.name for p in (out / "parts").iterdir()) == before


def _resume_cli(out: Path):
    scenario_file = out.parent / "tiny.toml"
    from test_hostile_helpers import write_scenario

    doc = tiny_document(simulation={"start": "2010-01-01", "weeks": 20, "mode": "stochastic"})
    write_scenario(scenario_file, doc)
    return cli("run", scenario_file, "--runs", RUNS, "--seed", SEED, "--out", out, "--resume")


@pytest.fixture(scope="module")
def agent_part(tmp_path_factory):
    """A real part of the agent engine (mexico-2006-2012, one run at scale 0.02)."""
    out = tmp_path_factory.mktemp("agents") / "o"
    save = ensemble._save_part

    def save_then_stop(path, *args):
        save(path, *args)
        raise KeyboardInterrupt

    ensemble._save_part = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            ensemble.run_ensemble(
                "mexico-2006-2012", 2, out, 0, chunk=1, engine="agents", scale=0.02
            )
    finally:
        ensemble._save_part = save
    return out / "parts" / "runs-000000-000000.npz"


def test_a_part_of_the_other_engine_is_recomputed(agent_part, tmp_path):
    """The agent engine's part put in place of an aggregate part of the same scenario and
    seed: its identity says so, and it is computed again."""
    out = tmp_path / "o"
    save = ensemble._save_part

    def save_then_stop(path, *args):
        save(path, *args)
        raise KeyboardInterrupt

    ensemble._save_part = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            ensemble.run_ensemble("mexico-2006-2012", 2, out, 0, chunk=1)
    finally:
        ensemble._save_part = save
    shutil.copyfile(agent_part, out / "parts" / "runs-000000-000000.npz")
    computed = []
    original = ensemble._simulate_chunk

    def counting(prepared, first, stop):
        computed.append((first, stop))
        return original(prepared, first, stop)

    ensemble._simulate_chunk = counting
    try:
        results, _ = ensemble.run_ensemble("mexico-2006-2012", 2, out, 0, chunk=1, resume=True)
    finally:
        ensemble._simulate_chunk = original
    assert sorted(computed) == [(0, 1), (1, 2)]
    assert results.engine == "aggregate" and results.runs == 2


def test_agents_into_an_unfinished_aggregate_ensemble(tmp_path):
    """--engine agents --resume into an aggregate ensemble's folder: refused by its
    manifest, one line naming the engine."""
    out = tmp_path / "o"
    save = ensemble._save_part

    def save_then_stop(path, *args):
        save(path, *args)
        raise KeyboardInterrupt

    ensemble._save_part = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            ensemble.run_ensemble("mexico-2006-2012", 2, out, 0, chunk=1)
    finally:
        ensemble._save_part = save
    args = ["run", "mexico-2006-2012", "--runs", "2", "--out", out, "--resume"]
    status, _, err = cli(*args, "--engine", "agents", "--scale", "0.02")
    assert_clean(status, err, ok=False)
    assert "engine: the unfinished ensemble has 'aggregate', this run 'agents'" in err
