"""The state of one agent run: people, regions, network, economy and the day's working arrays.

Mechanisms read and write a `World`; each array below has one writer, named in its comment.
Cell arrays are (groups, regions). Group slots: the scenario's groups first, then room for
splinter groups that form during the run (leadership).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cartelsim.agents.population import Members, StatePeople, Tally
from cartelsim.agents.regions import Regions
from cartelsim.agents.settings import AgentSettings
from cartelsim.plan import Plan

#: Real state forces per unit of the aggregate's F(t) (plan.FORCES_UNIT).
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
    "raids",
    "raids_leaked",
    "leaders_captured",
    "payroll",
    "businesses_closed",
)


@dataclass
class Levels:
    """Policy levers in force (schedule.py writes them)."""

    intelligence_sharing: float
    kingpin_targeting: float
    recruitment_prevention: float
    anti_corruption_vetting: float


@dataclass
class World:
    plan: Plan
    settings: AgentSettings
    regions: Regions
    scale: float
    members: Members
    state: StatePeople
    tally: Tally
    levers: Levels
    reference_sharing: float  # sharing level the arrest rate is calibrated at (raids.py)
    rng: dict[str, np.random.Generator]
    n_groups: int  # scenario groups + splinter slots
    shorts: list[str]
    names: list[str]
    # network (alliances.py, leadership.py for splinters)
    excess: np.ndarray  # (G, G) rivalry weight, -1 for truce pairs
    inv_alliance: np.ndarray  # (G,) 1 / (A + 1)
    group_boost: np.ndarray  # (G,) scheduled leader-removal violence boost
    active_group: np.ndarray  # (G,) bool
    splinter_parent: np.ndarray  # (G,) int, -1 for scenario groups
    decided_truce: np.ndarray  # (G, G) bool: a truce the pair decided (alliances.py)
    weight_before_truce: np.ndarray  # (G, G) rivalry weight a decided truce restores on breaking
    mutual_losses: np.ndarray  # (G, G) pair's recent daily losses to each other (g < h)
    # leadership (leadership.py)
    leader_region: np.ndarray  # (G,) int, -1 without a leader
    boost_level: np.ndarray  # (G, R) regional violence boost after captures
    boost_until: np.ndarray  # (G, R) day the boost ends
    captures: list[tuple[int, int]] = field(default_factory=list)  # (group, region) today
    # deployments (schedule.py)
    forces_in: np.ndarray = None  # (R,) active deployed army + federal police agents
    informable: np.ndarray = None  # (R,) officials, local police and deployed in the region
    state_order: np.ndarray = None  # state people sorted by serving region
    state_offsets: np.ndarray = None  # (R + 1,) into state_order
    # corruption (corruption.py)
    payroll: np.ndarray = None  # (G, R) people on each group's payroll, by serving region
    # counts (resolve.py)
    cells: np.ndarray = None  # (G, R) free members (every writer of members keeps it)
    next_release: int = 0  # first day a jailed member is due out (resolve.py)
    # the day's hazards (clashes.py, raids.py, movement.py)
    hazard: np.ndarray = None  # (4, G, R) conflict death, state kill, arrest, leaving
    move_probability: np.ndarray = None  # (G, R)
    move_cdf: np.ndarray = None  # (G, edges) cumulative destination shares
    clash_losses: np.ndarray = None  # (G, G) expected deaths of g caused by h today (clashes.py)
    # economy (economy.py)
    closed: np.ndarray = None  # (R,) share of businesses closed
    territory: np.ndarray = None  # (G, R) where a group's new members go (sim.py)
    # parameters in force this week (schedule.py)
    eff: np.ndarray = None  # (P,) aggregate parameters times policy multipliers
    forces_target: tuple[np.ndarray, np.ndarray] | None = None
    forces_inputs: tuple | None = None  # what forces_target was computed from
    national: tuple[np.ndarray, np.ndarray] | None = None  # (weeks,) real troops, police
    dates: list = field(default_factory=list)  # plan.dates(), computed once (sim.py)
    # today's counters (zeroed each day by record.py)
    today: dict[str, np.ndarray] = field(default_factory=dict)  # rows of today_table
    today_table: np.ndarray = None  # (len(record.COUNTERS), R)
    _value: np.ndarray = None  # value(), once computed

    @property
    def R(self) -> int:  # noqa: N802 (the number of regions, as in the formulas)
        return self.regions.n

    def value(self) -> np.ndarray:
        """(R,) value of each region for a group: 1 + crossing_value per US crossing (fixed
        for a run: computed once)."""
        if self._value is None:
            crossing = self.settings.parameters.crossing_value.value
            self._value = 1.0 + crossing * self.regions.crossings
        return self._value
