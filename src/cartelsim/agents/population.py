"""The people, as columns (no Python object per agent: an agent is a row index), and the schema
of who writes what.

Two tables:

- `Members`: armed members of criminal groups. Columns: `group` (int16), `region` (int16
  position), `role` (int8 LEADER/LIEUTENANT/SOLDIER), `jailed_until` (int32 day, -1 = free),
  `removed` (int8 removal code of today, 0 = stays). Rows that die or leave stay until
  `resolve.compact` drops them once a week, after the daily counters have recorded them.
  Rows grow like LASER's LaserFrame: preallocated capacity, a live `count`, doubling when full.
- `StatePeople`: state forces and officials, a fixed set. Columns: `kind` (int8, ARMY,
  FEDERAL_POLICE, LOCAL_POLICE, OFFICIAL_MUNICIPAL, OFFICIAL_STATE, OFFICIAL_FEDERAL),
  `home` (int16, the region of local police and officials), `region` (int16, where the
  person serves now, -1 = not deployed), `status` (int8 ACTIVE/DEAD/DEFECTED), `payroll`
  (int16 group or -1).

`Tally` holds the flow counters that make every agent accountable (tests check the balance).

`WRITERS` is the schema of writers: for every column and every mutable field of the World (and
of its parts), the one module that writes it. Mechanisms never write a member column or a
state person's service: they request the change (world.requests, agents/requests.py) and
resolve.py applies every request once a day. A module changes another module's field only by
calling that module's own function (alliances calls leadership.promote; resolve calls
corruption.leave_payroll when it takes a paid person out of service). Fields not listed are
fixed when the World is built. tests/test_agents_writers.py parses the agents/ modules and
fails if any module writes a field it does not own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEADER, LIEUTENANT, SOLDIER = 0, 1, 2
FREE = -1
ARMY, FEDERAL_POLICE, LOCAL_POLICE = 0, 1, 2
OFFICIAL_MUNICIPAL, OFFICIAL_STATE, OFFICIAL_FEDERAL = 3, 4, 5
ACTIVE, DEAD, DEFECTED = 0, 1, 2
#: Removal codes written by the daily resolution (0 = stays).
STAYS, CONFLICT_DEATH, STATE_KILL, ARRESTED, LEFT = 0, 1, 2, 3, 4

#: Today's counters that count what resolve applies (world.COUNTERS starts with them).
RESOLVED_COUNTERS = (
    "conflict_deaths",
    "state_kills",
    "arrests",
    "left",
    "released",
    "recruits",
    "defected_in",
    "forces_killed",
    "local_police_killed",
)

_RESOLVE = "resolve"
#: Who writes each column and each mutable field (module names in cartelsim.agents; the
#: mechanisms by their module name). "Class.field" as the code spells the class.
WRITERS: dict[str, str] = {
    # members: every change requested, applied by resolve (births, deaths, arrests,
    # releases, moves, role and group changes); resolve also grows and compacts the table
    **{
        f"Members.{c}": _RESOLVE
        for c in (
            "group",
            "region",
            "role",
            "jailed_until",
            "removed",
            "count",
            "next_release",
        )
    },  # fmt: skip
    # state people: deaths, desertions and deployments requested, applied by resolve
    "StatePeople.region": _RESOLVE,
    "StatePeople.status": _RESOLVE,
    "StatePeople.payroll": "corruption",
    # who serves where, kept by resolve as it applies deployments, deaths and desertions
    "Service.order": _RESOLVE,
    "Service.offsets": _RESOLVE,
    "Service.forces_in": _RESOLVE,
    "Service.informable": _RESOLVE,
    # counts per (group, region) cell and the groups that exist
    "World.cells": _RESOLVE,
    "World.active_group": _RESOLVE,
    "World.payroll": "corruption",
    # network: the scheduled epochs and the groups' own truces and mergers
    **{
        f"World.{f}": "alliances"
        for f in (
            "excess",
            "inv_alliance",
            "group_boost",
            "decided_truce",
            "weight_before_truce",
            "mutual_losses",
        )
    },  # fmt: skip
    # leaders, capture boosts, splinters and their names
    **{
        f"World.{f}": "leadership"
        for f in (
            "leader_region",
            "boost_level",
            "boost_until",
            "splinter_parent",
            "names",
            "shorts",
        )
    },  # fmt: skip
    "World.captured": "raids",
    "World.clash_losses": "clashes",
    "World.move_probability": "movement",
    "World.move_cdf": "movement",
    "World.closed": "economy",
    # the day's hazards, by cause (resolve reads the stacked table)
    "Hazards.conflict": "clashes",
    "Hazards.state_kill": "clashes",
    "Hazards.arrest": "raids",
    "Hazards.leaving": "recruitment",
    # what the schedule puts in force each week
    "Week.eff": "schedule",
    "Week.forces_target": "schedule",
    "Week.forces_inputs": "schedule",
    **{
        f"Levels.{f}": "schedule"
        for f in (
            "intelligence_sharing",
            "kingpin_targeting",
            "recruitment_prevention",
            "anti_corruption_vetting",
        )
    },  # fmt: skip
    # today's counters: each by the module whose events it counts; record zeroes them all
    **{f"Counters.{c}": _RESOLVE for c in RESOLVED_COUNTERS},
    "Counters.raids": "raids",
    "Counters.raids_leaked": "raids",
    "Counters.leaders_captured": "leadership",
    "Counters.splits": "leadership",
    "Counters.table": "record",
    # the whole run's flows: record sums the counters; the rest count their own events
    **{
        f"Tally.{f}": "record"
        for f in (
            "recruited",
            "defected_in",
            "conflict_deaths",
            "state_kills",
            "arrested",
            "released",
            "left",
            "forces_killed",
            "local_police_killed",
        )
    },  # fmt: skip
    "Tally.leaders_removed": "leadership",
    "Tally.splits": "leadership",
    "Tally.truces_decided": "alliances",
    "Tally.truces_broken": "alliances",
    "Tally.mergers_decided": "alliances",
}


@dataclass
class Members:
    """Members of criminal groups, struct of arrays with a live count (columns above).
    `next_release`: the first day a jailed member is due out (resolve scans for releases only
    then)."""

    group: np.ndarray
    region: np.ndarray
    role: np.ndarray
    jailed_until: np.ndarray
    removed: np.ndarray
    count: int
    next_release: int

    COLUMNS = {
        "group": np.int16,
        "region": np.int16,
        "role": np.int8,
        "jailed_until": np.int32,
        "removed": np.int8,
    }

    @classmethod
    def start(
        cls, capacity: int, group: np.ndarray, region: np.ndarray, role: np.ndarray, never: int
    ) -> Members:
        """A table holding these free members, with room for `capacity` rows."""
        n = len(group)
        capacity = max(int(capacity), n, 16)
        columns = {name: np.zeros(capacity, dtype=dtype) for name, dtype in cls.COLUMNS.items()}
        for name, values in (("group", group), ("region", region), ("role", role)):
            columns[name][:n] = values
        columns["jailed_until"][:n] = FREE
        return cls(**columns, count=n, next_release=never)

    @property
    def capacity(self) -> int:
        return len(self.group)

    def view(self, name: str) -> np.ndarray:
        return getattr(self, name)[: self.count]


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
        """`counts[kind]` = people of that kind per home region (R,); nobody deployed yet, on
        no payroll."""
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
    local_police_killed: int = 0
