"""Record: the day's counts summed into weekly outputs, by region and nationally.

National (the aggregate engine's Trajectories, so results.py, observe.py and the report read
both engines alike): free members by group at the start of each week and at the end, and the
weekly flows recruits (with deserters who join), incapacitated (arrests), state_kills,
conflict_deaths, saturation (members who leave). By region: world.REGION_VARIABLES per week;
members_total, payroll and businesses_closed are the state at the week's end, the rest sums
over the week; and free members by group and region at the start of each week (which group
holds each region: the dashboard's control map). Agent counts are divided by the scale, so
outputs are in real people at any scale; raids, leader captures and splits are counted as
they happen. Payroll shares by level (officials by level of government, local police, army
and federal police): the share of those serving in the region, and alive, who are on some
group's payroll at the week's end. Nationally, beside the flows, world.NATIONAL_MECHANISMS
per week: splits, truces and mergers the groups decided, truces broken, leaders removed
(captured in raids or by scheduled events), active groups (with free members) at the week's
end and the national payroll shares. The day's counters are added to the run's Tally, then
zeroed.
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents.population import ACTIVE
from cartelsim.agents.world import (
    COUNTERS,
    DAYS_PER_WEEK,
    NATIONAL_MECHANISMS,
    PAYROLL_LEVELS,
    REGION_VARIABLES,
    World,
)

__all__ = ["COUNTERS", "Recorder"]
#: Counters that are real events, not agents: never divided by the scale.
UNSCALED = ("raids", "raids_leaked", "leaders_captured", "splits")
SHARES = tuple(f"payroll_share_{level}" for level in PAYROLL_LEVELS)
STOCKS = ("members_total", "payroll", "businesses_closed", *SHARES)
#: State people's kind (population.ARMY ... OFFICIAL_FEDERAL) -> index in PAYROLL_LEVELS.
LEVEL_OF_KIND = np.array([4, 4, 3, 0, 1, 2])
#: Tally fields whose weekly differences are national mechanism series.
_TALLIED = ("splits", "truces_decided", "truces_broken", "mergers_decided", "leaders_removed")


class Recorder:
    def __init__(self, weeks: int, n_groups: int, n_regions: int):
        self.members = np.zeros((weeks + 1, n_groups))
        self.members_by_region = np.zeros((weeks + 1, n_groups, n_regions))  # who holds where
        self.flows = np.zeros((weeks, 5))
        self.regional = np.zeros((weeks, len(REGION_VARIABLES), n_regions))
        self.national = np.zeros((weeks, len(NATIONAL_MECHANISMS)))
        self._tallied = np.zeros(len(_TALLIED))
        self._week_table = np.zeros((len(COUNTERS), n_regions))
        self._week = dict(zip(COUNTERS, self._week_table, strict=True))

    def start(self, world: World) -> None:
        self.members[0] = world.cells.sum(axis=1) / world.scale
        self.members_by_region[0] = world.cells / world.scale

    def step(self, world: World, day: int) -> None:
        _tally(world)
        self._week_table += world.today.table
        world.today.table[:] = 0
        if day % DAYS_PER_WEEK != DAYS_PER_WEEK - 1:
            return
        week, s = day // DAYS_PER_WEEK, world.scale
        w = {k: v / (1.0 if k in UNSCALED else s) for k, v in self._week.items()}
        self.members[week + 1] = world.cells.sum(axis=1) / s
        self.members_by_region[week + 1] = world.cells / s
        self.flows[week] = [
            (w["recruits"] + w["defected_in"]).sum(),
            w["arrests"].sum(),
            w["state_kills"].sum(),
            w["conflict_deaths"].sum(),
            w["left"].sum(),
        ]
        paid, serving = payroll_by_level(world)
        shares = paid / np.maximum(serving, 1)
        values = {
            "members_total": world.cells.sum(axis=0) / s,
            "payroll": world.payroll.sum(axis=0) / s,
            "businesses_closed": world.closed.copy(),
            "recruits": w["recruits"] + w["defected_in"],
            **dict(zip(SHARES, shares, strict=True)),
        }
        for k, name in enumerate(REGION_VARIABLES):
            self.regional[week, k] = values[name] if name in values else w[name]
        tallied = np.array([getattr(world.tally, f) for f in _TALLIED], dtype=float)
        national = {
            **dict(zip(_TALLIED, tallied - self._tallied, strict=True)),
            "active_groups": float((world.cells.sum(axis=1) > 0).sum()),
            **dict(zip(SHARES, paid.sum(axis=1) / np.maximum(serving.sum(axis=1), 1), strict=True)),
        }
        self.national[week] = [national[name] for name in NATIONAL_MECHANISMS]
        self._tallied = tallied
        self._week_table[:] = 0.0


def payroll_by_level(world: World) -> tuple[np.ndarray, np.ndarray]:
    """(levels, R) state people on a payroll, and all of them, serving and alive, by level
    (PAYROLL_LEVELS) and serving region."""
    s = world.state
    paid = np.zeros((len(PAYROLL_LEVELS), world.R))
    serving = np.zeros((len(PAYROLL_LEVELS), world.R))
    _count_levels(s.kind, s.region, s.status, s.payroll, LEVEL_OF_KIND, ACTIVE, paid, serving)
    return paid, serving


@numba.njit(cache=True)
def _count_levels(kind, region, status, payroll, level_of_kind, active, paid, serving):
    for i in range(len(kind)):
        r = region[i]
        if r < 0 or status[i] != active:
            continue
        level = level_of_kind[kind[i]]
        serving[level, r] += 1.0
        if payroll[i] >= 0:
            paid[level, r] += 1.0


def _tally(world: World) -> None:
    """Add the day's counts to the run's flows."""
    t, day = world.tally, world.today
    total = dict(zip(COUNTERS, day.table.sum(axis=1).astype(int).tolist(), strict=True))
    t.recruited += total["recruits"]
    t.defected_in += total["defected_in"]
    t.conflict_deaths += total["conflict_deaths"]
    t.state_kills += total["state_kills"]
    t.arrested += total["arrests"]
    t.released += total["released"]
    t.left += total["left"]
    t.forces_killed += total["forces_killed"]
    t.local_police_killed += total["local_police_killed"]
