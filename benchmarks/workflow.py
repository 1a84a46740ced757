"""Whole-workflow times (issue 16 item 4): what a user waits for, command by command.

    python benchmarks/workflow.py [--only NAME ...] [--populations N] [--ensemble-runs N]
                                  [--fallback-runs N] [--markdown FILE] [--json]

Each step is the `cartelsim` command a user types, run as a child process of this one
(`python -m cartelsim ...`, with this interpreter and its PYTHONPATH), one after the other,
into a fresh temporary folder, so that every figure includes the interpreter's start, the
imports, the Numba compilation (from its on-disk cache after the first run, as a user meets
it) and writing the results and the report:

    calibrate-pc2023     cartelsim calibrate pc2023                (the scenario's settings)
    calibrate-mexico     cartelsim calibrate mexico-2006-2012
    hindcast             cartelsim run mexico-2006-2012            (the default run)
    agents-1to1          cartelsim run mexico-2006-2012 --engine agents   (1:1, every person)
    ensemble-10000       cartelsim run pc2023 --mode stochastic --runs 10000 --workers 2
    compare              cartelsim compare pc2023-status-quo --policy halve-recruitment

The load average (1, 5 and 15 minutes) is printed before and after every step: on a shared
machine the figures mean little without it. When a step is refused before it starts (the
10,000-run pc2023 ensemble holds 8.1 MB per run in memory, more than a 24 GB machine has),
the refusal is printed and the step is timed again at --fallback-runs runs (or the largest
size the refusal names, whichever is smaller); the table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = {
    "calibrate-pc2023": ["calibrate", "pc2023", "--out", "{out}"],
    "calibrate-mexico": ["calibrate", "mexico-2006-2012", "--out", "{out}"],
    "hindcast": ["run", "mexico-2006-2012", "--out", "{out}"],
    "agents-1to1": ["run", "mexico-2006-2012", "--engine", "agents", "--out", "{out}"],
    "ensemble-10000": [
        "run",
        "pc2023",
        "--mode",
        "stochastic",
        "--runs",
        "{runs}",
        "--workers",
        "2",
        "--out",
        "{out}",
    ],  # fmt: skip
    "compare": ["compare", "pc2023-status-quo", "--policy", "halve-recruitment", "--out", "{out}"],
}


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def timed(args: list[str], log: Path) -> tuple[float, int, str]:
    """Wall seconds, exit status and the last stderr lines of `python -m cartelsim ARGS`."""
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "cartelsim", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "TQDM_DISABLE": "1"},
            check=False,
        )
    seconds = time.perf_counter() - start
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return seconds, proc.returncode, " | ".join(lines[-2:])


def step(name: str, tmp: Path, args: argparse.Namespace) -> dict:
    template = list(STEPS[name])
    if name.startswith("calibrate") and args.populations is not None:
        template += ["--populations", str(args.populations)]
    runs = args.ensemble_runs
    row: dict = {"step": name, "load_before": load()}
    for attempt in range(2):
        out = tmp / f"{name}-{attempt}"
        command = [part.format(out=out, runs=runs) for part in template]
        seconds, rc, tail = timed(command, tmp / f"{name}-{attempt}.log")
        row.update(
            command="cartelsim " + " ".join(c if c != str(out) else "DIR" for c in command),
            seconds=round(seconds, 1),
            rc=rc,
            load_after=load(),
        )
        if rc == 0 or name != "ensemble-10000" or attempt == 1:
            if rc != 0:
                row["error"] = tail
            break
        # Refused (too large for this machine): time the size that fits, and say so.
        row["refused"] = {"runs": runs, "seconds": round(seconds, 1), "message": tail}
        fits = re.search(r"--runs ([\d,]+) or less", tail)
        runs = min(args.fallback_runs, int(fits.group(1).replace(",", ""))) if fits else runs
        if not fits:
            row["error"] = tail
            break
    if name == "ensemble-10000":
        row["runs"] = runs
        if row["rc"] == 0:
            row["runs_per_second"] = round(runs / row["seconds"], 1)
    if name.startswith("calibrate") and row["rc"] == 0:
        summary = json.loads((tmp / f"{name}-0" / "summary.json").read_text(encoding="utf-8"))
        row["populations"] = summary.get("populations")
        row["particles"] = summary.get("particles")
    return row


def markdown(rows: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| step | command | wall time | load average before / after (1/5/15 min) | note |",
        "|---|---|---:|---|---|",
    ]
    for r in rows:
        note = []
        if "refused" in r:
            note.append(
                f"{r['refused']['runs']:,} runs refused in {r['refused']['seconds']} s: "
                f"{r['refused']['message'].removeprefix('cartelsim: ')}; timed at {r['runs']:,}"
            )
        if "runs_per_second" in r:
            note.append(f"{r['runs_per_second']} runs/s end to end")
        if "populations" in r:
            note.append(f"{r['populations']} populations of {r['particles']} particles")
        if r["rc"] != 0:
            note.append(f"exit {r['rc']}: {r.get('error', '')}")
        lines.append(
            f"| {r['step']} | `{r['command']}` | {r['seconds']:,.1f} s | "
            f"{r['load_before']} / {r['load_after']} | {'; '.join(note)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=list(STEPS), default=None)
    parser.add_argument(
        "--populations", type=int, default=None, help="calibrations: fewer populations"
    )
    parser.add_argument("--ensemble-runs", type=int, default=10_000)
    parser.add_argument("--fallback-runs", type=int, default=1_000)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{machine}; started {started}; load average {load()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cartelsim-workflow-") as tmp:
        for name in args.only or list(STEPS):
            row = step(name, Path(tmp), args)
            rows.append(row)
            print(json.dumps(row), flush=True)
    header = f"Measured {started} on {machine} (shared machine; load averages per step)."
    table = markdown(rows, header)
    print(json.dumps(rows, indent=2) if args.json else table)
    if args.markdown is not None:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
