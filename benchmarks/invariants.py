"""Cost of the run-time invariants (invariants.check) against the simulation they check.

    python benchmarks/invariants.py [--runs N] [--stochastic-runs M] [--repeat R]
                                    [--data-dir DIR] [--json]

For the built-in pc2023 scenario (150 groups, 520 weeks), in one process: the time of
aggregate.simulate for N deterministic runs (and M stochastic ones), the time of
invariants.check on its output, and their ratio. Best of --repeat passes each; the JIT is
warmed up first. The PC2023 files come from --data-dir, else CARTELSIM_DATA_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from cartelsim import aggregate
from cartelsim.invariants import check
from cartelsim.plan import make_plan
from cartelsim.scenario import load_scenario, validate


def _best(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1024)
    parser.add_argument("--stochastic-runs", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("CARTELSIM_DATA_DIR"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for mode, runs in (("deterministic", args.runs), ("stochastic", args.stochastic_runs)):
        document = load_scenario("pc2023").model_dump(mode="json")
        document["simulation"]["mode"] = mode
        plan = make_plan(validate(document, "pc2023.toml"), data_dir=args.data_dir)
        aggregate.simulate(plan, runs=2)  # compile
        traj = aggregate.simulate(plan, runs=runs)
        simulate = _best(args.repeat, lambda p=plan, n=runs: aggregate.simulate(p, runs=n))
        checking = _best(args.repeat, lambda p=plan, t=traj: check(p, t))
        rows.append(
            {
                "mode": mode,
                "runs": runs,
                "simulate_s": simulate,
                "check_s": checking,
                "check_over_simulate": checking / simulate,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'mode':<14}{'runs':>6}{'simulate s':>12}{'check s':>10}{'check/simulate':>16}")
    for row in rows:
        print(
            f"{row['mode']:<14}{row['runs']:>6}{row['simulate_s']:>12.3f}"
            f"{row['check_s']:>10.3f}{row['check_over_simulate']:>16.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
