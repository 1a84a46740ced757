"""Random seeds: one independent stream per run, from numpy's SeedSequence.

Run r of an ensemble seeded with `seed` always gets the same stream, however many runs there
are and however they are split among blocks, processes or machines.

A seed may also be a list of seeds (`cartelsim run --seeds 1,5,9`): one run per listed seed,
run r getting exactly the stream of a one-run ensemble seeded with seeds[r], so the ensemble
of the list equals the single runs `--seed 1`, `--seed 5`, `--seed 9` put side by side.
"""

from __future__ import annotations

import numpy as np

#: A seed as the engines take it: one number, or a list of them (one run each).
Seed = int | tuple[int, ...]

#: Seeds are whole numbers 0 <= seed < 2**63 (the CLI's --seed and --seeds).
SEED_LIMIT = 2**63


def run_seeds(seed: Seed, runs: int, first_run: int = 0) -> np.ndarray:
    """One uint32 seed per run: child r of SeedSequence(seed), as spawn() would make it, for
    runs r = first_run, ..., first_run + runs - 1 (a chunk of a larger ensemble). With a list
    of seeds, run r gets child 0 of SeedSequence(seed[r]): the stream of run 0 seeded seed[r]."""
    if first_run < 0:
        raise ValueError(f"first_run: must be >= 0 (got {first_run})")
    if isinstance(seed, tuple | list):
        seeds = check_seeds(seed)
        if first_run + runs > len(seeds):
            raise ValueError(
                f"seeds: {len(seeds)} listed, but runs {first_run}..{first_run + runs - 1} "
                "asked for (one run per listed seed)"
            )
        chosen = seeds[first_run : first_run + runs]
        return np.array([run_seeds(s, 1)[0] for s in chosen], dtype=np.uint32)
    if seed < 0:
        raise ValueError(f"seed: must be >= 0 (got {seed})")
    indices = range(first_run, first_run + runs)
    children = [np.random.SeedSequence(seed, spawn_key=(r,)) for r in indices]
    return np.array([c.generate_state(1, np.uint32)[0] for c in children], dtype=np.uint32)


def check_seeds(seeds) -> tuple[int, ...]:
    """A seed list as a tuple, or ValueError naming the problem: not empty, whole numbers
    0 <= s < 2**63, each listed once (a repeated seed would repeat a run)."""
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    seen = set()
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or not 0 <= s < SEED_LIMIT:
            raise ValueError(f"seeds: each must be a whole number 0 to 2**63-1 (got {s!r})")
        if int(s) in seen:
            raise ValueError(f"seeds: {s} is listed twice (it would repeat a run)")
        seen.add(int(s))
    return tuple(int(s) for s in seeds)


def as_json(seed: Seed):
    """The seed as summary.json and the manifests record it: a number, or a list."""
    return list(seed) if isinstance(seed, tuple | list) else int(seed)


def from_json(value) -> Seed:
    """A recorded seed (as_json) back as the engines take it: a list becomes a tuple."""
    return check_seeds(value) if isinstance(value, list) else value


def option(seed: Seed) -> str:
    """The command-line option that gives this seed: `--seed 7` or `--seeds 1,5,9`."""
    if isinstance(seed, tuple | list):
        return "--seeds " + ",".join(str(s) for s in seed)
    return f"--seed {seed}"


def text(seed: Seed) -> str:
    """The seed in words for reports: `7`, or `1, 5, 9 (one run each)`."""
    if isinstance(seed, tuple | list):
        return ", ".join(str(s) for s in seed) + " (one run each)"
    return str(seed)
