"""A region table (`--regions PATH`, or `[agents] regions`) checked before the agent engine
reads it: every number finite and in range, every row's fields where they belong.

The agent engine's reader (agents/regions.py) turns the table into arrays; a NaN population
or NaN crossings there do not fail, they propagate (a NaN crossing value made a sampling loop
never end). This check runs first (runner.prepare), so such a table is a one-line error
naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from cartelsim import outputs

#: Region positions are 16-bit in the agent engine.
MAX_REGIONS = 32_767
MAX_POPULATION = 1e10
MAX_CROSSINGS = 1e4
MAX_GRID = 1_000
#: Built-in region tables (`--regions NAME`): name -> file in data/facts. "states-juarez" is
#: the states with Chihuahua split into Ciudad Juarez (id 33) and the rest (id 8).
BUILTIN = {"states": "mexico_states.csv", "states-juarez": "mexico_regions_juarez.csv"}
#: In the built-in tables, regions that are part of a state: region id -> state id.
PART_OF = {33: 8}


class RegionTableError(ValueError):
    """A region table that cannot be used; one line naming the file, row and column."""


def check_region_table(spec: str) -> None:
    """Check the region table `spec` (a CSV path; the built-in tables are trusted)."""
    if spec in BUILTIN:
        return
    path = Path(spec)
    label = path.name or spec
    if not path.is_file():
        return  # not a regular file: the engine's reader says "no such region table"
    try:
        data = outputs.read_bounded(path, "regions", label)
    except outputs.OutputError as exc:
        raise RegionTableError(str(exc).replace(f"{label}: ", f"{label}: (file): ", 1)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RegionTableError(f"{label}: line {line}: not UTF-8 text ({exc.reason})") from None
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as exc:
        raise RegionTableError(f"{label}: (file): not a CSV table ({exc})") from None
    if not rows:
        return  # the engine's reader says "no rows"
    if len(rows) > MAX_REGIONS:
        raise RegionTableError(f"{label}: (file): {len(rows):,} regions; at most {MAX_REGIONS:,}")
    for k, row in enumerate(rows):
        where = f"{label}: row {k + 2}"
        if None in row:
            raise RegionTableError(f"{where}: more fields than the header has columns")
        _number(row, "population", where, 0.0, MAX_POPULATION, positive=True)
        _number(row, "crossings", where, 0.0, MAX_CROSSINGS, optional=True)
        for column in ("id", "grid_row", "grid_col"):
            _whole(row, column, where, optional=column != "id")


def _number(row, column, where, low, high, positive=False, optional=False) -> None:
    text = row.get(column)
    if text is None or not str(text).strip():
        if optional or column not in row:
            return
        raise RegionTableError(f"{where}: {column}: empty")
    try:
        value = float(text)
    except ValueError:
        raise RegionTableError(f"{where}: {column}: not a number (got {_shown(text)})") from None
    if not math.isfinite(value) or value < low or value > high or (positive and value <= 0):
        bound = f"> {low:g}" if positive else f">= {low:g}"
        raise RegionTableError(
            f"{where}: {column}: must be finite, {bound} and <= {high:g} (got {_shown(text)})"
        )


def _whole(row, column, where, optional) -> None:
    text = row.get(column)
    if text is None or not str(text).strip():
        return  # the engine's reader reports a missing id column
    stripped = str(text).strip()
    if not stripped.lstrip("+-").isdigit() or len(stripped) > 10:
        raise RegionTableError(f"{where}: {column}: not a whole number (got {_shown(text)})")
    if column != "id" and not 0 <= int(stripped) <= MAX_GRID:
        raise RegionTableError(f"{where}: {column}: must be between 0 and {MAX_GRID}")


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:30]) + "..."
