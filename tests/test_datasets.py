"""Datasets: where the PC2023 files are read from, and files whose MD5 does not match are
refused, with a one-line message."""

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


def test_packaged_copy_is_the_authors_files_with_its_licence():
    """The package ships the four files byte for byte, with their licence and provenance."""
    folder = datasets.packaged_pc2023()
    for name, digest in datasets.PC2023_FILES.items():
        assert datasets.md5(folder / name) == digest, name
    assert "CC0" in (folder / "LICENSE").read_text(encoding="utf-8")
    provenance = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "10.5061/dryad.zw3r228d7" in provenance
    assert all(digest in provenance for digest in datasets.PC2023_FILES.values())


def test_order_is_explicit_then_environment_then_packaged(monkeypatch, tmp_path):
    """--data-dir beats CARTELSIM_DATA_DIR, which beats the packaged copy; none downloads."""

    def no_network(*args, **kwargs):
        raise AssertionError("fetch_pc2023 must not download")

    monkeypatch.setattr(pooch.Pooch, "fetch", no_network)
    env, explicit = tmp_path / "env", tmp_path / "explicit"
    for folder in (env, explicit):
        shutil.copytree(datasets.packaged_pc2023(), folder)
    monkeypatch.delenv("CARTELSIM_DATA_DIR", raising=False)
    assert datasets.fetch_pc2023() == datasets.packaged_pc2023()
    monkeypatch.setenv("CARTELSIM_DATA_DIR", str(env))
    assert datasets.fetch_pc2023() == env
    assert datasets.fetch_pc2023(explicit) == explicit
    # A folder the user named is never silently replaced by the packaged copy.
    (env / "BACRIM2020_Rivals.csv").unlink()
    with pytest.raises(datasets.DataError, match=r"env/BACRIM2020_Rivals.csv: missing"):
        datasets.fetch_pc2023()


def test_damaged_packaged_copy_is_refused(monkeypatch, tmp_path):
    """The packaged copy is checked like any folder."""
    monkeypatch.delenv("CARTELSIM_DATA_DIR", raising=False)
    shutil.copytree(datasets.packaged_pc2023(), tmp_path / "pc2023")
    nodes = tmp_path / "pc2023" / "BACRIM2020_Nodes.csv"
    nodes.write_bytes(nodes.read_bytes()[:-1])
    monkeypatch.setattr(datasets, "packaged_pc2023", lambda: tmp_path / "pc2023")
    with pytest.raises(datasets.DataError, match=r"BACRIM2020_Nodes.csv: MD5 \w+ does not match"):
        datasets.fetch_pc2023()


def test_pc2023_runs_without_data_dir_or_network(monkeypatch):
    """`cartelsim run pc2023` needs no download: the network comes from the packaged copy."""
    from cartelsim.plan import make_plan
    from cartelsim.scenario import load_scenario

    def no_network(*args, **kwargs):
        raise AssertionError("no download expected")

    monkeypatch.setattr(pooch.Pooch, "fetch", no_network)
    monkeypatch.delenv("CARTELSIM_DATA_DIR", raising=False)
    plan = make_plan(load_scenario("pc2023"))
    assert len(plan.names) == 150


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
        datasets.download_pc2023()


def test_offline_download_says_how_to_supply_the_folder(monkeypatch, tmp_path):
    """Without network the message says to pass --data-dir or use the packaged copy."""
    monkeypatch.delenv("CARTELSIM_DATA_DIR", raising=False)
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path)

    def offline(self, name, processor=None, downloader=None, progressbar=False):
        raise ConnectionError("no network")

    monkeypatch.setattr(pooch.Pooch, "fetch", offline)
    with pytest.raises(datasets.DataError, match="--data-dir.*ships with cartelsim"):
        datasets.download_pc2023()
