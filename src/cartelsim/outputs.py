"""Where commands write, and how: the one place every command's paths are checked.

Every command that writes (`run`, `calibrate`, `compare`, `sensitivity`) goes through here:

- `plain_name`: a scenario's name becomes a folder name (``results/NAME``) only when it is a
  plain name: no path separator, no leading dot, no control character, not too long. So a
  scenario named ``../../escape`` or ``/etc`` cannot make a command write outside
  ``results/``.
- `check_folder`: the output folder must be a folder (or creatable: nothing on its way is a
  regular file), writable (tried, not guessed: as root a read-only permission means
  nothing, a read-only file system does), and hold no result that this call would replace
  unless `force`: another command's result (a comparison, a calibration, a run, Sobol
  indices), or this command's own finished or unidentified one (results.parquet without
  summary.json). Checked before any work, so a mistake costs nothing.
- `publish`: the files of a result are written into a temporary folder on the same file
  system and renamed into place only when all of them are complete, so a full disk, a
  file-size limit or a crash while writing leaves the previous result whole (or, for a new
  folder, nothing). A `run` keeps its parts/ until after the renames, so even a kill between
  two renames leaves a folder that `--resume` completes.
- `read_bounded`: a file given by the user (a summary for `--from`, a CSV series, a
  manifest) is read only if it is a regular file under a size limit: ``/dev/zero``, a FIFO
  or a 50 GB file is a one-line error, not a hang or an exhausted memory.

Errors are `OutputError`, one line naming the path and saying what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path


class OutputError(ValueError):
    """A path that cannot be used as asked; one line naming it and what to do."""


class ResultExistsError(FileExistsError, OutputError):
    """A result is where this command would write, and nothing said to replace it."""


#: The files each command writes into its output folder. `summary.json` and `report.html`
#: are run's, calibrate's and (report.html) hindcast's: a folder holding any of calibrate's
#: own files is a calibration, one holding hindcast's a hindcast, else a run.
FILES = {
    "run": ("results.parquet", "results.nc", "summary.json", "report.html", "parts"),
    "calibrate": ("abc.db", "calibration.json", "posterior.parquet", "summary.json", "report.html"),
    "compare": ("compare.json", "compare.txt", "compare.png"),
    # Sobol indices (the aggregate engine) or Morris indices (--engine agents)
    "sensitivity": (
        "sobol.csv",
        "sobol.json",
        "sobol.png",
        "morris.csv",
        "morris_runs.csv",
        "sensitivity.json",
    ),
    "hindcast": ("hindcast.json", "hindcast.parquet", "origins", "report.html"),
}
#: What each command's result is called in messages.
WHAT = {
    "run": "a run's result",
    "calibrate": "a calibration",
    "compare": "a comparison",
    "sensitivity": "sensitivity indices",
    "hindcast": "a hindcast",
}
_CALIBRATION_OWN = ("abc.db", "calibration.json", "posterior.parquet")
_HINDCAST_OWN = ("hindcast.json", "hindcast.parquet", "origins")

#: Longest scenario name, in characters (a folder name is at most 255 bytes on most systems).
MAX_NAME = 200
_MAX_NAME_BYTES = 200


def name_problem(name: object) -> str | None:
    """Why `name` cannot be a folder name, or None when it is a plain name."""
    if not isinstance(name, str):
        return "must be text"
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME:
        return f"must be at most {MAX_NAME} characters (got {len(name)})"
    if name != name.strip():
        return "must not start or end with a space"
    if name in (".", "..") or name.startswith("."):
        return "must not start with '.'"
    for char in name:
        if char in "/\\" or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return "must be a plain name, not a path: no '/', '\\' or control characters"
    if len(name.encode("utf-8")) > _MAX_NAME_BYTES:
        return f"must be at most {_MAX_NAME_BYTES} bytes in UTF-8"
    return None


def plain_name(name: str, label: str) -> str:
    """`name` if it is a plain name, else an OutputError naming `label` (e.g. the field)."""
    problem = name_problem(name)
    if problem is not None:
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:40] + "..."
        raise OutputError(f"{label}: {problem} (got {shown}); or give --out")
    return name


def default_folder(name: str, prefix: str = "") -> Path:
    """``results/PREFIXNAME``, the default output folder, for a plain scenario name."""
    return Path("results") / f"{prefix}{plain_name(name, f'{name_label(name)}: name')}"


def name_label(name: object) -> str:
    """How messages name a scenario: NAME.toml, or (scenario) when the name is not plain."""
    return f"{name}.toml" if name_problem(name) is None else "(scenario)"


# --- what a folder holds --------------------------------------------------------------------


def kinds_in(out: Path) -> dict[str, list[str]]:
    """The commands whose files are in folder `out`, each with the names found."""
    try:
        present = set(os.listdir(out))
    except OSError:
        return {}
    found: dict[str, list[str]] = {}
    calibration = any(name in present for name in _CALIBRATION_OWN)
    hindcast = any(name in present for name in _HINDCAST_OWN)
    for command, names in FILES.items():
        hits = [n for n in names if n in present]
        if command == "run" and (calibration or hindcast):
            hits = [n for n in hits if n not in FILES["calibrate"] + FILES["hindcast"]]
        if command == "calibrate" and not calibration:
            hits = []
        if command == "hindcast" and not hindcast:
            hits = []
        if hits:
            found[command] = hits
    return found


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def check_folder(
    out: str | Path, command: str, *, force: bool = False, resume: bool = False, flag="--out"
) -> list[str]:
    """Check, before any work, that `command` may write its result into `out`.

    Returns the names in `out` that the new result replaces or makes stale (to remove when
    it is published). `resume` (run, calibrate): this command's unfinished work is
    expected there. Raises OutputError otherwise."""
    out = Path(out)
    label = f"{flag} {out}"
    _check_path(out, label)
    if not out.exists():
        _probe_writable(_existing_ancestor(out), out, label)
        return []
    _probe_writable(out, out, label)
    found = kinds_in(out)
    stale: list[str] = []
    for other, names in found.items():
        if other == command:
            continue
        if not force:
            raise ResultExistsError(
                f"{out / names[0]}: {WHAT[other]} is there; use --force to replace it, or "
                "another --out"
            )
        stale += names
    own = found.get(command, [])
    if command == "run":
        stale += _check_run_folder(out, own, force=force, resume=resume)
    elif command in ("compare", "sensitivity") and own:
        if not force:
            raise ResultExistsError(
                f"{out / own[0]}: {WHAT[command]} is already there; use --force to replace "
                "it, or another --out"
            )
        stale += own
    return sorted(set(stale))


def _check_run_folder(out: Path, own: list[str], *, force: bool, resume: bool) -> list[str]:
    parts = out / "parts"
    if _exists(parts) and (parts.is_symlink() or not parts.is_dir()):
        if not force:
            raise ResultExistsError(
                f"{parts}: something that is not the parts folder is in the way (a file or "
                "a link); move it away, or use --force to delete it"
            )
        return ["parts"]
    unfinished = parts.is_dir()
    if force:
        return [n for n in own if n not in ("parts",)]
    if unfinished:
        if not resume:
            raise ResultExistsError(
                f"{parts}: an unfinished ensemble is there; use --resume to finish it or "
                "--force to start again"
            )
        return [n for n in own if n != "parts"]
    if "summary.json" in own:
        raise ResultExistsError(
            f"{out / 'summary.json'}: a finished result is already there; use --force to replace it"
        )
    if own:
        raise ResultExistsError(
            f"{out / own[0]}: part of a result is there (no summary.json: damaged or from "
            "an interrupted write); use --force to replace it, or another --out"
        )
    return []


def _check_path(out: Path, label: str) -> None:
    text = str(out)
    if "\0" in text:
        raise OutputError(f"{label[: label.index(' ') + 1]}{text!r}: not a valid path")
    try:
        try:
            os.lstat(out)  # a name too long, a loop of links: said here, not later
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
        if _exists(out) and not out.is_dir():
            kind = "a link to nothing" if out.is_symlink() and not out.exists() else "a file"
            raise OutputError(f"{label}: not a folder ({kind} is there); give a folder")
        for parent in out.parents:
            if _exists(parent) and not parent.is_dir():
                raise OutputError(f"{label}: cannot be created: {parent} is a file, not a folder")
    except OSError as exc:  # a name too long, a loop of links
        raise OutputError(f"{label}: cannot be used ({reason(exc)})") from None


def _existing_ancestor(out: Path) -> Path:
    for parent in (out, *out.parents):
        if parent.is_dir():
            return parent
    return Path(".")


def _probe_writable(folder: Path, out: Path, label: str) -> None:
    """Create and delete a file in `folder`: the only sure test that one can write there."""
    try:
        fd, name = tempfile.mkstemp(prefix=".cartelsim-probe-", dir=folder)
    except OSError as exc:
        where = "" if folder == out else f" (in {folder})"
        raise OutputError(f"{label}: cannot write there{where}: {reason(exc)}") from None
    os.close(fd)
    os.unlink(name)


def reason(exc: BaseException) -> str:
    """An OS error's reason without its path (the message names the path itself)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


# --- writing a result whole ----------------------------------------------------------------


@contextlib.contextmanager
def publish(out: str | Path, stale: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a temporary folder for a result's files; on success, move them into `out`.

    A new `out` appears whole (the temporary folder is renamed to it). An existing one gets
    each new file by rename, only after every file is complete, and then loses the names
    in `stale` (what the new result replaces: another command's files with --force, an old
    report). On any failure the temporary folder is removed and `out` is as it was; a full
    disk or a file-size limit is an OutputError saying so."""
    out = Path(out)
    existed = out.is_dir()
    previous = existed and any(
        not name.startswith(".") and name != "parts" for name in os.listdir(out)
    )
    if existed:
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        try:
            yield staging
            for item in staging.iterdir():
                _fsync(item)
        except OSError as exc:
            kept = f"what was in {out} is unchanged" if previous else "no result was written"
            raise OutputError(f"{out}: cannot write the result ({reason(exc)}); {kept}") from None
        if not existed and not _exists(out):
            os.rename(staging, out)
        else:
            new = {item.name for item in staging.iterdir()}
            for name in sorted(new):
                target = out / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                os.replace(staging / name, target)
            for name in stale:
                if name not in new:
                    remove(out / name)
            staging.rmdir()
        _fsync(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def remove(path: Path) -> None:
    """Delete a file, link or folder if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif _exists(path):
        path.unlink()


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk; where the OS refuses, do without."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.EROFS):
            raise
    finally:
        os.close(fd)


def atomic_write(path: Path, write) -> None:
    """Call write(tmp) on a temporary name beside `path`, then rename it into place: a reader
    never sees a half-written file, and a failure leaves the previous file as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if _exists(tmp):
            tmp.unlink()


# --- reading what the user points at --------------------------------------------------------

#: The largest file read whole from a user's path, by kind (bytes).
LIMITS = {
    "summary": 256 * 2**20,
    "series": 16 * 2**20,
    "manifest": 2**20,
    "scenario": 16 * 2**20,
    "regions": 64 * 2**20,
}


def read_bounded(path: str | Path, kind: str, label: str | None = None) -> bytes:
    """The bytes of a regular file no larger than LIMITS[kind]; an OutputError otherwise
    (a device, a FIFO, a folder, a file too large, unreadable)."""
    path = Path(path)
    label = label or str(path)
    limit = LIMITS[kind]
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb", buffering=0) as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise OutputError(f"{label}: not a regular file (a device, a pipe or a folder)")
            if info.st_size > limit:
                raise OutputError(
                    f"{label}: {info.st_size:,} bytes, larger than the {limit:,} a {kind} "
                    "file may have"
                )
            data = f.read(limit + 1)
    except IsADirectoryError:
        raise OutputError(f"{label}: a folder, not a file") from None
    except FileNotFoundError:
        raise OutputError(f"{label}: no such file") from None
    except OSError as exc:
        raise OutputError(f"{label}: cannot be read ({reason(exc)})") from None
    if len(data) > limit:  # grew while read
        raise OutputError(f"{label}: larger than the {limit:,} bytes a {kind} file may have")
    return data
