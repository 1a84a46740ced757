"""What every engine returns: members by group each week, national flows, parameters used.

Both engines (aggregate.py and the agent engine) fill the same arrays, so observation,
invariants, results and the analyses read one format whatever computed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Weekly national flows recorded for every run, in this order.
FLOWS = ("recruits", "incapacitated", "state_kills", "conflict_deaths", "saturation")


@dataclass(frozen=True)
class Trajectories:
    """Raw engine output for an ensemble.

    members: (weeks + 1, groups, runs) stock at the start of each week (and the end); with
        simulate(record="national"), (weeks + 1, 1, runs): the total over the groups.
    flows: (weeks, len(FLOWS), runs) national totals during each week.
    params: (P, runs) the parameter values each run used.
    """

    members: np.ndarray
    flows: np.ndarray
    params: np.ndarray

    @property
    def runs(self) -> int:
        return self.members.shape[2]

    @classmethod
    def join(cls, parts: Sequence[Trajectories]) -> Trajectories:
        """Ensembles computed apart (chunks, posterior forms) as one, runs in the given
        order. Parts may record different numbers of groups (agent runs add splinter groups
        as they form): the missing groups are zeros."""
        if len(parts) == 1:
            return parts[0]
        groups = max(p.members.shape[1] for p in parts)
        members = [
            p.members
            if p.members.shape[1] == groups
            else np.pad(p.members, ((0, 0), (0, groups - p.members.shape[1]), (0, 0)))
            for p in parts
        ]
        return cls(
            np.concatenate(members, axis=2),
            np.concatenate([p.flows for p in parts], axis=2),
            np.concatenate([p.params for p in parts], axis=1),
        )
