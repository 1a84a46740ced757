"""Shared fixtures: where the PC2023 files are, and small scenario documents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pc2023_dir() -> str:
    """The PC2023 authors' files: CARTELSIM_DATA_DIR, else ../shared beside the repo."""
    folder = os.environ.get("CARTELSIM_DATA_DIR") or str(
        REPO.parent / "shared" / "data" / "prieto-curiel-2023"
    )
    if not (Path(folder) / "BACRIM2020_Nodes.csv").is_file():
        pytest.fail(f"PC2023 data not found in {folder}; set CARTELSIM_DATA_DIR")
    return folder


def small_document(**changes) -> dict:
    """A two-group scenario document with a rivalry, for mechanism tests."""
    document = {
        "name": "small",
        "description": "two rival groups",
        "simulation": {"start": "2010-01-01", "weeks": 104},
        "parameters": {
            "recruitment_rate": 0.003,
            "incapacitation_form": "per_member",
            "incapacitation": 0.001,
            "conflict_lethality": 2e-8,
            "saturation": 1e-8,
        },
        "groups": [
            {"name": "Alpha", "short": "A", "initial_members": 10000},
            {"name": "Beta", "short": "B", "initial_members": 8000},
            {"name": "Gamma", "short": "C", "initial_members": 0},
        ],
        "network": {"rivalries": [{"groups": ["A", "B"], "weight": 5}]},
        "observation": {"cartel_share": 0.2},
    }
    document.update(changes)
    return document
