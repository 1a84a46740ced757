"""Random seeds: one independent stream per run, from numpy's SeedSequence.

Run r of an ensemble seeded with `seed` always gets the same stream, however many runs there
are and however they are split among blocks, processes or machines.
"""

from __future__ import annotations

import numpy as np


def run_seeds(seed: int, runs: int, first_run: int = 0) -> np.ndarray:
    """One uint32 seed per run: child r of SeedSequence(seed), as spawn() would make it, for
    runs r = first_run, ..., first_run + runs - 1 (a chunk of a larger ensemble)."""
    if seed < 0:
        raise ValueError(f"seed: must be >= 0 (got {seed})")
    if first_run < 0:
        raise ValueError(f"first_run: must be >= 0 (got {first_run})")
    indices = range(first_run, first_run + runs)
    children = [np.random.SeedSequence(seed, spawn_key=(r,)) for r in indices]
    return np.array([c.generate_state(1, np.uint32)[0] for c in children], dtype=np.uint32)
