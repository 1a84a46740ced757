"""One random stream per mechanism, so that a change to one mechanism leaves the others' draws
as they were (common random numbers for paired comparisons: A and B with the same seed).

The run's seed is split with `numpy.random.SeedSequence(seed).spawn(len(STREAMS))`: child k
(spawn key (k,)) belongs to STREAMS[k], in this fixed order (a stream added later goes at the
end, so the others keep their keys). Each child gives its owner

- `rng`: a numpy Generator for the draws made in Python (victims, successors, splits,
  payroll exits...), from the child's first spawned child;
- `key`: a 64-bit key for the draws made in Numba kernels, from its second. Numba kernels
  draw from one global generator per thread, so each kernel call starts with
  `seed_kernel(key, day)`: the generator is reseeded from the mechanism's key and the day
  (a splitmix64 mix of the two), so the kernel's draws on a day depend on that mechanism
  and that day only. Reseeding costs about 3 microseconds; there are a handful of kernel
  calls a day.

Streams: setup (the initial lieutenants, leaders and payrolls), schedule (the members of
scheduled splits), resolve (the day's exits), movement (the day's moves, drawn by resolve),
and one for each mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numba
import numpy as np

STREAMS = (
    "setup",
    "schedule",
    "resolve",
    "recruitment",
    "movement",
    "clashes",
    "raids",
    "corruption",
    "leadership",
    "alliances",
)


@dataclass(frozen=True)
class Stream:
    rng: np.random.Generator
    key: np.uint64


@dataclass(frozen=True)
class Streams:
    setup: Stream
    schedule: Stream
    resolve: Stream
    recruitment: Stream
    movement: Stream
    clashes: Stream
    raids: Stream
    corruption: Stream
    leadership: Stream
    alliances: Stream

    @classmethod
    def from_seed(cls, seed: int) -> Streams:
        names = [f.name for f in fields(cls)]
        assert tuple(names) == STREAMS
        streams = {}
        for name, child in zip(names, np.random.SeedSequence(seed).spawn(len(names)), strict=True):
            python, kernels = child.spawn(2)
            key = kernels.generate_state(1, np.uint64)[0]
            streams[name] = Stream(np.random.default_rng(python), np.uint64(key))
        return cls(**streams)


@numba.njit(cache=True)
def seed_kernel(key, day):
    """Reseed the kernels' generator for one mechanism's draws on one day."""
    x = key + np.uint64(day + 1) * np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    np.random.seed(np.uint32(x >> np.uint64(32)))
