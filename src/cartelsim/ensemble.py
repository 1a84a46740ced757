"""Ensembles at scale: runs in chunks, on local processes or a Dask cluster, saved as they
finish so that a killed ensemble resumes where it stopped.

Run r always gets child r of ``SeedSequence(seed)`` (see rng.py and runner.run's
`first_run`), so a chunk's numbers do not depend on which process or machine computed it,
nor on how many there were: 1 worker, 8 workers and a Dask cluster give identical files.

While an ensemble runs, its output folder holds::

    parts/manifest.json                  what is being computed (scenario hash, seed, runs)
    parts/runs-000000-000063.npz         raw trajectories of runs 0..63, written atomically

Each part is written whole under a temporary name, then renamed, so a part on disk is always
complete. ``--resume`` checks the manifest, keeps the parts that read back intact and
computes the others. When every chunk is there, results.parquet, summary.json and
report.html are assembled from the parts in run order, and parts/ is removed: a folder with
summary.json and no parts/ holds a finished result, which nothing replaces without `force`.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

import cartelsim
from cartelsim import runner
from cartelsim.results import Results, atomic_write, read_summary
from cartelsim.scenario import Scenario, load_scenario, validate
from cartelsim.trajectories import Trajectories

#: Runs per part file: the unit of checkpointing and of work sent to a worker.
CHUNK = 64
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
    chunk: int = CHUNK,
    data_dir: str | Path | None = None,
    progress: Callable[[int], object] | None = None,
    report: bool = True,
) -> tuple[Results, dict[str, Path]]:
    """Compute `runs` runs into the folder `out`; return the results and the files written.

    `workers` > 1 runs chunks in that many local processes; `scheduler` ("tcp://host:port")
    sends them to a Dask cluster instead. `resume` finishes an interrupted ensemble of the
    same scenario, seed and size; `force` discards whatever is in `out`. `progress(n)` is
    called as n more runs are done. `report=False` skips report.html (its figures take
    seconds; batch jobs that only need the tables can do without).
    """
    if runs < 1:
        raise ValueError(f"runs: must be >= 1 (got {runs})")
    if chunk < 1:
        raise ValueError(f"chunk: must be >= 1 (got {chunk})")
    if workers < 1:
        raise ValueError(f"workers: must be >= 1 (got {workers})")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    out = Path(out)
    parts = out / PARTS
    manifest = _manifest(scenario, runs, seed, chunk)
    chunk = _prepare(out, manifest, resume, force)
    chunks = [(first, min(first + chunk, runs)) for first in range(0, runs, chunk)]
    todo = [c for c in chunks if not _intact(_part_path(parts, *c))]
    if progress is not None and len(todo) < len(chunks):
        progress(runs - sum(stop - first for first, stop in todo))
    for (first, stop), traj in _computed(scenario, seed, data_dir, todo, workers, scheduler):
        _save_part(_part_path(parts, first, stop), traj)
        if progress is not None:
            progress(stop - first)
    results = _assemble(scenario, seed, data_dir, [_part_path(parts, *c) for c in chunks])
    paths = results.write(out, force=True)  # anything there was checked by _prepare
    if report:
        from cartelsim.report.run_report import (
            write_report,  # matplotlib: imported only when needed
        )

        paths["report"] = write_report(results, out / "report.html")
    elif (out / "report.html").exists():  # a replaced result's report would not match
        (out / "report.html").unlink()
    shutil.rmtree(parts)
    return results, paths


def _manifest(scenario: Scenario, runs: int, seed: int, chunk: int) -> dict:
    text = scenario_text_of(scenario)
    return {
        "scenario": scenario.name,
        "scenario_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "seed": seed,
        "runs": runs,
        "chunk": chunk,
        "cartelsim_version": cartelsim.__version__,
    }


def scenario_text_of(scenario: Scenario) -> str:
    """The resolved scenario as canonical JSON, as results.scenario_text writes it (that one
    takes a compiled plan; here there is none yet)."""
    return scenario.model_dump_json(indent=None)


def _prepare(out: Path, manifest: dict, resume: bool, force: bool) -> int:
    """Check what `out` holds against what is asked; return the chunk size to use (a
    resumed ensemble keeps its own)."""
    parts = out / PARTS
    file = parts / "manifest.json"
    unfinished = parts.is_dir()
    finished = (out / "summary.json").exists() and not unfinished
    if force:
        if unfinished:
            shutil.rmtree(parts)
    elif finished:
        raise FileExistsError(
            f"{out / 'summary.json'}: a finished result is already there; use --force to replace it"
        )
    elif unfinished and not resume:
        raise FileExistsError(
            f"{parts}: an unfinished ensemble is there; use --resume to finish it "
            "or --force to start again"
        )
    elif unfinished:
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ValueError(
                f"{file}: missing or damaged, so the parts cannot be trusted; "
                "use --force to start again"
            ) from None
        for key in ("scenario_sha256", "seed", "runs"):
            if saved.get(key) != manifest[key]:
                raise ValueError(
                    f"{file}: {key}: the unfinished ensemble has {saved.get(key)!r}, this run "
                    f"{manifest[key]!r}; resume with the same scenario, --seed and --runs, "
                    "or use --force to start again"
                )
        if not isinstance(saved.get("chunk"), int) or saved["chunk"] < 1:
            raise ValueError(f"{file}: chunk: damaged; use --force to start again")
        return saved["chunk"]
    # parts/ appears with its manifest already inside, so a parts/ folder always has one.
    staging = out / f".{PARTS}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(staging, parts)
    return manifest["chunk"]


def _part_path(parts: Path, first: int, stop: int) -> Path:
    return parts / f"runs-{first:06d}-{stop - 1:06d}.npz"


def _save_part(path: Path, traj: Trajectories) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, members=traj.members, flows=traj.flows, params=traj.params)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)


def _load_part(path: Path) -> Trajectories:
    with np.load(path, allow_pickle=False) as data:
        return Trajectories(data["members"], data["flows"], data["params"])


def _intact(path: Path) -> bool:
    """Whether a part exists and reads back whole (the zip format checks each array's CRC);
    a damaged part is deleted, to be computed again."""
    if not path.exists():
        return False
    try:
        _load_part(path)
        return True
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        path.unlink()
        return False


def _simulate_chunk(
    scenario: Scenario, seed: int, data_dir: str | Path | None, first: int, stop: int
) -> Trajectories:
    """Runs first..stop-1 of the ensemble; what a worker process or Dask worker executes."""
    return runner.run(
        scenario, runs=stop - first, seed=seed, data_dir=data_dir, first_run=first
    ).traj


def _computed(
    scenario: Scenario,
    seed: int,
    data_dir: str | Path | None,
    todo: list[tuple[int, int]],
    workers: int,
    scheduler: str | None,
) -> Iterator[tuple[tuple[int, int], Trajectories]]:
    """Yield each chunk with its trajectories as soon as it is done, in any order."""
    args = (scenario, seed, data_dir)
    if scheduler is not None:
        from distributed import Client, as_completed  # imported only for a cluster

        with Client(scheduler) as client:
            futures = {client.submit(_simulate_chunk, *args, *c, pure=False): c for c in todo}
            for future in as_completed(futures):
                yield futures[future], future.result()
    elif workers == 1 or len(todo) <= 1:
        for c in todo:
            yield c, _simulate_chunk(*args, *c)
    else:
        # "spawn": fresh interpreters, safe whatever threads this process has started.
        context = multiprocessing.get_context("spawn")
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
        try:
            futures = {pool.submit(_simulate_chunk, *args, *c): c for c in todo}
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
        finally:  # on Ctrl-C or an error, drop the chunks not started rather than run them
            pool.shutdown(wait=True, cancel_futures=True)


def _assemble(
    scenario: Scenario, seed: int, data_dir: str | Path | None, paths: list[Path]
) -> Results:
    """The whole ensemble from its parts, in run order."""
    trajs = [_load_part(path) for path in paths]
    traj = Trajectories(
        np.concatenate([t.members for t in trajs], axis=2),
        np.concatenate([t.flows for t in trajs], axis=2),
        np.concatenate([t.params for t in trajs], axis=1),
    )
    # The plan as runner.run makes it (with start_from, it starts from run 0's state).
    plan = runner.run(scenario, runs=1, seed=seed, data_dir=data_dir).plan
    return Results(plan, traj, seed, str(data_dir) if data_dir else None)


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
    if summary.get("engine") != "aggregate":
        raise ValueError(f"{label}: engine: {summary.get('engine')!r} cannot be rerun by 'run'")
    scenario = validate(prov["scenario"], f"{label}: provenance.scenario")
    digest = hashlib.sha256(scenario_text_of(scenario).encode()).hexdigest()
    if digest != prov["scenario_sha256"]:
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
