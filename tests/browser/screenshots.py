"""Take the README's screenshots of the dashboard and the reports, and time how fast a lever
updates the page.

    .venv/bin/python tests/browser/screenshots.py [--moves 10] [--reports-only]

Starts `cartelsim serve` like the browser tests do, drives headless Chromium through the main
views and writes docs/screenshots/*.png. First it moves the recruitment lever `--moves` times
(the default scenario, one deterministic run) and prints the time from the key press to the
page showing the new run's total and figure (median and maximum), measured in the browser:
what a user waits for, not only the engine's time.

Then the reports, opened from their files: the run report of `cartelsim run
mexico-2006-2012` (report.png: its findings and first charts) and the report of a short
calibration of mexico-2006-2012 (calibration-report.png: the posterior-predictive check; 4
populations of 150 particles, about a minute, where the scenario's 15 x 300 take minutes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from dashboard_server import launch_chromium, open_dashboard, running_dashboard
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: Runs shown in the screenshots (stochastic, so that the bands show).
SHOWN_RUNS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--reports-only", action="store_true", help="only the reports' shots")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.reports_only:
        _dashboard(args.moves)
    _reports()


def _reports() -> None:
    """The run report and the calibration report, as a reader first sees them."""
    from cartelsim.analysis.calibrate import calibrate
    from cartelsim.report import calibration_report
    from cartelsim.report.run_report import write_report
    from cartelsim.runner import run

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        report = write_report(run("mexico-2006-2012"), Path(folder) / "report.html")
        out = Path(folder) / "calibration"
        calibrate("mexico-2006-2012", out, populations=4, particles=150,
                  write_report=calibration_report.write)  # fmt: skip
        calibration = out / "report.html"
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport={"width": 1280, "height": 1800}).new_page()
        for path, name, anchor in (
            (report, "report", "#chart-members"),
            (calibration, "calibration-report", "#chart-target-1"),
        ):
            page.goto(path.as_uri())
            page.locator(f"{anchor} svg.marks").wait_for(timeout=30_000)
            page.wait_for_timeout(800)
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(OUT / f"{name}.png")
        browser.close()


def _dashboard(moves: int) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        running_dashboard(Path(folder)) as (url, _),
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        page = open_dashboard(browser, url, width=1280, height=1000)
        slider = page.locator(".v-input", has_text="Recruitment change").get_by_role("slider")
        times = []
        for k in range(moves):
            slider.focus()
            start = time.perf_counter()
            _wait_change(page, lambda k=k: page.keyboard.press("Home" if k % 2 else "End"))
            times.append(time.perf_counter() - start)
        print(
            f"lever move to updated page, {moves} moves: median "
            f"{statistics.median(times):.2f} s, max {max(times):.2f} s"
        )
        _wait_run(page, lambda: page.get_by_role("button", name="stochastic").click())
        runs = page.get_by_label("Runs")
        runs.fill(str(SHOWN_RUNS))
        _wait_run(page, lambda: runs.press("Enter"))
        slider.focus()
        _wait_run(page, lambda: page.keyboard.press("End"))
        _wait_run(page, lambda: [page.keyboard.press("PageDown") for _ in range(5)][-1])
        chart = page.locator(".cs-chart svg.marks").nth(1)  # hover: the tooltip shows values
        box = chart.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.5)
        page.locator("#vg-tooltip-element").wait_for(state="visible")
        _shot(page, "time-series")
        page.mouse.move(0, 0)
        page.get_by_role("button", name="map", exact=True).click()
        page.locator(".cs-map-caption").wait_for()
        page.locator(".cs-chart svg.marks").first.wait_for()
        _shot(page, "map")
        page.get_by_role("button", name="compare", exact=True).click()
        page.locator(".cs-comparison").wait_for()
        page.locator(".cs-chart svg.marks").nth(3).wait_for()
        _shot(page, "compare")
        browser.close()


def _wait_change(page, action) -> None:
    """Do `action`; wait until the killings total and the first figure have both changed."""
    before = page.evaluate(_STATE)
    action()
    page.wait_for_function(
        f"before => {{ const now = ({_STATE})(); "
        "return now[0] != before[0] && now[1] != before[1] && now[2]; }",
        arg=before,
        timeout=60_000,
    )


def _wait_run(page, action) -> None:
    """Do `action`; wait until one more run has finished and none is going on."""
    done = int(page.locator(".cs-status").inner_text().split(":")[1].split("(")[0])
    action()
    page.wait_for_function(
        "done => { const t = document.querySelector('.cs-status').innerText; "
        "return parseInt(t.split(':')[1]) > done && t.endsWith('(ready)'); }",
        arg=done,
        timeout=60_000,
    )


#: The killings total, the first chart as drawn (SVG), and whether no run is going on.
_STATE = """() => [
    document.querySelector('.cs-killings-total').innerText,
    document.querySelector('.cs-chart svg.marks') ?
        document.querySelector('.cs-chart svg.marks').innerHTML : '',
    document.querySelector('.cs-status').innerText.endsWith('(ready)'),
]"""


def _shot(page, name: str) -> None:
    page.wait_for_timeout(800)  # let the browser draw the new charts
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
