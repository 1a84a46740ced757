"""Checksums and range checks for the arrays and tables cartelsim saves and reads back.

A saved file (an ensemble's part, a posterior table) says what it holds and carries the
SHA-256 of its contents; whoever reads it recomputes the checksum and checks every value
against its physical range before using it. The zip CRC of a part and the page checksums of
a Parquet file catch most damage, but not a file replaced by a well-formed one with other
numbers (a part copied over another, a column edited with pandas): the checksum over the
contents and the range checks do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import numpy as np
import pandas as pd


def digest_arrays(arrays: Mapping[str, np.ndarray], identity: object = None) -> str:
    """SHA-256 over the arrays (name, dtype, shape and bytes, by name) and an identity that
    is JSON-able (so an edited identity does not keep the old checksum)."""
    h = hashlib.sha256()
    h.update(json.dumps(identity, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def digest_frame(table: pd.DataFrame) -> str:
    """SHA-256 over a table's column names, types and values, in column order."""
    h = hashlib.sha256()
    for name in table.columns:
        column = table[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            data = np.ascontiguousarray(column.to_numpy(dtype=np.float64))
            h.update(f"\0{name}\0f8\0{len(data)}\0".encode())
            h.update(data.tobytes())
        else:
            text = "\0".join(map(str, column.tolist()))
            h.update(f"\0{name}\0str\0{len(column)}\0".encode())
            h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def first_bad(values: np.ndarray, low: float, high: float) -> tuple[int, float] | None:
    """The flat index and value of the first element that is not finite or outside
    [low, high]; None when every element is in range."""
    values = np.asarray(values)
    if values.size == 0:
        return None
    if values.dtype.kind not in "fiub":
        return (0, float("nan"))
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < low) | (values > high)
    if not bad.any():
        return None
    k = int(np.flatnonzero(bad.reshape(-1))[0])
    return k, float(values.reshape(-1)[k])


def describe_range(low: float, high: float) -> str:
    """'between 0 and 10', '>= 0', for messages."""
    if high == np.inf:
        return f"finite and >= {low:g}"
    return f"between {low:g} and {high:g}"
