"""Regions: the map the agents live on, as arrays.

Built in: Mexico's 32 states (INEGI codes 1-32, 2020 census population, land neighbours, US
border crossings, tile-grid position), from `facts/mexico_states.csv`, every row with its
source; and `states-juarez`, the same with Chihuahua split into Ciudad Juarez (id 33, the
municipality of Juarez) and the rest of Chihuahua (id 8), from
`facts/mexico_regions_juarez.csv` (made by scripts/geography.py). Any other map is a CSV
with columns `id, name, population, neighbours` (neighbour ids separated by spaces) and
optionally `crossings`, `grid_row`, `grid_col`: municipalities, or another country.

Regions are stored by position 0..R-1; `ids` maps a position to the table's id. Neighbours are
in CSR form (`indptr`, `indices` of positions), symmetric.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartelsim.datasets import PACKAGE_DATA
from cartelsim.region_table import BUILTIN

STATES_FILE = BUILTIN["states"]
REQUIRED = ("id", "name", "population", "neighbours")


class RegionError(ValueError):
    """A region table that cannot be used; one line naming the file, row and field."""


@dataclass(frozen=True)
class Regions:
    ids: np.ndarray  # (R,) int, the table's ids (INEGI codes for the states)
    names: list[str]
    population: np.ndarray  # (R,) float
    crossings: np.ndarray  # (R,) float, US border crossings (0 for none)
    indptr: np.ndarray  # (R + 1,) int64, CSR of neighbours
    indices: np.ndarray  # (edges,) int64, neighbour positions
    grid: np.ndarray | None  # (R, 2) tile-grid row and column, if the table has them
    label: str
    abbr: list[str] | None = None  # short labels for the map (column `abbr`), if given

    @property
    def n(self) -> int:
        return len(self.ids)

    def position(self, region_id: int) -> int:
        """Position of a region id; KeyError if unknown."""
        where = np.flatnonzero(self.ids == region_id)
        if len(where) == 0:
            raise KeyError(f"unknown region {region_id} in {self.label}")
        return int(where[0])

    def neighbours(self, position: int) -> np.ndarray:
        return self.indices[self.indptr[position] : self.indptr[position + 1]]


def load_regions(spec: str) -> Regions:
    """'states' or 'states-juarez' for a built-in table (BUILTIN), else the path of a region
    CSV."""
    if spec in BUILTIN:
        text = (PACKAGE_DATA / "facts" / BUILTIN[spec]).read_text(encoding="utf-8")
        return _parse(text, spec)
    path = Path(spec)
    if not path.is_file():
        raise RegionError(
            f"{spec}: (file): no such region table (or use {' or '.join(map(repr, BUILTIN))})"
        )
    try:  # utf-8-sig: a table saved by Excel starts with a byte-order mark
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RegionError(f"{path.name}: (file): not UTF-8 text ({exc.reason})") from None
    return _parse(text, path.name)


def _parse(text: str, label: str) -> Regions:
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise RegionError(f"{label}: (file): no rows")
    missing = [c for c in REQUIRED if c not in rows[0]]
    if missing:
        raise RegionError(f"{label}: {missing[0]}: required column is missing")
    ids = np.array([_number(r, "id", label, k, int) for k, r in enumerate(rows)])
    if len(set(ids.tolist())) != len(ids):
        raise RegionError(f"{label}: id: duplicate region ids")
    population = np.array([_number(r, "population", label, k, float) for k, r in enumerate(rows)])
    if (population <= 0).any():
        k = int(np.flatnonzero(population <= 0)[0])
        raise RegionError(f"{label}: row {k + 2}: population: must be > 0")
    crossings = np.array(
        [
            _number(r, "crossings", label, k, float) if r.get("crossings") else 0.0
            for k, r in enumerate(rows)
        ]
    )
    position = {int(i): k for k, i in enumerate(ids)}
    pairs = set()
    for k, row in enumerate(rows):
        for word in (row["neighbours"] or "").split():
            try:
                other = position[int(word)]
            except (ValueError, KeyError):
                raise RegionError(
                    f"{label}: row {k + 2}: neighbours: unknown region {word!r}"
                ) from None
            if other != k:
                pairs.add((k, other))
                pairs.add((other, k))
    n = len(ids)
    ordered = sorted(pairs)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, np.array([a for a, _ in ordered], dtype=np.int64) + 1, 1)
    indptr = np.cumsum(indptr)
    indices = np.array([b for _, b in ordered], dtype=np.int64)
    grid = None
    if all(r.get("grid_row") and r.get("grid_col") for r in rows):
        grid = np.array(
            [
                [_number(r, "grid_row", label, k, int), _number(r, "grid_col", label, k, int)]
                for k, r in enumerate(rows)
            ]
        )
    abbr = [r["abbr"] for r in rows] if all(r.get("abbr") for r in rows) else None
    names = [r["name"] for r in rows]
    return Regions(ids, names, population, crossings, indptr, indices, grid, label, abbr)


def _number(row: dict, column: str, label: str, k: int, kind):
    """A cell as a finite, non-negative number of `kind`, or a one-line error naming it."""
    try:
        value = kind(row[column])
    except (TypeError, ValueError):
        raise RegionError(
            f"{label}: row {k + 2}: {column}: not a number (got {row[column]!r})"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise RegionError(
            f"{label}: row {k + 2}: {column}: must be a finite number >= 0 (got {row[column]!r})"
        )
    return value
