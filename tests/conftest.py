"""Shared fixtures: where the PC2023 files are, small scenario documents, the browser."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))  # the dashboard tests' helpers


@pytest.fixture(scope="session")
def pc2023_dir() -> str:
    """The PC2023 authors' files, MD5-checked: CARTELSIM_DATA_DIR when set, else the copy
    that ships with the package (src/cartelsim/data/pc2023/). No download, no variable needed."""
    from cartelsim import datasets

    try:
        return str(datasets.fetch_pc2023())
    except datasets.DataError as exc:
        pytest.fail(f"PC2023 data: {exc}")


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


# --- the dashboard's browser tests (tests/browser/) -------------------------------------------
# Their fixtures live here rather than in tests/browser/conftest.py: two conftest.py files
# would both be imported as the module `conftest` and shadow each other.


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory):
    """One dashboard server for the session: (url, server process). Its posteriors: "tiny"
    (20 draws for mexico-2006-2012) and "broken" (a damaged posterior.parquet)."""
    from dashboard_server import running_dashboard, write_broken_posterior, write_posterior

    posteriors = tmp_path_factory.mktemp("posteriors")
    write_posterior(posteriors / "tiny", "mexico-2006-2012")
    write_broken_posterior(posteriors / "broken", "mexico-2006-2012")
    scenarios = tmp_path_factory.mktemp("scenarios")
    with running_dashboard(scenarios, posteriors) as (url, server):
        yield url, server


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's, see .ci/run) for the session."""
    from dashboard_server import CHROMIUM, launch_chromium
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        # `make test` installs Chromium when it is missing and, only if it could not, says why
        # in CARTELSIM_NO_BROWSER: then skip. Anything else is a broken setup: fail.
        reason = os.environ.get("CARTELSIM_NO_BROWSER")
        if reason:
            pytest.skip(f"browser tests skipped: {reason}")
        pytest.fail(
            f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium) or "
            "apt-get install chromium"
        )
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
