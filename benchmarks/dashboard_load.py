"""Dashboard under load: concurrent sessions re-running the aggregate engine against one server.

    python benchmarks/dashboard_load.py [--sessions 20] [--seconds 60] [--json]

Starts `cartelsim serve` on 127.0.0.1 (as the browser tests do, tests/browser/
dashboard_server.py) and one headless Chromium with one browser context per session. The
sessions load the page one after another (each load runs the default mexico-2006-2012
scenario); then all of them at once, for `--seconds`, move the recruitment lever to one end
and back, each move one run, waiting for each run to finish. Meanwhile the server's
resident memory is sampled every second. Then one session asks for 501 runs (over the
dashboard's limit of 500), which must be refused with a message. Reported: runs finished
per session, errors shown on any page, the server's memory after the sessions opened, at
its peak, every 10 s and at the end, and the CPU seconds the server process used while the
sessions worked (the rest of the machine's time went to the browser, which draws the charts).

Heavy: 20 sessions mean 20 browser pages on the machine running the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from dashboard_server import CHROMIUM, CHROMIUM_ARGS, running_dashboard  # noqa: E402

STATUS = ".cs-status"
ERRORS = ".cs-run-error, .cs-input-error, .cs-upload-error"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def finished(page) -> int:
    text = await page.locator(STATUS).inner_text()
    return int(text.split(":")[1].split("(")[0])


async def wait_ready(page, count: int, timeout: float = 120_000) -> None:
    await page.get_by_text(f"Runs finished: {count} (ready)").wait_for(timeout=timeout)


async def open_session(browser, url: str):
    """A new session (browser context) with its first run finished."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(url, timeout=120_000)
    await wait_ready(page, 1)
    return page


async def session(page, seconds: float) -> dict:
    """One user: flip the recruitment lever until time is up, each move one run."""
    slider = page.locator(".v-input", has_text="Recruitment change").get_by_role("slider")
    runs, problems, keys = 0, [], ["End", "Home"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        before = await finished(page)
        await slider.focus()
        await page.keyboard.press(keys[runs % 2])
        try:
            await wait_ready(page, before + 1)
            runs += 1
        except Exception as exc:  # a timeout: the run never finished
            problems.append(f"run did not finish: {type(exc).__name__}")
            break
        shown = await page.locator(ERRORS).all_inner_texts()
        if shown:
            problems.extend(shown)
            break
    body = await page.locator("body").inner_text()
    if "Traceback" in body:
        problems.append("a traceback on the page")
    return {"runs": runs, "problems": problems, "page": page}


async def oversized(page) -> str:
    """Ask for 501 runs; return the message the page shows."""
    field = page.get_by_label("Runs")
    await field.fill("501")
    await field.press("Enter")
    message = page.locator(".cs-input-error")
    await message.wait_for(timeout=30_000)
    return await message.inner_text()


async def load(url: str, pid: int, sessions: int, seconds: float) -> dict:
    samples: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Sessions open one after another (20 page loads at once overwhelm a 2-core
        # machine's browser, not the server), then all work at the same time.
        t0 = time.monotonic()
        pages = [await open_session(browser, url) for _ in range(sessions)]
        opening = time.monotonic() - t0
        opened = rss_mb(pid)
        cpu0 = cpu_seconds(pid)
        tasks = [asyncio.create_task(session(page, seconds)) for page in pages]
        t0 = time.monotonic()
        while not all(t.done() for t in tasks):
            samples.append(rss_mb(pid))
            await asyncio.sleep(1)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(pid) - cpu0
        outcomes = [t.result() for t in tasks]
        refusal = await oversized(outcomes[0]["page"])
        end = rss_mb(pid)
        await browser.close()
    return {
        "sessions": sessions,
        "seconds_to_open_sessions": round(opening, 1),
        "seconds": round(elapsed, 1),
        "runs_per_session": [o["runs"] for o in outcomes],
        "runs_total": sum(o["runs"] for o in outcomes),
        "runs_per_second": round(sum(o["runs"] for o in outcomes) / elapsed, 2),
        "server_cpu_seconds": round(cpu, 1),
        "machine_cores": os.cpu_count(),
        "problems": [p for o in outcomes for p in o["problems"]],
        "server_rss_mb_after_opening": round(opened, 1),
        "server_rss_mb_peak": round(max(samples, default=opened), 1),
        "server_rss_mb_end": round(end, 1),
        "server_rss_mb_every_10_s": [round(x) for x in samples[::10]],
        "oversized_request": refusal,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, running_dashboard(Path(folder)) as (url, server):
        outcome = asyncio.run(load(url, server.pid, args.sessions, args.seconds))
    if args.json:
        print(json.dumps(outcome, indent=2))
    else:
        for key, value in outcome.items():
            print(f"{key}: {value}")
    return 0 if not outcome["problems"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
