"""Reliability 6: a damaged or partial cached dataset is caught by its hash and downloaded
again; offline, the message says how to supply the files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pooch
import pytest

from cartelsim import datasets


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    """An empty pooch cache in tmp_path, no CARTELSIM_DATA_DIR."""
    monkeypatch.delenv("CARTELSIM_DATA_DIR", raising=False)
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path)
    return tmp_path / "pc2023"


REAL_FETCH = pooch.Pooch.fetch


def _download_with(downloader, monkeypatch) -> None:
    """Make pooch use `downloader` instead of the network."""

    def fetch(self, name, processor=None, downloader_=None, progressbar=False):
        return REAL_FETCH(self, name, downloader=downloader)

    monkeypatch.setattr(pooch.Pooch, "fetch", fetch)


def _serve_from(folder: str, monkeypatch) -> list[str]:
    """Make pooch 'download' by copying from `folder`; return the names it fetched."""
    fetched: list[str] = []

    def copy_download(url, output_file, pooch_instance):
        name = url.rsplit("/", 1)[-1]
        fetched.append(name)
        shutil.copy(Path(folder) / name, output_file)

    _download_with(copy_download, monkeypatch)
    return fetched


def test_damaged_and_partial_cached_files_are_downloaded_again(cache, pc2023_dir, monkeypatch):
    """A cached file with one changed byte and another cut in half are both fetched again;
    intact ones are not."""
    fetched = _serve_from(pc2023_dir, monkeypatch)
    assert datasets.download_pc2023() == cache
    assert sorted(fetched) == sorted(datasets.PC2023_FILES)
    fetched.clear()
    nodes, rivals = cache / "BACRIM2020_Nodes.csv", cache / "BACRIM2020_Rivals.csv"
    data = bytearray(nodes.read_bytes())
    data[100] ^= 0x01
    nodes.write_bytes(bytes(data))
    rivals.write_bytes(rivals.read_bytes()[: rivals.stat().st_size // 2])
    datasets.download_pc2023()
    assert sorted(fetched) == ["BACRIM2020_Nodes.csv", "BACRIM2020_Rivals.csv"]
    for name, digest in datasets.PC2023_FILES.items():
        assert datasets.md5(cache / name) == digest


def test_partial_cached_file_offline_says_how_to_supply_the_folder(cache, pc2023_dir, monkeypatch):
    """Offline with a cut cached file: one line naming the damaged file and --data-dir."""
    _serve_from(pc2023_dir, monkeypatch)
    datasets.download_pc2023()
    trends = cache / "Trends2012_2021.csv"
    trends.write_bytes(trends.read_bytes()[:50])

    def offline(url, output_file, pooch_instance):
        raise ConnectionError("no network")

    _download_with(offline, monkeypatch)
    with pytest.raises(datasets.DataError) as info:
        datasets.download_pc2023()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{trends}: damaged (MD5 mismatch), and could not download")
    assert "pass --data-dir DIR (or set CARTELSIM_DATA_DIR)" in message


def test_damaged_local_folder_file_says_what_to_do(pc2023_dir, tmp_path):
    """A local copy with a damaged file is refused with where to get the right one."""
    for name in datasets.PC2023_FILES:
        shutil.copy(Path(pc2023_dir) / name, tmp_path / name)
    nodes = tmp_path / "BACRIM2020_Nodes.csv"
    nodes.write_bytes(nodes.read_bytes()[:-10])
    with pytest.raises(datasets.DataError, match=r"does not match .*replace it with the one"):
        datasets.fetch_pc2023(tmp_path)
