"""Start `cartelsim serve` on a free 127.0.0.1 port and a headless Chromium to look at it.

Shared by the browser tests (conftest.py) and the screenshot script (screenshots.py).
Chromium is Debian's (`apt-get install chromium`; .ci/run installs it): Playwright's own
browser download does not work on the machines this project runs on.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: A scenario file that loads but whose run fails: it starts from a scenario that does not exist.
FAILING_SCENARIO = """
extends = "mexico-2006-2012"
name = "starts-from-nowhere"
description = "loads, but its run fails: start_from names no scenario"
[simulation]
start_from = "no-such-scenario"
"""


def write_posterior(folder: Path, scenario_name: str, draws: int = 20, seed: int = 0) -> Path:
    """A small calibration output in `folder` (posterior.parquet, summary.json) laid out as
    `cartelsim calibrate` writes it, made without calibrating (which takes many seconds): the
    scenario's own values times a log-normal spread of 20 % (a test input, not an estimate)."""
    from cartelsim import load_scenario

    scenario = load_scenario(scenario_name)
    rng = np.random.default_rng(seed)
    centres = {
        "recruitment_rate": scenario.parameters.recruitment_rate.value,
        "conflict_lethality": scenario.parameters.conflict_lethality.value,
        "cartel_share": scenario.observation.cartel_share.value,
    }
    table = pd.DataFrame(
        {
            "incapacitation_form": scenario.parameters.incapacitation_form,
            "model_probability": 1.0,
            "weight": np.full(draws, 1.0 / draws),
            **{k: v * rng.lognormal(0.0, 0.2, draws) for k, v in centres.items()},
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    table.to_parquet(folder / "posterior.parquet", index=False)
    summary = {"scenario": scenario.name, "fixed": {}, "particles": draws}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def write_broken_posterior(folder: Path, scenario_name: str) -> Path:
    """A calibration folder whose posterior.parquet is damaged (not Parquet)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "posterior.parquet").write_bytes(b"PAR1 this is not a parquet file")
    summary = {"scenario": scenario_name, "fixed": {}}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_dashboard(
    scenario_dir: Path, posterior_dir: Path | None = None, timeout: float = 120.0
):
    """Yield the URL of a dashboard server with `scenario_dir` as its scenario folder (and
    `posterior_dir` as its folder of calibration outputs, if given)."""
    (scenario_dir / "starts-from-nowhere.toml").write_text(FAILING_SCENARIO, encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CARTELSIM_DATA_DIR"}
    command = [sys.executable, "-m", "cartelsim", "serve", "--port", str(port)]
    command += ["--scenarios", str(scenario_dir)]
    if posterior_dir is not None:
        command += ["--posteriors", str(posterior_dir)]
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"cartelsim serve exited: {server.stderr.read()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield url, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_dashboard(browser, url: str, width: int = 1500, height: int = 1100):
    """A new session (its own browser context) with the first run finished."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url)
    wait_for_runs(page, 1)
    return page


def wait_for_runs(page, finished: int, timeout: float = 30_000) -> None:
    """Wait until the page says `finished` runs are done and none is running."""
    page.get_by_text(f"Runs finished: {finished} (ready)").wait_for(timeout=timeout)


def finished_runs(page) -> int:
    text = page.locator(".cs-status").inner_text()
    return int(text.split(":")[1].split("(")[0])
