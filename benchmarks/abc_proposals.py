"""Cost of one ABC proposal: pyabc's prior and kernel against abc_parts', in one process.

    python benchmarks/abc_proposals.py [SCENARIO] [--proposals N] [--json]

What pyabc does for each particle of a later population before it simulates: draw from the
kernel (a weighted resample plus a normal step) and redraw until the prior's density is
positive (inference_util.generate_valid_proposal). This benchmark repeats that loop for
`--proposals` valid proposals (default 3,000) with pyabc's MultivariateNormalTransition and
Distribution, then with abc_parts' CholeskyNormalTransition and BoxPrior, on the first
model's priors of SCENARIO (default mexico) and a population of 1,000 particles drawn from
the central half of each prior's range (a stand-in for a later population: narrower than
the prior, so many proposals fall outside it). Both loops draw from numpy's global
generator seeded alike. It prints the seconds per valid proposal, the proposals drawn per
valid one, and the ratio; no simulation is run, so the ratio is the saving on pyabc's side
only (a mexico simulation is ~15 ms).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import pyabc

from cartelsim.analysis import calibrate
from cartelsim.analysis.abc_parts import BoxPrior, CholeskyNormalTransition


def population(prior: pyabc.Distribution, size: int, seed: int) -> pd.DataFrame:
    """`size` particles uniform on the central half of each flat prior's range."""
    generator = np.random.default_rng(seed)
    columns = {}
    for key, rv in sorted(prior.items()):
        low, width = rv.args  # scipy's uniform(loc, scale)
        columns[key] = generator.uniform(low + width / 4, low + 3 * width / 4, size)
    return pd.DataFrame(columns)


def proposals(prior, kernel, wanted: int, seed: int) -> tuple[float, int]:
    """Seconds for `wanted` proposals of positive prior density, and how many were drawn."""
    np.random.seed(seed)
    drawn = 0
    began = time.perf_counter()
    for _ in range(wanted):
        while True:
            theta = kernel.rvs()
            drawn += 1
            if prior.pdf(theta) > 0:
                break
    return time.perf_counter() - began, drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="mexico")
    parser.add_argument("--proposals", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    problem = calibrate.setup(args.scenario, None, {"cartel_share": 0.1})
    fast_prior = calibrate.pyabc_prior(problem.priors[0])
    if not isinstance(fast_prior, BoxPrior) or fast_prior.box is None:
        raise SystemExit(f"{args.scenario}: its priors are not all flat; BoxPrior falls back")
    plain_prior = pyabc.Distribution(**dict(fast_prior.items()))
    X = population(plain_prior, 1000, seed=1)
    w = np.full(len(X), 1 / len(X))
    scaling = problem.scenario.calibration.kernel_scaling
    rows = {}
    for name, prior, kernel in (
        ("pyabc", plain_prior, pyabc.transition.MultivariateNormalTransition(scaling=scaling)),
        ("abc_parts", fast_prior, CholeskyNormalTransition(scaling=scaling)),
    ):
        kernel.fit(X, w)
        seconds, drawn = proposals(prior, kernel, args.proposals, seed=2)
        rows[name] = {
            "seconds_per_valid_proposal": seconds / args.proposals,
            "draws_per_valid_proposal": drawn / args.proposals,
        }
    ratio = (
        rows["pyabc"]["seconds_per_valid_proposal"]
        / rows["abc_parts"]["seconds_per_valid_proposal"]
    )
    result = {
        "scenario": args.scenario,
        "parameters": len(X.columns),
        "proposals": args.proposals,
        "rows": rows,
        "speedup": ratio,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, row in rows.items():
            print(
                f"{name:>10}: {row['seconds_per_valid_proposal'] * 1e3:.3f} ms per valid "
                f"proposal, {row['draws_per_valid_proposal']:.2f} draws each"
            )
        print(f"abc_parts is {ratio:.1f}x faster per valid proposal ({len(X.columns)} parameters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
