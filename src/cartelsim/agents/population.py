"""The people, as columns: no Python object per agent (an agent is a row index).

Two tables:

- `Members`: armed members of criminal groups. Columns (dtype, writer):
  `group` (int16, recruitment/leadership: splits and mergers), `region` (int16 position,
  movement), `role` (int8 LEADER/LIEUTENANT/SOLDIER, leadership), `jailed_until` (int32 day,
  -1 = free; raids), `alive` is implicit: rows that die or leave are removed by `compact`
  once a week, after the daily counters have recorded them. Rows grow like LASER's
  LaserFrame: preallocated capacity, a live `count`, doubling when full.
- `StatePeople`: state forces and officials, a fixed set. Columns: `kind` (int8, ARMY,
  FEDERAL_POLICE, LOCAL_POLICE, OFFICIAL_MUNICIPAL, OFFICIAL_STATE, OFFICIAL_FEDERAL),
  `home` (int16, the region of local police and officials), `region` (int16, where the
  person serves now, -1 = not deployed; deployments), `status` (int8 ACTIVE/DEAD/DEFECTED;
  clashes, raids, corruption), `payroll` (int16 group or -1; corruption).

`Tally` holds the flow counters that make every agent accountable (tests check the balance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

LEADER, LIEUTENANT, SOLDIER = 0, 1, 2
FREE = -1
ARMY, FEDERAL_POLICE, LOCAL_POLICE = 0, 1, 2
OFFICIAL_MUNICIPAL, OFFICIAL_STATE, OFFICIAL_FEDERAL = 3, 4, 5
ACTIVE, DEAD, DEFECTED = 0, 1, 2
#: Removal codes written by the daily resolution kernel (0 = stays).
STAYS, CONFLICT_DEATH, STATE_KILL, ARRESTED, LEFT = 0, 1, 2, 3, 4


class Members:
    """Members of criminal groups, struct of arrays with a live count."""

    COLUMNS = {"group": np.int16, "region": np.int16, "role": np.int8, "jailed_until": np.int32}

    def __init__(self, capacity: int):
        self.count = 0
        self.capacity = max(int(capacity), 16)
        for name, dtype in self.COLUMNS.items():
            setattr(self, name, np.zeros(self.capacity, dtype=dtype))
        self.removed = np.zeros(self.capacity, dtype=np.int8)  # removal code, set daily

    def add(self, group: np.ndarray, region: np.ndarray, role: np.ndarray) -> slice:
        """Append free members; returns the slice of the new rows."""
        n = len(group)
        if self.count + n > self.capacity:
            self._grow(self.count + n)
        rows = slice(self.count, self.count + n)
        self.group[rows], self.region[rows], self.role[rows] = group, region, role
        self.jailed_until[rows] = FREE
        self.removed[rows] = STAYS
        self.count += n
        return rows

    def reserve(self, n: int) -> slice:
        """Make room for n more rows and return their slice, for a kernel to fill; the caller
        sets the columns and then adds n to `count`."""
        if self.count + n > self.capacity:
            self._grow(self.count + n)
        return slice(self.count, self.count + n)

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * self.capacity)
        for name in (*self.COLUMNS, "removed"):
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=old.dtype)
            new[: self.count] = old[: self.count]
            setattr(self, name, new)
        self.capacity = capacity

    def compact(self) -> None:
        """Drop the rows marked removed (dead, left; arrested members stay, jailed)."""
        self.count = _compact(
            self.count, self.group, self.region, self.role, self.jailed_until, self.removed
        )

    def view(self, name: str) -> np.ndarray:
        return getattr(self, name)[: self.count]


@numba.njit(cache=True)
def _compact(count, group, region, role, jailed_until, removed):
    """Move the rows that stay to the front, in order; returns their number."""
    n = 0
    for i in range(count):
        if removed[i] == STAYS:
            group[n], region[n], role[n] = group[i], region[i], role[i]
            jailed_until[n], removed[n] = jailed_until[i], STAYS
            n += 1
    return n


@dataclass
class StatePeople:
    """State forces and officials: a fixed table."""

    kind: np.ndarray
    home: np.ndarray
    region: np.ndarray
    status: np.ndarray
    payroll: np.ndarray

    @classmethod
    def build(cls, counts: dict[int, np.ndarray]) -> StatePeople:
        """`counts[kind]` = people of that kind per home region (R,)."""
        kinds, homes = [], []
        for kind, per_region in counts.items():
            per_region = np.asarray(per_region, dtype=np.int64)
            kinds.append(np.full(per_region.sum(), kind, dtype=np.int8))
            homes.append(np.repeat(np.arange(len(per_region), dtype=np.int16), per_region))
        kind = np.concatenate(kinds) if kinds else np.zeros(0, np.int8)
        home = np.concatenate(homes) if homes else np.zeros(0, np.int16)
        deployed_kinds = (kind == ARMY) | (kind == FEDERAL_POLICE)
        region = np.where(deployed_kinds, -1, home).astype(np.int16)
        n = len(kind)
        return cls(kind, home, region, np.zeros(n, np.int8), np.full(n, -1, np.int16))

    def count_of(self, kinds: tuple[int, ...]) -> int:
        return int(np.isin(self.kind, kinds).sum())


@dataclass
class Tally:
    """Cumulative flows of members (whole run), for the balance check:

    start + recruited + defected_in = active + jailed + dead + left (released rejoin active).
    """

    start: int = 0
    recruited: int = 0
    defected_in: int = 0
    conflict_deaths: int = 0
    state_kills: int = 0
    arrested: int = 0
    released: int = 0
    left: int = 0
    leaders_removed: int = 0
    forces_killed: int = 0
    splits: int = 0
    truces_decided: int = 0
    truces_broken: int = 0
    mergers_decided: int = 0
