"""Hostile input, posterior files: a posterior.parquet is read only when it is whole (Parquet
page checksums, the SHA-256 of its columns in its metadata and in the summary.json beside
it) and every value is one a parameter can have. Otherwise one line naming the file, the
column and the row. Families 6 and 7 of issue 15 (posteriors).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hostile_helpers import HOSTILE, assert_clean, cli

from cartelsim.analysis.calibrate import read_posterior, write_posterior

PARTICLES = 12


def posterior_table() -> pd.DataFrame:
    """Two models (incapacitation forms), each with its particles, weights and probability,
    around mexico-2006-2012's values."""
    rng = np.random.default_rng(1)
    frames = []
    for form, probability, incapacitation in (
        ("fixed_count", 0.4, 300.0),
        ("per_member", 0.6, 0.01),
    ):
        frames.append(
            pd.DataFrame(
                {
                    "incapacitation_form": form,
                    "model_probability": probability,
                    "weight": rng.dirichlet(np.ones(PARTICLES)),
                    "recruitment_rate": 0.0136 * rng.lognormal(0, 0.1, PARTICLES),
                    "conflict_lethality": 2.2e-10 * rng.lognormal(0, 0.1, PARTICLES),
                    "incapacitation": incapacitation * rng.lognormal(0, 0.1, PARTICLES),
                    "initial_members_total": 60_000 * rng.lognormal(0, 0.1, PARTICLES),
                    "cartel_share": rng.uniform(0.05, 0.25, PARTICLES),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def write_calibration(folder: Path, table: pd.DataFrame | None = None) -> Path:
    """A calibration's posterior.parquet and summary.json, as `calibrate` writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = write_posterior(
        posterior_table() if table is None else table, folder / "posterior.parquet"
    )
    summary = {"scenario": "mexico-2006-2012", "fixed": {}, "posterior_sha256": digest}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder / "posterior.parquet"


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Path:
    return write_calibration(tmp_path_factory.mktemp("posterior") / "ok")


def test_a_valid_posterior_reads_back_and_compares(valid):
    assert read_posterior(valid).equals(posterior_table())
    args = ["compare", "mexico-2006-2012", "--policy", "halve-recruitment"]
    status, _, err = cli(
        *args, "--posterior", valid.parent, "--runs", "6", "--out", valid.parent.parent / "c"
    )
    assert_clean(status, err, ok=True)


def _set(column: str, value, rows=slice(0, 1)):
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table = table.copy()
        if column not in table:
            table[column] = 0.5
        table[column] = table[column].astype(
            object if isinstance(value, str) else table[column].dtype
        )
        table.loc[table.index[rows], column] = value
        return table

    return change


#: Edits made by someone who knows the format (the checksum recomputed): only the range
#: checks can refuse them. Each names the column the message must name.
EDITS = {
    "negative rate": (_set("recruitment_rate", -0.01), "recruitment_rate"),
    "rate above 10 per week": (_set("recruitment_rate", 50.0), "recruitment_rate"),
    "1e308 members": (_set("initial_members_total", 1e308), "initial_members_total"),
    "zero share": (_set("cartel_share", 0.0), "cartel_share"),
    "share above 1": (_set("cartel_share", 1.5), "cartel_share"),
    "denormal share": (_set("cartel_share", 5e-324), "cartel_share"),
    "NaN rate": (_set("conflict_lethality", np.nan), "conflict_lethality"),
    "infinite members": (_set("initial_members_total", np.inf), "initial_members_total"),
    "per-member rate of 300": (_set("incapacitation", 300.0, slice(12, 13)), "incapacitation"),
    "NaN weight": (_set("weight", np.nan), "weight"),
    "negative weight": (_set("weight", -1.0), "weight"),
    "infinite weight": (_set("weight", np.inf), "weight"),
    "all weights 0 in a model": (_set("weight", 0.0, slice(0, PARTICLES)), "weight"),
    "NaN probability": (_set("model_probability", np.nan), "model_probability"),
    "probability 2": (_set("model_probability", 2.0, slice(None)), "model_probability"),
    "all probabilities 0": (_set("model_probability", 0.0, slice(None)), "model_probability"),
    "probabilities differ in a model": (_set("model_probability", 0.1), "model_probability"),
    "NaN sampler weight": (_set("sampler_weight", np.nan, slice(None)), "sampler_weight"),
    "sampler weight 2": (_set("sampler_weight", 2.0, slice(None)), "sampler_weight"),
    "unknown form": (_set("incapacitation_form", "daily"), "incapacitation_form"),
    "unknown parameter": (_set("growth_rate", 0.1, slice(None)), "growth_rate"),
    "text in a rate": (_set("recruitment_rate", "fast", slice(None)), "recruitment_rate"),
    "no weight column": (lambda t: t.drop(columns="weight"), "weight"),
    "no particles": (lambda t: t.iloc[:0], "no particles"),
    "only meta columns": (
        lambda t: t[["incapacitation_form", "model_probability", "weight"]],
        "no parameter",
    ),
}


@pytest.mark.parametrize("case", EDITS)
def test_impossible_values_are_refused_naming_the_column(tmp_path, case):
    edit, column = EDITS[case]
    path = write_calibration(tmp_path / "cal", edit(posterior_table()))
    with pytest.raises(ValueError) as info:
        read_posterior(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and column in message and "\n" not in message
    status, _, err = cli(
        "compare", "mexico-2006-2012", "--policy", "halve-recruitment",
        "--posterior", path.parent, "--runs", "4", "--out", tmp_path / "c",
    )  # fmt: skip
    assert_clean(status, err, ok=False)
    assert str(path) in err
    assert not (tmp_path / "c").exists()


def test_a_column_edited_with_pandas_fails_the_summary_checksum(valid, tmp_path):
    """A plausible value (a flipped low bit of a rate) written back with pandas: the file's
    own checksum is gone, and summary.json's posterior_sha256 no longer matches."""
    folder = tmp_path / "cal"
    shutil.copytree(valid.parent, folder)
    table = read_posterior(folder / "posterior.parquet")
    bits = table["recruitment_rate"].to_numpy().view(np.uint64).copy()
    bits[3] ^= 1 << 40
    table["recruitment_rate"] = bits.view(np.float64)
    table.to_parquet(folder / "posterior.parquet", index=False)
    with pytest.raises(ValueError, match="does not match the posterior_sha256"):
        read_posterior(folder / "posterior.parquet")
    (folder / "summary.json").unlink()  # without the summary, the file alone cannot tell
    edited = read_posterior(folder / "posterior.parquet")["recruitment_rate"][3]
    assert edited != posterior_table()["recruitment_rate"][3]


def test_metadata_kept_but_a_value_changed(valid, tmp_path):
    """A value changed with pyarrow, the schema metadata (and its checksum) kept."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "cal"
    shutil.copytree(valid.parent, folder)
    (folder / "summary.json").unlink()
    arrow = pq.read_table(folder / "posterior.parquet")
    column = arrow.column("cartel_share").to_numpy().copy()
    column[0] = 0.2
    arrow = arrow.set_column(
        arrow.schema.get_field_index("cartel_share"), "cartel_share", pa.array(column)
    )
    pq.write_table(arrow, folder / "posterior.parquet")
    with pytest.raises(ValueError, match="do not match the checksum written with them"):
        read_posterior(folder / "posterior.parquet")


@settings(HOSTILE, max_examples=60)
@given(position=st.integers(0, 10**7), bit=st.integers(0, 7))
def test_flipped_bits_are_an_error_or_change_nothing(valid, tmp_path_factory, position, bit):
    """A bit flipped anywhere in the file: a one-line error naming it, or (in bytes the
    reader does not use) the same table. Never other numbers."""
    data = bytearray(valid.read_bytes())
    position %= len(data)
    data[position] ^= 1 << bit
    folder = tmp_path_factory.mktemp("flip")
    shutil.copy(valid.parent / "summary.json", folder)
    path = folder / "posterior.parquet"
    path.write_bytes(bytes(data))
    try:
        table = read_posterior(path)
    except ValueError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
    else:
        assert table.equals(posterior_table()), f"a flip at byte {position} changed numbers"


def test_files_that_are_not_posteriors(tmp_path):
    """Empty, cut, not Parquet, a folder, /dev/zero, a 300 MB sparse file."""
    data = write_calibration(tmp_path / "ok").read_bytes()
    cases = {"empty": b"", "cut": data[: len(data) // 2], "junk": b"PAR1 not parquet PAR1"}
    for name, content in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "posterior.parquet").write_bytes(content)
    (tmp_path / "folder" / "posterior.parquet").mkdir(parents=True)
    huge = tmp_path / "huge"
    huge.mkdir()
    with open(huge / "posterior.parquet", "wb") as f:
        f.truncate(300 * 2**20)
    for name in (*cases, "folder", "huge"):
        path = tmp_path / name / "posterior.parquet"
        with pytest.raises(ValueError, match="not a readable posterior table"):
            read_posterior(path)
    with pytest.raises(ValueError, match="not a regular file"):
        read_posterior("/dev/zero")
    status, _, err = cli(
        "compare", "mexico-2006-2012", "--policy", "halve-recruitment",
        "--posterior", tmp_path / "missing-folder", "--out", tmp_path / "c",
    )  # fmt: skip
    assert_clean(status, err, ok=False)
    assert "--posterior" in err


def test_a_posterior_without_checksums_is_still_range_checked(tmp_path):
    """Written by hand with pandas (no metadata, no summary checksum): read, with the same
    range checks."""
    folder = tmp_path / "hand"
    folder.mkdir()
    posterior_table().to_parquet(folder / "posterior.parquet", index=False)
    assert len(read_posterior(folder / "posterior.parquet")) == 2 * PARTICLES
    _set("cartel_share", 0.0)(posterior_table()).to_parquet(folder / "posterior.parquet")
    with pytest.raises(ValueError, match="cartel_share"):
        read_posterior(folder / "posterior.parquet")
