"""Calibration benchmark: the full pc2023 ABC-SMC, and ensemble throughput with 1 and 2 workers.

    python benchmarks/calibration.py [--workers W] [--runs N] [--data-dir DIR] [--json]
                                     [--skip-calibration]

1. Wall time of `cartelsim calibrate pc2023` with the scenario's own settings (400 particles,
   up to 15 populations, stop at misfit 4.5) on `--workers` local processes (default 2),
   against DESIGN.md section 7's target of 10 minutes on 2 cores. JIT compilation is included:
   it is part of what a user waits for.
2. Ensemble throughput of `cartelsim run --runs N --workers W` (the ensemble module: chunks
   of runs computed in W processes, saved as .npz parts, then assembled into results.parquet
   and summary.json) for pc2023 in stochastic mode (large ensembles are for stochastic runs),
   with 1 and with 2 workers, one after the other in this process. Two rates each: runs per
   second until every part is saved (the parallel phase), and end to end with the final
   files (assembling ~80,000 table rows per run is serial). The report is skipped: it is
   plotting. Both results are checked identical (same seed).

The PC2023 files are read from --data-dir, else CARTELSIM_DATA_DIR, else downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from cartelsim import ensemble
from cartelsim.analysis.calibrate import calibrate
from cartelsim.scenario import load_scenario

TARGET_SECONDS = 600.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="processes for calibration")
    parser.add_argument("--runs", type=int, default=512, help="ensemble size (default 512)")
    parser.add_argument("--data-dir", default=os.environ.get("CARTELSIM_DATA_DIR"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-calibration", action="store_true")
    args = parser.parse_args(argv)
    report: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    }
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_calibration:
            start = time.perf_counter()
            summary = calibrate(
                "pc2023", Path(tmp) / "abc", workers=args.workers, data_dir=args.data_dir
            )
            seconds = time.perf_counter() - start
            report["calibration"] = {
                "workers": args.workers,
                "seconds": round(seconds, 1),
                "target_seconds": TARGET_SECONDS,
                "meets_target": seconds <= TARGET_SECONDS,
                "populations": summary["populations"],
                "particles": summary["particles"],
                "simulations": summary["simulations"],
                "final_epsilon": summary["epsilon"][-1],
                "model_probabilities": summary["model_probabilities"],
            }
        scenario = load_scenario("pc2023")
        stochastic = scenario.model_copy(
            update={"simulation": scenario.simulation.model_copy(update={"mode": "stochastic"})}
        )
        ensemble.run_ensemble(stochastic, 8, Path(tmp) / "warm", data_dir=args.data_dir)
        report["ensemble"] = {"scenario": "pc2023, stochastic", "runs": args.runs}
        finals = {}
        for workers in (1, 2):
            done, start = [0, None], time.perf_counter()

            def progress(n: int, done=done, start=start) -> None:
                done[0] += n
                if done[0] == args.runs:
                    done[1] = time.perf_counter() - start

            results, _ = ensemble.run_ensemble(
                stochastic, args.runs, Path(tmp) / f"w{workers}", workers=workers,
                data_dir=args.data_dir, progress=progress,
            )  # fmt: skip
            total = time.perf_counter() - start
            report["ensemble"][f"{workers}_worker"] = {
                "runs_per_second_computing": round(args.runs / done[1], 1),
                "runs_per_second_end_to_end": round(args.runs / total, 1),
            }
            finals[workers] = results.traj.members[-1]
        one, two = report["ensemble"]["1_worker"], report["ensemble"]["2_worker"]
        report["ensemble"]["speedup_computing"] = round(
            two["runs_per_second_computing"] / one["runs_per_second_computing"], 2
        )
        report["ensemble"]["identical"] = bool(np.array_equal(finals[1], finals[2]))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for section, values in report.items():
            print(f"{section}: {values}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
