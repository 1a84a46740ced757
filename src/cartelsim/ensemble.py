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
import ipaddress
import json
import multiprocessing
import os
import shutil
import socket
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from cartelsim import engines, integrity, outputs, rng, runner
from cartelsim.engines import Part
from cartelsim.invariants import RTOL
from cartelsim.results import Results, read_summary
from cartelsim.runner import Prepared
from cartelsim.scenario import PARAMETER_NAMES, Scenario, load_scenario, validate
from cartelsim.trajectories import FLOWS, Trajectories
from cartelsim.version import VERSION

atomic_write = outputs.atomic_write

PARTS = "parts"


def run_ensemble(
    scenario: Scenario | str | Path,
    runs: int,
    out: str | Path,
    seed: rng.Seed = 0,
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

    `seed` may be a tuple of `runs` seeds: run r is then the one run seeded seed[r] (rng.py).
    `workers` > 1 runs chunks in that many local processes; `scheduler` ("tcp://host:port")
    sends them to a Dask cluster instead. `resume` finishes an interrupted ensemble of the
    same scenario, seed, size and engine; `force` discards whatever is in `out`.
    `chunk` runs go in each saved part (default: the engine's, engines.Engine.chunk).
    `progress(n)` is called as n more runs are done. `write_report(results, path)` writes
    report.html (the CLI passes the run report; batch jobs that need only the tables skip
    it). `engine` and its `options` (the agent engine's scale and regions) as in runner.run.

    Everything that can be checked is checked before any run: the folder (outputs.
    check_folder), the sizes (budget.py, in runner.prepare), the scheduler (it must
    answer). The final files are written into a temporary folder and renamed into place
    (outputs.publish), so a previous result survives any failure whole.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs: must be a whole number >= 1 (got {runs!r})")
    if isinstance(seed, tuple | list):
        seed = rng.check_seeds(seed)
        if runs != len(seed):
            raise ValueError(f"seeds: {len(seed)} listed for {runs} runs (one run per seed)")
    chunk = chunk if chunk is not None else engines.get(engine).chunk
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: must be a whole number >= 1 (got {chunk!r})")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers: must be between 1 and {MAX_WORKERS} (got {workers!r})")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    out = Path(out)
    parts = out / PARTS
    manifest = _manifest(scenario, runs, seed, chunk, engine, options)
    stale = [n for n in outputs.check_folder(out, "run", force=force, resume=resume) if n != PARTS]
    # Replacing a finished result (--force): if this call fails before the new result is
    # published, its parts go, so the folder still reads as the old, finished result.
    replacing = (out / "summary.json").is_file() and not parts.is_dir()
    client = connect(scheduler) if scheduler is not None else None
    try:
        prepared = runner.prepare(scenario, runs, seed, data_dir, engine=engine, **options)
        chunk = _prepare_folder(out, manifest, resume, force)
        chunks = [(first, min(first + chunk, runs)) for first in range(0, runs, chunk)]
        checks = _PartChecks.of(prepared)
        todo = [c for c in chunks if not _intact(_part_path(parts, *c), manifest, *c, checks)]
        if progress is not None and len(todo) < len(chunks):
            progress(runs - sum(stop - first for first, stop in todo))
        for (first, stop), part in _computed(prepared, todo, workers, client):
            _save_part(_part_path(parts, first, stop), part, manifest, first, stop)
            if progress is not None:
                progress(stop - first)
        loaded = [_load_part(_part_path(parts, *c), manifest, *c, checks) for c in chunks]
        results = runner.assemble(prepared, loaded)
        del loaded
        try:
            with outputs.publish(out, [*stale, "report.html"]) as staging:
                results.write_files(staging)
                if write_report is not None:
                    write_report(results, staging / "report.html")
        except outputs.OutputError as exc:
            if replacing:
                raise
            raise outputs.OutputError(
                f"{exc}; the parts are kept: once there is room, run the same command with --resume"
            ) from None
    except BaseException as exc:
        if replacing and parts.is_dir():
            shutil.rmtree(parts, ignore_errors=True)
            if isinstance(exc, PartSaveError):
                raise outputs.OutputError(
                    f"{exc.path}: cannot save a part ({exc.reason}); the previous result in "
                    f"{out} is unchanged"
                ) from None
        raise
    finally:
        if client is not None:
            client.close()
    paths = {"results": out / "results.parquet", "summary": out / "summary.json"}
    if write_report is not None:
        paths["report"] = out / "report.html"
    shutil.rmtree(parts)  # last: a folder with parts/ is unfinished, whatever else it holds
    return results, paths


#: Most local worker processes (more than any machine's cores is a typo).
MAX_WORKERS = 1024


def _manifest(
    scenario: Scenario, runs: int, seed: rng.Seed, chunk: int, engine: str, options: dict
) -> dict:
    return {
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256(),
        "seed": rng.as_json(seed),  # a list for --seeds: parts of another list do not match
        "runs": runs,
        "chunk": chunk,
        "engine": engine,
        "options": {k: v for k, v in sorted(options.items()) if v is not None},
        "cartelsim_version": VERSION,
    }


#: What must match between an unfinished ensemble and the one asked for, to resume it.
SAME = ("scenario_sha256", "seed", "runs", "engine", "options")


def _prepare_folder(out: Path, manifest: dict, resume: bool, force: bool) -> int:
    """Check an unfinished ensemble in `out` against what is asked, or start one; return the
    chunk size to use (a resumed ensemble keeps its own)."""
    parts = out / PARTS
    file = parts / "manifest.json"
    if force and os.path.lexists(parts):
        outputs.remove(parts)
    elif parts.is_dir():  # resume (refused earlier otherwise)
        try:
            saved = json.loads(outputs.read_bounded(file, "manifest").decode("utf-8"))
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
        except (outputs.OutputError, ValueError, RecursionError):
            raise ValueError(
                f"{file}: missing or damaged, so the parts cannot be trusted; "
                "use --force to start again"
            ) from None
        for key in SAME:
            if saved.get(key, _OLD_DEFAULTS.get(key)) != manifest[key]:
                raise ValueError(
                    f"{file}: {key}: the unfinished ensemble has {_shown(saved.get(key))}, "
                    f"this run {_shown(manifest[key])}; resume with the same scenario, --seed, "
                    "--runs and --engine, or use --force to start again"
                )
        chunk = saved.get("chunk")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"{file}: chunk: damaged; use --force to start again")
        manifest["chunk"] = chunk
        return chunk
    # parts/ appears with its manifest already inside, so a parts/ folder always has one.
    staging = out / f".{PARTS}-{os.getpid()}"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(staging, parts)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise outputs.OutputError(f"{parts}: cannot be created ({outputs.reason(exc)})") from None
    return manifest["chunk"]


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + "..."


#: Manifests written before the engine was recorded were all of the aggregate engine.
_OLD_DEFAULTS = {"engine": "aggregate", "options": {}}


def _part_path(parts: Path, first: int, stop: int) -> Path:
    return parts / f"runs-{first:06d}-{stop - 1:06d}.npz"


def _identity(manifest: dict, first: int, stop: int) -> dict:
    """What a part must say of itself to be used: whose runs it holds."""
    keys = ("scenario_sha256", "seed", "engine", "options")
    return {**{k: manifest[k] for k in keys}, "first": first, "stop": stop}


def _part_arrays(part: Part) -> dict[str, np.ndarray]:
    t = part.traj
    arrays = {"members": t.members, "flows": t.flows, "params": t.params}
    arrays.update({f"extra_{name}": np.asarray(value) for name, value in part.arrays.items()})
    return arrays


def _save_part(path: Path, part: Part, manifest: dict, first: int, stop: int) -> None:
    """A part, self-describing: its arrays, its identity (whose runs) and the SHA-256 of
    both (integrity.digest_arrays), written whole under a temporary name, then renamed."""
    arrays = _part_arrays(part)
    identity = _identity(manifest, first, stop)
    digest = integrity.digest_arrays(arrays, identity)
    meta = json.dumps({"identity": identity, "info": part.info, "sha256": digest})

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, meta=meta, **arrays)
            f.flush()
            os.fsync(f.fileno())

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise PartSaveError(path, outputs.reason(exc)) from None


class PartSaveError(outputs.OutputError):
    """A part that could not be written (a full disk, a file-size limit)."""

    def __init__(self, path: Path, reason: str):
        super().__init__(
            f"{path}: cannot save this part ({reason}); the parts saved so far are kept: "
            "make room and run the same command with --resume"
        )
        self.path, self.reason = path, reason


class PartError(ValueError):
    """A saved part that cannot be used: damaged, foreign, or with impossible values."""


@dataclass(frozen=True)
class _PartChecks:
    """What the arrays of every part of an ensemble must look like."""

    weeks: int
    parameters: int

    @classmethod
    def of(cls, prepared: Prepared) -> _PartChecks:
        return cls(prepared.scenario.simulation.weeks, len(PARAMETER_NAMES))


def _load_part(
    path: Path, manifest: dict, first: int, stop: int, checks: _PartChecks | None = None
) -> Part:
    """A saved part, after checking that it holds the runs asked for, of this ensemble, that
    its arrays are the ones written (SHA-256) with the shapes of this ensemble, and that
    every value is finite and not negative. Raises PartError otherwise."""
    runs = stop - first
    _check_headers(path)
    with np.load(path, allow_pickle=False) as data:
        if "meta" not in data.files:
            raise PartError(f"{path}: not a part (no identity)")
        meta = json.loads(str(data["meta"]))
        if not isinstance(meta, dict) or meta.get("identity") != _identity(manifest, first, stop):
            raise PartError(f"{path}: holds other runs or another ensemble's runs")
        arrays = {k: data[k] for k in data.files if k != "meta"}
    if integrity.digest_arrays(arrays, meta["identity"]) != meta.get("sha256"):
        raise PartError(f"{path}: its arrays do not match their checksum (damaged or edited)")
    for name in ("members", "flows", "params"):
        if name not in arrays:
            raise PartError(f"{path}: no {name} array")
    members, flows, params = arrays["members"], arrays["flows"], arrays["params"]
    if checks is not None:
        weeks = checks.weeks
        expected = {
            "members": (weeks + 1, None, runs),
            "flows": (weeks, len(FLOWS), runs),
            "params": (checks.parameters, runs),
        }
        for name, shape in expected.items():
            got = arrays[name].shape
            pairs = zip(shape, got, strict=False)
            if len(got) != len(shape) or any(e is not None and e != g for e, g in pairs):
                raise PartError(f"{path}: {name} has shape {got}, this ensemble {shape}")
    if members.ndim != 3 or members.shape[2] != runs or flows.shape[-1] != runs:
        raise PartError(f"{path}: holds {members.shape[-1]} runs, not {runs}")
    for name, values in arrays.items():
        problem = _value_problem(values)
        if problem is not None:
            raise PartError(f"{path}: {name.removeprefix('extra_')}: {problem}")
    traj = Trajectories(members, flows, params)
    extra = {k.removeprefix("extra_"): v for k, v in arrays.items() if k.startswith("extra_")}
    return Part(traj, extra, meta.get("info", {}))


def _value_problem(values: np.ndarray) -> str | None:
    """Why an array of stocks, flows or rates cannot be a simulation's, or None: every value
    finite and not negative (to the rounding invariants.check allows)."""
    if values.dtype.kind not in "fiub":
        return f"not numbers (dtype {values.dtype})"
    if values.size == 0 or values.dtype.kind in "ub":
        return None
    lowest, highest = values.min(), values.max()
    if not (np.isfinite(lowest) and np.isfinite(highest)):
        return "holds values that are not finite (NaN or infinite)"
    if lowest < -RTOL * max(abs(float(lowest)), abs(float(highest)), 1.0):
        return f"holds negative values ({float(lowest):g})"
    return None


def _check_headers(path: Path) -> None:
    """Before any array is read: every member is a stored (not compressed) .npy whose header
    declares no more bytes than the member holds, so a forged header cannot make the reader
    allocate terabytes."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise PartError(f"{path}: {info.filename}: compressed; not a part cartelsim wrote")
            with z.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if dtype.hasobject or declared > info.file_size:
                raise PartError(f"{path}: {info.filename}: header does not match its data")


def _intact(
    path: Path, manifest: dict, first: int, stop: int, checks: _PartChecks | None = None
) -> bool:
    """Whether a part exists, reads back whole (the zip format checks each array's CRC) and
    is the one asked for (identity, checksum, shapes, values); a damaged, foreign or
    impossible part is deleted, to be computed again."""
    if not os.path.lexists(path):
        return False
    try:
        _load_part(path, manifest, first, stop, checks)
        return True
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile):
        outputs.remove(path)
        return False


def connect(scheduler: str, timeout: float = 10.0, flag: str = "--scheduler"):
    """A Dask client of the scheduler at `scheduler` (tcp://HOST:PORT), or a one-line error
    when the address is malformed, its host unknown, or nothing answers there (checked
    with a plain connection first, which fails at once where Dask would retry)."""
    from distributed import Client  # imported only for a cluster

    label = f"{flag} {scheduler}"
    text = str(scheduler).strip()
    if text.startswith("inproc://"):  # a cluster inside this process (tests, notebooks)
        try:
            return Client(text, timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"{label}: no such in-process scheduler ({exc})") from None
    parsed = urlsplit(text if "://" in text else f"tcp://{text}")
    if parsed.scheme not in ("tcp", "tls"):
        raise ValueError(f"{label}: must be tcp://HOST:PORT")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError:
        raise ValueError(f"{label}: the port must be a number between 0 and 65535") from None
    if not host or port is None or port == 0:
        raise ValueError(f"{label}: must be tcp://HOST:PORT, with a port between 1 and 65535")
    if host.replace(".", "").isdigit() or ":" in host:  # looks like an address: no DNS lookup
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{label}: {host} is not a valid IP address") from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        raise ValueError(f"{label}: unknown host {host!r} ({exc.strerror})") from None
    except (OSError, UnicodeError) as exc:
        raise ValueError(
            f"{label}: nothing answers there ({outputs.reason(exc)}); start the scheduler "
            "(`dask scheduler`) or check the address"
        ) from None
    try:
        return Client(text, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 (whatever the other end was, it is not a scheduler)
        raise ValueError(
            f"{label}: not a Dask scheduler, or it does not answer "
            f"({type(exc).__name__}: {outputs.reason(exc)})"
        ) from None


def _simulate_chunk(prepared: Prepared, first: int, stop: int) -> Part:
    """Runs first..stop-1 of the ensemble; what a worker process or Dask worker executes."""
    return runner.simulate(prepared, first, stop)


def _computed(
    prepared: Prepared,
    todo: list[tuple[int, int]],
    workers: int,
    client=None,
) -> Iterator[tuple[tuple[int, int], Part]]:
    """Yield each chunk with its part as soon as it is done, in any order; on the Dask
    cluster of `client` when there is one."""
    if client is not None:
        from distributed import as_completed  # imported only for a cluster

        futures = {client.submit(_simulate_chunk, prepared, *c, pure=False): c for c in todo}
        for future in as_completed(futures):
            yield futures[future], future.result()
    elif workers == 1 or len(todo) <= 1:
        for c in todo:
            yield c, _simulate_chunk(prepared, *c)
    else:
        # "spawn": fresh interpreters, safe whatever threads this process has started.
        context = multiprocessing.get_context("spawn")
        workers = min(workers, len(todo))
        pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
        try:
            futures = {pool.submit(_simulate_chunk, prepared, *c): c for c in todo}
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
        finally:  # on Ctrl-C or an error, drop the chunks not started rather than run them
            pool.shutdown(wait=True, cancel_futures=True)


# --- reproducing a result from its summary -------------------------------------------------


def from_summary(path: str | Path) -> tuple[Scenario, int, rng.Seed, dict]:
    """The scenario, runs and seed (a tuple for a --seeds result) recorded in a summary.json,
    and the summary itself.

    The scenario is the fully resolved text the result was computed from, checked against
    its recorded SHA-256, so `cartelsim run --from DIR/summary.json` recomputes exactly it.
    """
    summary = read_summary(path)
    prov = summary["provenance"]
    label = str(path)
    if not isinstance(prov, dict):
        raise ValueError(f"{label}: provenance: must be a JSON object")
    for key in ("scenario", "scenario_sha256", "seed"):
        if key not in prov:
            raise ValueError(f"{label}: provenance.{key}: missing")
    if not isinstance(prov["scenario"], dict):
        raise ValueError(f"{label}: provenance.scenario: must be a JSON object")
    scenario = validate(prov["scenario"], f"{label}: provenance.scenario")
    if scenario.sha256() != prov["scenario_sha256"]:
        raise ValueError(
            f"{label}: provenance.scenario: does not match its scenario_sha256 "
            "(the file was edited or damaged)"
        )
    # The same bounds as the command line's --runs and --seed: true is not 1 run.
    runs, seed = summary["runs"], summary["seed"]
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"{label}: runs: must be a whole number >= 1 (got {_shown(runs)})")
    if isinstance(seed, list):  # a --seeds result: one run per listed seed
        try:
            rng.check_seeds(seed)
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        if len(seed) != runs:
            raise ValueError(f"{label}: seed: {len(seed)} seeds listed for {runs} runs")
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"{label}: seed: must be between 0 and 2**63-1 (got {_shown(seed)})")
    if prov["seed"] != seed:
        raise ValueError(f"{label}: seed: {seed} differs from provenance.seed {prov['seed']!r}")
    engine = summary["engine"]
    if not isinstance(engine, str) or engine not in engines.engines():
        known = ", ".join(engines.engines())
        raise ValueError(f"{label}: engine: must be one of {known} (got {_shown(engine)})")
    options = summary.get("engine_options", {})
    if not isinstance(options, dict) or not set(options) <= set(engines.get(engine).options):
        raise ValueError(f"{label}: engine_options: not options of the {engine} engine")
    scale = options.get("scale")
    if scale is not None and (
        isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 1
    ):
        raise ValueError(f"{label}: engine_options.scale: must be in (0, 1] (got {_shown(scale)})")
    regions = options.get("regions")
    if regions is not None and not isinstance(regions, str):
        raise ValueError(f"{label}: engine_options.regions: must be text")
    version = prov.get("cartelsim_version")
    if version is not None and not isinstance(version, str):
        raise ValueError(f"{label}: provenance.cartelsim_version: must be text")
    return scenario, runs, rng.from_json(seed), summary


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
