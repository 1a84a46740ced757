"""Ensembles at scale: runs in chunks, on local processes or a Dask cluster, saved as they
finish so that a killed ensemble resumes where it stopped. Every engine goes this way.

The scenario is prepared once here (runner.prepare: the plan, the engine's context); each
chunk is runner.simulate on that preparation, in this process or a worker; the saved parts
are joined by runner.assemble. Run r always gets child r of ``SeedSequence(seed)`` (see
rng.py), so a chunk's numbers do not depend on which process or machine computed it, nor on
how many there were: 1 worker, 8 workers and a Dask cluster give identical files.

While an ensemble runs, its output folder holds::

    parts/manifest.json                  what is being computed (scenario hash, seed, runs,
                                         engine and its options)
    parts/runs-000000-000063.npz         one chunk's arrays and identity, written atomically

Each part is written whole under a temporary name, then renamed, so a part on disk is always
complete; it records its run range, scenario hash, seed and engine, checked when it is read.
``--resume`` checks the manifest, keeps the parts that read back intact and computes the
others. When every chunk is there, results.parquet and summary.json (and report.html, when
a `write_report` is given) are assembled from the parts in run order, and parts/ is
removed: a folder with summary.json and no parts/ holds a finished result, which nothing
replaces without `force`.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cartelsim import engines, runner
from cartelsim.engines import Part
from cartelsim.results import Results, atomic_write, read_summary
from cartelsim.runner import Prepared
from cartelsim.scenario import Scenario, load_scenario, validate
from cartelsim.trajectories import Trajectories
from cartelsim.version import VERSION

PARTS = "parts"


def run_ensemble(
    scenario: Scenario | str | Path,
    runs: int,
    out: str | Path,
    seed: int = 0,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    force: bool = False,
    chunk: int | None = None,
    data_dir: str | Path | None = None,
    progress: Callable[[int], object] | None = None,
    write_report: Callable[[Results, Path], Path] | None = None,
    engine: str = "aggregate",
    **options: Any,
) -> tuple[Results, dict[str, Path]]:
    """Compute `runs` runs into the folder `out`; return the results and the files written.

    `workers` > 1 runs chunks in that many local processes; `scheduler` ("tcp://host:port")
    sends them to a Dask cluster instead. `resume` finishes an interrupted ensemble of the
    same scenario, seed, size and engine; `force` discards whatever is in `out`.
    `chunk` runs go in each saved part (default: the engine's, engines.Engine.chunk).
    `progress(n)` is called as n more runs are done. `write_report(results, path)` writes
    report.html (the CLI passes the run report; batch jobs that need only the tables skip
    it). `engine` and its `options` (the agent engine's scale and regions) as in runner.run.
    """
    if runs < 1:
        raise ValueError(f"runs: must be >= 1 (got {runs})")
    chunk = chunk if chunk is not None else engines.get(engine).chunk
    if chunk < 1:
        raise ValueError(f"chunk: must be >= 1 (got {chunk})")
    if workers < 1:
        raise ValueError(f"workers: must be >= 1 (got {workers})")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    out = Path(out)
    parts = out / PARTS
    manifest = _manifest(scenario, runs, seed, chunk, engine, options)
    _refuse_existing(out, resume, force)
    prepared = runner.prepare(scenario, runs, seed, data_dir, engine=engine, **options)
    chunk = _prepare_folder(out, manifest, resume, force)
    chunks = [(first, min(first + chunk, runs)) for first in range(0, runs, chunk)]
    todo = [c for c in chunks if not _intact(_part_path(parts, *c), manifest, *c)]
    if progress is not None and len(todo) < len(chunks):
        progress(runs - sum(stop - first for first, stop in todo))
    for (first, stop), part in _computed(prepared, todo, workers, scheduler):
        _save_part(_part_path(parts, first, stop), part, manifest, first, stop)
        if progress is not None:
            progress(stop - first)
    loaded = [_load_part(_part_path(parts, *c), manifest, *c) for c in chunks]
    results = runner.assemble(prepared, loaded)
    paths = results.write(out, force=True)  # anything there was checked by _prepare_folder
    if write_report is not None:
        paths["report"] = write_report(results, out / "report.html")
    elif (out / "report.html").exists():  # a replaced result's report would not match
        (out / "report.html").unlink()
    shutil.rmtree(parts)
    return results, paths


def _manifest(
    scenario: Scenario, runs: int, seed: int, chunk: int, engine: str, options: dict
) -> dict:
    return {
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256(),
        "seed": seed,
        "runs": runs,
        "chunk": chunk,
        "engine": engine,
        "options": {k: v for k, v in sorted(options.items()) if v is not None},
        "cartelsim_version": VERSION,
    }


#: What must match between an unfinished ensemble and the one asked for, to resume it.
SAME = ("scenario_sha256", "seed", "runs", "engine", "options")


def _refuse_existing(out: Path, resume: bool, force: bool) -> None:
    """Refuse, before any work, to replace a finished result or an unfinished ensemble."""
    unfinished = (out / PARTS).is_dir()
    if force:
        return
    if (out / "summary.json").exists() and not unfinished:
        raise FileExistsError(
            f"{out / 'summary.json'}: a finished result is already there; use --force to replace it"
        )
    if unfinished and not resume:
        raise FileExistsError(
            f"{out / PARTS}: an unfinished ensemble is there; use --resume to finish it "
            "or --force to start again"
        )


def _prepare_folder(out: Path, manifest: dict, resume: bool, force: bool) -> int:
    """Check an unfinished ensemble in `out` against what is asked, or start one; return the
    chunk size to use (a resumed ensemble keeps its own)."""
    parts = out / PARTS
    file = parts / "manifest.json"
    if force and parts.is_dir():
        shutil.rmtree(parts)
    elif parts.is_dir():  # resume (refused earlier otherwise)
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ValueError(
                f"{file}: missing or damaged, so the parts cannot be trusted; "
                "use --force to start again"
            ) from None
        for key in SAME:
            if saved.get(key, _OLD_DEFAULTS.get(key)) != manifest[key]:
                raise ValueError(
                    f"{file}: {key}: the unfinished ensemble has {saved.get(key)!r}, this run "
                    f"{manifest[key]!r}; resume with the same scenario, --seed, --runs and "
                    "--engine, or use --force to start again"
                )
        if not isinstance(saved.get("chunk"), int) or saved["chunk"] < 1:
            raise ValueError(f"{file}: chunk: damaged; use --force to start again")
        manifest["chunk"] = saved["chunk"]
        return saved["chunk"]
    # parts/ appears with its manifest already inside, so a parts/ folder always has one.
    staging = out / f".{PARTS}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(staging, parts)
    return manifest["chunk"]


#: Manifests written before the engine was recorded were all of the aggregate engine.
_OLD_DEFAULTS = {"engine": "aggregate", "options": {}}


def _part_path(parts: Path, first: int, stop: int) -> Path:
    return parts / f"runs-{first:06d}-{stop - 1:06d}.npz"


def _identity(manifest: dict, first: int, stop: int) -> dict:
    """What a part must say of itself to be used: whose runs it holds."""
    keys = ("scenario_sha256", "seed", "engine", "options")
    return {**{k: manifest[k] for k in keys}, "first": first, "stop": stop}


def _save_part(path: Path, part: Part, manifest: dict, first: int, stop: int) -> None:
    arrays = {f"extra_{name}": value for name, value in part.arrays.items()}
    meta = json.dumps({"identity": _identity(manifest, first, stop), "info": part.info})

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            t = part.traj
            np.savez(f, members=t.members, flows=t.flows, params=t.params, meta=meta, **arrays)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)


def _load_part(path: Path, manifest: dict, first: int, stop: int) -> Part:
    """A saved part, after checking that it holds the runs asked for, of this ensemble."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("identity") != _identity(manifest, first, stop):
            raise ValueError(f"{path}: holds other runs or another ensemble's runs")
        traj = Trajectories(data["members"], data["flows"], data["params"])
        arrays = {k.removeprefix("extra_"): data[k] for k in data.files if k.startswith("extra_")}
    runs = stop - first
    if traj.members.shape[2] != runs or traj.flows.shape[2] != runs:
        raise ValueError(f"{path}: holds {traj.members.shape[2]} runs, not {runs}")
    return Part(traj, arrays, meta.get("info", {}))


def _intact(path: Path, manifest: dict, first: int, stop: int) -> bool:
    """Whether a part exists, reads back whole (the zip format checks each array's CRC) and
    is the one asked for; a damaged or foreign part is deleted, to be computed again."""
    if not path.exists():
        return False
    try:
        _load_part(path, manifest, first, stop)
        return True
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        path.unlink()
        return False


def _simulate_chunk(prepared: Prepared, first: int, stop: int) -> Part:
    """Runs first..stop-1 of the ensemble; what a worker process or Dask worker executes."""
    return runner.simulate(prepared, first, stop)


def _computed(
    prepared: Prepared,
    todo: list[tuple[int, int]],
    workers: int,
    scheduler: str | None,
) -> Iterator[tuple[tuple[int, int], Part]]:
    """Yield each chunk with its part as soon as it is done, in any order."""
    if scheduler is not None:
        from distributed import Client, as_completed  # imported only for a cluster

        with Client(scheduler) as client:
            futures = {client.submit(_simulate_chunk, prepared, *c, pure=False): c for c in todo}
            for future in as_completed(futures):
                yield futures[future], future.result()
    elif workers == 1 or len(todo) <= 1:
        for c in todo:
            yield c, _simulate_chunk(prepared, *c)
    else:
        # "spawn": fresh interpreters, safe whatever threads this process has started.
        context = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
        try:
            futures = {pool.submit(_simulate_chunk, prepared, *c): c for c in todo}
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
        finally:  # on Ctrl-C or an error, drop the chunks not started rather than run them
            pool.shutdown(wait=True, cancel_futures=True)


# --- reproducing a result from its summary -------------------------------------------------


def from_summary(path: str | Path) -> tuple[Scenario, int, int, dict]:
    """The scenario, runs and seed recorded in a summary.json, and the summary itself.

    The scenario is the fully resolved text the result was computed from, checked against
    its recorded SHA-256, so `cartelsim run --from DIR/summary.json` recomputes exactly it.
    """
    summary = read_summary(path)
    prov = summary["provenance"]
    label = str(path)
    for key in ("scenario", "scenario_sha256", "seed"):
        if key not in prov:
            raise ValueError(f"{label}: provenance.{key}: missing")
    scenario = validate(prov["scenario"], f"{label}: provenance.scenario")
    if scenario.sha256() != prov["scenario_sha256"]:
        raise ValueError(
            f"{label}: provenance.scenario: does not match its scenario_sha256 "
            "(the file was edited or damaged)"
        )
    runs, seed = summary["runs"], summary["seed"]
    if not isinstance(runs, int) or runs < 1 or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{label}: runs, seed: damaged (got {runs!r}, {seed!r})")
    return scenario, runs, seed, summary


def differences(old: dict, new: dict) -> list[str]:
    """Top-level summary keys whose values differ, ignoring the provenance's dependency
    versions (recorded, not reproduced)."""
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if k != "provenance" and old.get(k) != new.get(k)]
    old_prov = {k: v for k, v in old.get("provenance", {}).items() if k != "dependencies"}
    new_prov = {k: v for k, v in new.get("provenance", {}).items() if k != "dependencies"}
    if old_prov != new_prov:
        changed.append("provenance")
    return changed
