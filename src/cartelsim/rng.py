"""Random seeds: one independent stream per run, from numpy's SeedSequence.

Run r of an ensemble seeded with `seed` always gets the same stream, however many runs there
are and however they are split among blocks, processes or machines.
"""

from __future__ import annotations

import numpy as np


def run_seeds(seed: int, runs: int) -> np.ndarray:
    """One uint32 seed per run: child r of SeedSequence(seed), as spawn() would make it."""
    if seed < 0:
        raise ValueError(f"seed: must be >= 0 (got {seed})")
    children = [np.random.SeedSequence(seed, spawn_key=(r,)) for r in range(runs)]
    return np.array([c.generate_state(1, np.uint32)[0] for c in children], dtype=np.uint32)
