"""Requests: how the mechanisms and the schedule ask for changes to the people.

No mechanism writes a member column or a state person's service. Each appends a request here;
resolve.py applies them all once a day, in the order they were made, before the day's exits
and moves (resolve.py's docstring). Rows named in a request are chosen by the requester from
the tables as they stand (plus its own requests of the day: `pending`), with its own random
stream; where the choice must see the earlier requests applied (a merger takes every member
the group has by then, a death takes a person still serving), the request carries the rule,
and the requester's Generator when the rule draws.

Kinds (what resolve does with each):

- BIRTHS group, region, role arrays [, counter]: new free members (recruits, deserters who
  join, a new group's members), counted in today's `counter` by region if given;
- JAIL rows: jailed for good (a leader captured or removed), counted as arrests;
- ROLE rows, role: the rows take the role (a successor becomes LEADER; a jailed leader a
  LIEUTENANT);
- GROUP rows, group: the rows join the group (a splinter, a scheduled split);
- MERGE source, target: every member of source joins target, its leaders become
  lieutenants, source stops existing and its payroll passes to target;
- KILL region, count, rng, who: up to `count` active state forces serving in the region die
  (who: DEPLOYED army and federal police, LOCAL police, or ANY_FORCE of them), drawn with the
  requester's Generator;
- DEFECT rows, groups: state people desert and join the groups as soldiers where they serve;
- DEPLOY army, police: the (R,) army and federal police agents wanted in each region;
- TIES parent, child: a new splinter's network, set by alliances.py (the network's owner).
"""

from __future__ import annotations

import numpy as np

BIRTHS, JAIL, ROLE, GROUP, MERGE, KILL, DEFECT, DEPLOY, TIES = range(9)
_ROWS = (JAIL, ROLE, GROUP)
#: Who may die in a KILL request.
DEPLOYED, LOCAL, ANY_FORCE = range(3)


class Requests:
    """The day's queue of requests (a channel: any module appends, resolve drains it)."""

    def __init__(self) -> None:
        self._queue: list[tuple] = []

    def __len__(self) -> int:
        return len(self._queue)

    def births(self, group, region, role, counter: str | None = None) -> None:
        if len(group):
            self._queue.append((BIRTHS, np.asarray(group, np.int16),
                                np.asarray(region, np.int16), np.asarray(role, np.int8),
                                counter))  # fmt: skip

    def jail(self, rows: np.ndarray) -> None:
        if len(rows):
            self._queue.append((JAIL, np.asarray(rows, np.int64)))

    def role(self, rows: np.ndarray, role: int) -> None:
        if len(rows):
            self._queue.append((ROLE, np.asarray(rows, np.int64), int(role)))

    def group(self, rows: np.ndarray, group: int) -> None:
        if len(rows):
            self._queue.append((GROUP, np.asarray(rows, np.int64), int(group)))

    def merge(self, source: int, target: int) -> None:
        self._queue.append((MERGE, int(source), int(target)))

    def kill_forces(
        self, region: int, count: int, rng: np.random.Generator, who: int = ANY_FORCE
    ) -> None:
        """`count` of the state forces serving in `region` die: army and federal police
        (DEPLOYED), local police (LOCAL) or any of them (ANY_FORCE)."""
        if count > 0:
            self._queue.append((KILL, int(region), int(count), rng, int(who)))

    def defect(self, rows: np.ndarray, groups: np.ndarray) -> None:
        if len(rows):
            self._queue.append((DEFECT, np.asarray(rows, np.int64), np.asarray(groups, np.int16)))

    def deploy(self, army: np.ndarray, police: np.ndarray) -> None:
        self._queue.append((DEPLOY, np.asarray(army), np.asarray(police)))

    def splinter_ties(self, parent: int, child: int) -> None:
        self._queue.append((TIES, int(parent), int(child)))

    def pending(self, *kinds: int) -> np.ndarray:
        """Rows named by today's requests of these kinds (JAIL, ROLE, GROUP)."""
        parts = [r[1] for r in self._queue if r[0] in kinds and r[0] in _ROWS]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def pending_role(self, role: int) -> np.ndarray:
        """Rows requested today to take this role."""
        parts = [r[1] for r in self._queue if r[0] == ROLE and r[2] == role]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def born(self) -> int:
        """Members requested as births today (not yet rows)."""
        return sum(len(r[1]) for r in self._queue if r[0] == BIRTHS)

    def take(self) -> list[tuple]:
        """The queue, emptied (resolve)."""
        queue, self._queue = self._queue, []
        return queue
