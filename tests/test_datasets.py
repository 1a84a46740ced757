"""Datasets: files whose MD5 does not match are refused, with a one-line message."""

from __future__ import annotations

import shutil

import pooch
import pytest

from cartelsim import datasets


def test_local_folder_is_verified(pc2023_dir, tmp_path):
    """A local copy passes when intact and is refused when a file is altered or missing."""
    assert datasets.fetch_pc2023(pc2023_dir) == datasets.Path(pc2023_dir)
    for name in datasets.PC2023_FILES:
        shutil.copy(datasets.Path(pc2023_dir) / name, tmp_path / name)
    with open(tmp_path / "Trends2012_2021.csv", "a", encoding="utf-8") as f:
        f.write("2022,1,1,1\n")
    with pytest.raises(datasets.DataError, match=r"Trends2012_2021.csv: MD5 \w+ does not match"):
        datasets.fetch_pc2023(tmp_path)
    (tmp_path / "BACRIM2020_Nodes.csv").unlink()
    with pytest.raises(datasets.DataError, match="BACRIM2020_Nodes.csv: missing"):
        datasets.fetch_pc2023(tmp_path)


def test_download_refuses_a_file_whose_md5_does_not_match(monkeypatch, tmp_path):
    """pooch's hash check failure becomes a DataError naming the file."""
    monkeypatch.delenv("CARTELSIM_DATA_DIR", raising=False)
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path)

    def corrupt_download(url, output_file, pooch_instance):
        with open(output_file, "w", encoding="utf-8") as f:
            f.write("not the authors' file\n")

    original = pooch.Pooch.fetch

    def fetch(self, name, processor=None, downloader=None, progressbar=False):
        return original(self, name, downloader=corrupt_download)

    monkeypatch.setattr(pooch.Pooch, "fetch", fetch)
    with pytest.raises(
        datasets.DataError, match="BACRIM2020_Nodes.csv: downloaded file failed its MD5"
    ):
        datasets.fetch_pc2023()


def test_offline_download_says_how_to_supply_the_folder(monkeypatch, tmp_path):
    """Without network the message says to pass --data-dir."""
    monkeypatch.delenv("CARTELSIM_DATA_DIR", raising=False)
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path)

    def offline(self, name, processor=None, downloader=None, progressbar=False):
        raise ConnectionError("no network")

    monkeypatch.setattr(pooch.Pooch, "fetch", offline)
    with pytest.raises(datasets.DataError, match="--data-dir"):
        datasets.fetch_pc2023()
