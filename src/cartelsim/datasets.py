"""Datasets that are not ours: where to read them, verify, download, read.

The PC2023 authors' files (Dryad doi:10.5061/dryad.zw3r228d7, mirrored as Zenodo record
8190491; CC0) ship with the package in data/pc2023/, so nothing needs downloading. The
folder read is, in order: an explicit folder (`--data-dir`), the environment variable
CARTELSIM_DATA_DIR, the packaged copy; whichever it is, each file is checked against its
MD5 before use. `cartelsim data fetch pc2023` downloads the files from the deposit with
pooch (into pooch's cache, MD5-checked) for a user who wants to verify against the source.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pooch

#: The package's own data (data/): built-in scenarios, facts with sources, policy levers.
PACKAGE_DATA = resources.files("cartelsim") / "data"

#: Where `cartelsim data fetch pc2023` downloads from: the Zenodo copy of the Dryad deposit.
PC2023_URL = "https://zenodo.org/records/8190491/files/"
#: MD5 of each file as deposited by the authors (Zenodo record 8190491); the packaged copy
#: in data/pc2023/ is byte-identical.
PC2023_FILES = {
    "BACRIM2020_Nodes.csv": "61fc004254c8ab1d2b5500f4337bc87d",
    "BACRIM2020_Rivals.csv": "00ae0e0b699c10167366ea3609230e48",
    "BACRIM2020_Alliances.csv": "064b9035fe627c89e7bfa9036eeb0116",
    "Trends2012_2021.csv": "93482031b1f6222b61f7d52e0d22ff6f",
}
PC2023_CITATION = (
    "Prieto-Curiel, Campedelli & Hope (2023), Science 381:1312, data: Zenodo record 8190491"
)


def fact_rows(file: str) -> list[dict[str, str]]:
    """Rows of a built-in fact file (data/facts/FILE), every row with its source column."""
    text = (PACKAGE_DATA / "facts" / file).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


class DataError(RuntimeError):
    """A dataset that is missing, corrupt or cannot be fetched; one line, says how to fix."""


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The local folder to read datasets from, if the user gave one."""
    chosen = explicit or os.environ.get("CARTELSIM_DATA_DIR")
    return Path(chosen) if chosen else None


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def packaged_pc2023() -> Path:
    """The copy of the PC2023 files that ships with the package (data/pc2023/)."""
    return Path(str(PACKAGE_DATA / "pc2023"))


def _verify_pc2023(folder: Path, fix: str) -> Path:
    """`folder` if it holds the four PC2023 files with their MD5; else a DataError."""
    for name, expected in PC2023_FILES.items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: missing; {fix}")
        if md5(path) != expected:
            raise DataError(
                f"{path}: MD5 {md5(path)} does not match {expected}: the file is damaged "
                f"or not the authors'; replace it with the one from {PC2023_URL}"
            )
    return folder


def fetch_pc2023(explicit_dir: str | Path | None = None) -> Path:
    """A folder holding the four verified PC2023 files: `explicit_dir`, else
    CARTELSIM_DATA_DIR, else the packaged copy. Never downloads (see download_pc2023)."""
    local = data_dir(explicit_dir)
    if local is not None:
        return _verify_pc2023(
            local,
            "put the PC2023 files there, or give no --data-dir and no CARTELSIM_DATA_DIR "
            "to use the copy that ships with cartelsim",
        )
    return _verify_pc2023(
        packaged_pc2023(),
        "the copy that ships with cartelsim is incomplete: reinstall cartelsim, or run "
        "'cartelsim data fetch pc2023' and pass --data-dir to the folder it prints",
    )


def download_pc2023() -> Path:
    """Download the four PC2023 files from the deposit into pooch's cache, MD5-checked
    (a cached file that is intact is not downloaded again); return the cache folder."""
    cache = pooch.os_cache("cartelsim") / "pc2023"
    fetcher = pooch.create(
        path=cache,
        base_url=PC2023_URL,
        registry={name: f"md5:{digest}" for name, digest in PC2023_FILES.items()},
    )
    for name, expected in PC2023_FILES.items():
        # pooch downloads again a cached file whose hash does not match (partial, damaged).
        cached = Path(cache) / name
        damaged = cached.is_file() and md5(cached) != expected
        try:
            fetcher.fetch(name)
        except ValueError as exc:  # pooch: hash mismatch
            raise DataError(f"{name}: downloaded file failed its MD5 check ({exc})") from None
        except Exception as exc:  # network down, HTTP error
            what = f"{cached}: damaged (MD5 mismatch), and" if damaged else f"{name}:"
            raise DataError(
                f"{what} could not download from {PC2023_URL} ({type(exc).__name__}); "
                "offline, pass --data-dir DIR (or set CARTELSIM_DATA_DIR) to a folder "
                "holding the four PC2023 files, or give neither to use the copy that "
                "ships with cartelsim"
            ) from None
    return Path(cache)


@dataclass(frozen=True)
class GroupNetwork:
    """Groups with symmetric rivalry and alliance weight matrices (n x n)."""

    names: list[str]
    shorts: list[str]
    rivalry: np.ndarray
    alliance: np.ndarray


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def load_pc2023_network(folder: Path) -> GroupNetwork:
    """The authors' 2020 snapshot: 150 groups; weights symmetrized with max(W, W^T)."""
    nodes = _rows(folder / "BACRIM2020_Nodes.csv")
    index = {row["Node"]: i for i, row in enumerate(nodes)}
    n = len(nodes)

    def matrix(file: str) -> np.ndarray:
        weights = np.zeros((n, n))
        for row in _rows(folder / file):
            i, j = index[row["Node"]], index[row["RNode"]]
            weights[i, j] = max(weights[i, j], float(row["weight"]))
        return np.maximum(weights, weights.T)

    shorts: list[str] = []
    for row in nodes:  # two groups share the short name "Tequileros": keep keys unique
        short = row["ShortName"]
        shorts.append(f"{short} ({row['Node']})" if short in shorts else short)
    return GroupNetwork(
        names=[row["Group"] for row in nodes],
        shorts=shorts,
        rivalry=matrix("BACRIM2020_Rivals.csv"),
        alliance=matrix("BACRIM2020_Alliances.csv"),
    )


def pc2023_node_ids(folder: Path) -> list[str]:
    """The authors' node ids (N10001...), in the order of load_pc2023_network's groups."""
    return [row["Node"] for row in _rows(folder / "BACRIM2020_Nodes.csv")]


def load_pc2023_trends(folder: Path) -> dict[str, dict[int, float]]:
    """Yearly national series 2012-2021 from the authors' Trends file."""
    series: dict[str, dict[int, float]] = {
        "homicides": {},
        "missing": {},
        "homicides_and_missing": {},
        "incarcerations": {},
    }
    for row in _rows(folder / "Trends2012_2021.csv"):
        year = int(row["YEAR"])
        series["homicides"][year] = float(row["homicide"])
        series["missing"][year] = float(row["missings"])
        series["homicides_and_missing"][year] = float(row["homicide"]) + float(row["missings"])
        series["incarcerations"][year] = float(row["arrests"])
    return series


def zipf_start(total: float, rivalry: np.ndarray, alliance: np.ndarray) -> np.ndarray:
    """PC2023 initial sizes: C_i = total * (1/r_i) / sum_k 1/k.

    r_i is the rank of group i by strength (sum of its rivalry and alliance weights after
    symmetrizing), descending, ties kept in file order (a stable sort).
    """
    strength = rivalry.sum(axis=1) + alliance.sum(axis=1)
    order = np.argsort(-strength, kind="stable")
    rank = np.empty(len(strength))
    rank[order] = np.arange(1, len(strength) + 1)
    harmonic = (1.0 / np.arange(1, len(strength) + 1)).sum()
    return total * (1.0 / rank) / harmonic
