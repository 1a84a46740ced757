"""The state of one agent run: people, regions, network, economy and the day's working arrays.

A World is complete when it is constructed (sim.build makes every part first): no field is
filled in later, and none is ever rebound (the dataclass is frozen); the mutable parts change
in place, each by its one writer (population.WRITERS). Cell arrays are (groups, regions).
Group slots: the scenario's groups first, then room for splinter groups that form during the
run (leadership).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from cartelsim.agents.population import RESOLVED_COUNTERS, Members, StatePeople, Tally
from cartelsim.agents.regions import Regions
from cartelsim.agents.requests import Requests
from cartelsim.agents.settings import AgentSettings
from cartelsim.agents.streams import Streams
from cartelsim.plan import Plan

DAYS_PER_WEEK = 7
#: Days a jailed member waits when sentences are off (0): longer than any run.
NEVER = 2**31 - 1
#: Weekly variables recorded by region (record.py writes them).
REGION_VARIABLES = (
    "members_total",
    "conflict_deaths",
    "state_kills",
    "arrests",
    "recruits",
    "released",
    "forces_killed",
    "local_police_killed",
    "raids",
    "raids_leaked",
    "leaders_captured",
    "splits",
    "payroll",
    "businesses_closed",
    "payroll_share_municipal",
    "payroll_share_state",
    "payroll_share_federal",
    "payroll_share_local_police",
    "payroll_share_forces",
)
#: Payroll levels recorded (record.py): officials by level of government, local police, and
#: the army and federal police.
PAYROLL_LEVELS = ("municipal", "state", "federal", "local_police", "forces")
#: Weekly national mechanism series (record.py): events of the week, or the state at its end.
NATIONAL_MECHANISMS = (
    "splits",
    "truces_decided",
    "truces_broken",
    "mergers_decided",
    "leaders_removed",
    "active_groups",
    *(f"payroll_share_{level}" for level in PAYROLL_LEVELS),
)


@dataclass
class Levels:
    """Policy levers in force."""

    intelligence_sharing: float
    kingpin_targeting: float
    recruitment_prevention: float
    anti_corruption_vetting: float


@dataclass
class Week:
    """What the schedule put in force for the week."""

    eff: np.ndarray  # (P,) aggregate parameters times policy multipliers
    forces_target: tuple[np.ndarray, np.ndarray]  # (R,) army, federal police agents wanted
    forces_inputs: tuple  # what forces_target was computed from


@dataclass
class Service:
    """Who serves where (state people), kept by resolve as deployments, deaths and desertions
    change it."""

    order: np.ndarray  # state people serving, sorted by region
    offsets: np.ndarray  # (R + 1,) into order
    forces_in: np.ndarray  # (R,) active deployed army + federal police agents
    informable: np.ndarray  # (R,) active officials, local police and deployed in the region


@dataclass(frozen=True)
class Hazards:
    """The day's hazards per (group, region) cell, rows of one (4, G, R) table that resolve
    reads (CAUSES order): conflict death, killed by the state, arrest, leaving."""

    table: np.ndarray
    conflict: np.ndarray
    state_kill: np.ndarray
    arrest: np.ndarray
    leaving: np.ndarray

    @classmethod
    def zeros(cls, G: int, R: int) -> Hazards:  # noqa: N803 (groups, regions)
        table = np.zeros((4, G, R))
        return cls(table, *table)


#: Daily counters, per region (R,), zeroed after each day (record.py).
COUNTERS = (
    *RESOLVED_COUNTERS,
    "raids",
    "raids_leaked",
    "leaders_captured",
    "splits",
)


@dataclass(frozen=True)
class Counters:
    """Today's counts by region: rows of one table (record.py zeroes it in one operation)."""

    table: np.ndarray
    conflict_deaths: np.ndarray
    state_kills: np.ndarray
    arrests: np.ndarray
    left: np.ndarray
    released: np.ndarray
    recruits: np.ndarray
    defected_in: np.ndarray
    forces_killed: np.ndarray
    local_police_killed: np.ndarray
    raids: np.ndarray
    raids_leaked: np.ndarray
    leaders_captured: np.ndarray
    splits: np.ndarray

    @classmethod
    def zeros(cls, R: int) -> Counters:  # noqa: N803 (regions)
        assert tuple(f.name for f in fields(cls))[1:] == COUNTERS
        table = np.zeros((len(COUNTERS), R))
        return cls(table, *table)

    def __getitem__(self, name: str) -> np.ndarray:
        return getattr(self, name)


@dataclass(frozen=True)
class World:
    # inputs, fixed for the run
    plan: Plan
    settings: AgentSettings
    regions: Regions
    scale: float
    n_groups: int  # scenario groups + splinter slots
    value: np.ndarray  # (R,) value of a region for a group: 1 + crossing_value per US crossing
    territory: np.ndarray  # (G, R) where a group's new members go
    national: tuple[np.ndarray, np.ndarray]  # (weeks,) real troops, federal police deployed
    regional: list  # regional deployments, in date order
    disruption: np.ndarray  # (weeks, R) forces added to r in the last disruption_weeks, /10,000
    dates: list  # plan.dates()
    reference_sharing: float  # sharing level the arrest rate is calibrated at (raids.py)
    streams: Streams
    # people
    members: Members
    state: StatePeople
    service: Service
    tally: Tally
    requests: Requests
    # in force this week
    levers: Levels
    week: Week
    # groups and network
    names: list[str]
    shorts: list[str]
    active_group: np.ndarray  # (G,) bool
    splinter_parent: np.ndarray  # (G,) int, -1 for scenario groups, -2 for a free slot
    excess: np.ndarray  # (G, G) rivalry weight, -1 for truce pairs
    inv_alliance: np.ndarray  # (G,) 1 / (A + 1)
    group_boost: np.ndarray  # (G,) scheduled leader-removal violence boost
    decided_truce: np.ndarray  # (G, G) bool: a truce the pair decided
    weight_before_truce: np.ndarray  # (G, G) rivalry weight a decided truce restores
    mutual_losses: np.ndarray  # (G, G) pair's recent daily losses to each other (g < h)
    # leaders
    leader_region: np.ndarray  # (G,) int, -1 without a leader
    boost_level: np.ndarray  # (R,) regional violence rise after captures (clashes: once)
    boost_until: np.ndarray  # (R,) day the rise ends
    captured: np.ndarray  # (G,) bool: the group's leader was captured in a raid today
    # counts
    cells: np.ndarray  # (G, R) free members
    payroll: np.ndarray  # (G, R) people on each group's payroll, by serving region
    # the day's working arrays
    hazards: Hazards
    move_probability: np.ndarray  # (G, R)
    move_cdf: np.ndarray  # (G, edges) cumulative destination shares
    clash_losses: np.ndarray  # (G, G) expected deaths of g caused by h today
    closed: np.ndarray  # (R,) share of businesses closed
    today: Counters

    @property
    def R(self) -> int:  # noqa: N802 (the number of regions, as in the formulas)
        return self.regions.n
