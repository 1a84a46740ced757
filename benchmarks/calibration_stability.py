"""Is the calibration stable? Calibrations that differ only in the seed, compared in pairs.

    python benchmarks/calibration_stability.py [SCENARIO] [--seeds 1 2 3] [--shares 0.05 0.1 0.2]
        [--particles N] [--populations K] [--workers W] [--out DIR] [--json]

Issue "One Mexico", item 6: two calibrations of a scenario that differ only in the seed must
give posterior medians of the members at every date the summary reports
(analysis.calibrate.REPORT_DATES) within 10 % of each other, and 90 % intervals that
overlap by at least 80 % (overlap: the length of the intersection over the length of the
longer interval, so two intervals of which one holds the other but is twice as long fail).
With more than two seeds every pair must pass: two seeds that agree can hide a third that
does not (at 1,000 particles seeds 1 and 2 agreed within 7 %, seed 3 was 28-36 % below).

The medians and intervals are the summary's `derived` quantities: weighted over every
particle of the final population, each run once (calibrate.particle_runs), so the comparison
measures the two SMC runs, not the noise of a finite resample of each. The weights are the
Pareto-smoothed ones every estimate uses (calibrate.smooth_weights); the effective sample
size and k-hat printed are the sampler's, before smoothing.

The share s and the members move together (DESIGN 3.1's invariance), so with s free the
members are only as stable as the posterior of s. `--shares` repeats the test with s fixed
at each value (calibrate --fix cartel_share=S): the answer the report shows per share.

SCENARIO is a built-in name or a TOML file (benchmarks/scenarios/mexico-final16k.toml: the
last population twice as large). Each calibration is written to
OUT/<scenario name or file stem>-s<share or free>-seed<seed> and is continued,
not redone, when the folder is there (calibrate resumes); the comparison is printed and
written to OUT/stability.json. Times are wall-clock seconds with the load average at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

from cartelsim.analysis.calibrate import calibrate

MEDIAN_TOLERANCE = 0.10
OVERLAP_REQUIRED = 0.80


def overlap(a: dict, b: dict) -> float:
    """Length of the intersection of two 90 % intervals over the longer one's length."""
    low, high = max(a["q05"], b["q05"]), min(a["q95"], b["q95"])
    longer = max(a["q95"] - a["q05"], b["q95"] - b["q05"])
    if longer <= 0:
        return 1.0 if low <= high else 0.0
    return max(high - low, 0.0) / longer


def compare(first: dict, second: dict) -> list[dict]:
    """Members at each reported date: both calibrations' medians and intervals, the
    relative difference of the medians and the overlap, and whether both criteria pass."""
    rows = []
    for key in first["derived"]:
        if not key.startswith("members_") or key not in second["derived"]:
            continue
        a, b = first["derived"][key], second["derived"][key]
        difference = abs(a["median"] - b["median"]) / max(min(a["median"], b["median"]), 1e-9)
        share = overlap(a, b)
        rows.append(
            {
                "quantity": key,
                "first": a,
                "second": b,
                "median_difference": difference,
                "overlap": share,
                "stable": difference <= MEDIAN_TOLERANCE and share >= OVERLAP_REQUIRED,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="mexico")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[1, 2], help="two or more; every pair is compared"
    )
    parser.add_argument("--shares", type=float, nargs="*", default=[])
    parser.add_argument("--free-share", action="store_true", help="also with s free")
    parser.add_argument("--particles", type=int, default=None)
    parser.add_argument("--populations", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/stability")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--summaries-only",
        action="store_true",
        help="compare the summary.json files already in OUT instead of calibrating (e.g. after "
        "the scenario's own values were set to the posterior medians, which changes its hash)",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    cases = [(None if s is None else s) for s in ([None] if args.free_share else [])]
    cases += list(args.shares)
    if not cases:
        cases = [None]
    report = {"scenario": args.scenario, "seeds": args.seeds, "cases": []}
    for share in cases:
        summaries, seconds = [], []
        tag = "free" if share is None else f"{share:g}"
        for seed in args.seeds:
            folder = out / f"{Path(args.scenario).stem}-s{tag}-seed{seed}"
            began = time.perf_counter()
            if args.summaries_only:
                summaries.append(json.loads((folder / "summary.json").read_text()))
                seconds.append(float("nan"))
                continue
            summaries.append(
                calibrate(
                    args.scenario,
                    folder,
                    populations=args.populations,
                    particles=args.particles,
                    workers=args.workers,
                    fix=None if share is None else {"cartel_share": share},
                    seed=seed,
                )
            )
            seconds.append(time.perf_counter() - began)
        pairs = [
            {"seeds": [args.seeds[i], args.seeds[j]], "rows": compare(summaries[i], summaries[j])}
            for i, j in itertools.combinations(range(len(summaries)), 2)
        ]
        for pair in pairs:
            pair["stable"] = all(r["stable"] for r in pair["rows"])
        case = {
            "cartel_share": tag,
            "seconds": seconds,
            "model_probabilities": [s["model_probabilities"] for s in summaries],
            "form_probabilities": [s["form_probabilities"] for s in summaries],
            "effective_sample_size": [s.get("effective_sample_size") for s in summaries],
            "effective_sample_size_smoothed": [
                s.get("effective_sample_size_smoothed") for s in summaries
            ],
            "pareto_k": [s.get("pareto_k") for s in summaries],
            "pairs": pairs,
            "stable": all(p["stable"] for p in pairs),
        }
        report["cases"].append(case)
        times = ", ".join(f"{t:.0f} s" for t in seconds)
        print(f"\n{args.scenario}, cartel_share {tag}: {times}")
        for seed, summary in zip(args.seeds, summaries, strict=True):
            ess = summary.get("effective_sample_size", {}).get("all", float("nan"))
            smoothed = summary.get("effective_sample_size_smoothed", float("nan"))
            k = summary.get("pareto_k", {}).get("all")  # older summaries lack it
            k = float("nan") if k is None else k
            verdict = "not to be trusted" if k > 0.7 else "usable" if k <= 0.7 else "unknown"
            print(
                f"seed {seed}: {ess:.0f} effective particles of {summary['particles']} "
                f"({smoothed:.0f} smoothed), Pareto k-hat {k:.2f}: the weights are {verdict} "
                "(above 0.7 they are not to be trusted)"
            )
        for pair in pairs:
            first, second = pair["seeds"]
            a_head, b_head = f"seed {first} median [90 %]", f"seed {second} median [90 %]"
            print(f"{'quantity':<28} {a_head:>30} {b_head:>30} {'diff':>6} {'overlap':>8}  stable")
            for r in pair["rows"]:
                a, b = r["first"], r["second"]
                print(
                    f"{r['quantity']:<28} {_interval(a):>30} {_interval(b):>30} "
                    f"{r['median_difference']:>6.1%} {r['overlap']:>8.0%}  {r['stable']}"
                )
    report["load_average"] = os.getloadavg()
    report["stable"] = all(c["stable"] for c in report["cases"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "stability.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    print(f"\nstable: {report['stable']} (load average {report['load_average'][0]:.1f})")
    return 0 if report["stable"] else 1


def _interval(q: dict) -> str:
    return f"{q['median']:,.0f} [{q['q05']:,.0f}, {q['q95']:,.0f}]"


if __name__ == "__main__":
    raise SystemExit(main())
