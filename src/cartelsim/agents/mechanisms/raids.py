"""Raids and arrests, driven by intelligence; leaks through corrupted officials.

Each day the state raids each group present in a region: Poisson(`raid_rate` * F'_r / 10,000)
raids, F'_r the army and federal police deployed there (clashes.state_intensity). A raid is told to
n = `informed_per_raid` * (1 + `sharing_extra_informed` * sharing) local officials and police;
each is on the target's payroll with probability share_gr (corruption.py) and then leaks with
probability `leak_given_payroll`, so

    P(leak) = 1 - (1 - leak_given_payroll * share_gr)^n

A leaked raid fails, and draws retaliation with probability `retaliation_probability`
(Poisson(`retaliation_deaths`) state forces killed in the region). An unleaked raid succeeds
with probability `raid_success` + `sharing_success_gain` * sharing. Each success arrests each
free member of the group in the region with hazard q, and the leader, if there, with
probability `leader_capture` * kingpin_targeting (leadership.py takes it from there).

q is set so that with no corruption and the scenario's starting sharing level, arrests per
member per week equal the aggregate engine's a * F' / 10,000 (`state_arrest_rate`):
the agent engine adds why raids fail, not a second arrest rate. The aggregate's own
incapacitation (mu per member, or eta shared in proportion to size) is added as a hazard.

The draws for every cell run in one Numba kernel, from the raids stream (streams.py). The
deaths of state forces are requested (requests.py; resolve.py draws the victims with this
module's Generator) and the captures are marked in world.captured for leadership.py.
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents.mechanisms.clashes import intensity
from cartelsim.agents.streams import seed_kernel
from cartelsim.agents.world import DAYS_PER_WEEK, World
from cartelsim.plan import FORCES_UNIT
from cartelsim.scenario import INCAPACITATION, STATE_ARREST_RATE


def success_probability(world: World, sharing: float) -> float:
    p = world.settings.parameters
    return min(1.0, p.raid_success.value + p.sharing_success_gain.value * sharing)


def informed_per_raid(world: World) -> float:
    p = world.settings.parameters
    return p.informed_per_raid.value * (
        1.0 + p.sharing_extra_informed.value * world.levers.intelligence_sharing
    )


def leak_probability(world: World) -> np.ndarray:
    """(G, R) chance that a raid on group g in region r leaks."""
    out = np.empty(world.payroll.shape)
    leak, informed = world.settings.parameters.leak_given_payroll.value, informed_per_raid(world)
    for g in range(out.shape[0]):
        for r in range(out.shape[1]):
            out[g, r] = _leak(world.payroll[g, r], world.service.informable[r], leak, informed)
    return out


def step(world: World, day: int) -> None:
    p = world.settings.parameters
    reference = p.raid_rate.value * success_probability(world, world.reference_sharing)
    arrest_rate = world.week.eff[STATE_ARREST_RATE] / DAYS_PER_WEEK
    per_hit = arrest_rate / reference if reference > 0 else 0.0
    chance = min(p.leader_capture.value * world.levers.kingpin_targeting, 1.0)
    retaliation_deaths = np.zeros(world.R, dtype=np.int64)
    stream = world.streams.raids
    events = _raids(
        stream.key, day, world.cells, world.service.forces_in, FORCES_UNIT * world.scale,
        p.raid_rate.value, world.payroll, world.service.informable,
        p.leak_given_payroll.value, informed_per_raid(world),
        success_probability(world, world.levers.intelligence_sharing),
        p.retaliation_probability.value, p.retaliation_deaths.value * world.scale, per_hit,
        _incapacitation(world), world.leader_region, chance, world.hazards.arrest,
        world.today.raids, world.today.raids_leaked, retaliation_deaths, world.captured,
    )  # fmt: skip
    if events == 0:
        return
    for r in np.flatnonzero(retaliation_deaths):
        world.requests.kill_forces(int(r), int(retaliation_deaths[r]), stream.rng)


@numba.njit(cache=True)
def _leak(on_payroll, informable, leak_given_payroll, informed):
    """P(leak) = 1 - (1 - leak_given_payroll * share)^n, share = on_payroll / informable."""
    share = min(max(on_payroll / max(informable, 1), 0.0), 1.0)
    return 1.0 - (1.0 - leak_given_payroll * share) ** informed


@numba.njit(cache=True)
def _raids(
    key, day, cells, forces_in, unit, raid_rate, payroll, informable, leak_given_payroll,
    informed, success, retaliation_probability, retaliation_mean, per_hit, incapacitation,
    leader_region, chance, arrest_hazard, raids_count, leaks_count, retaliation_deaths, captured,
):  # fmt: skip
    """Raids, leaks, hits and retaliation for every cell; the arrest hazard; captures.
    Returns the number of retaliations (handled in Python) and captures."""
    seed_kernel(key, day)
    G, R = cells.shape
    forces = intensity(forces_in, cells, unit)
    events = 0
    arrest_hazard[:] = incapacitation
    captured[:] = False
    for g in range(G):
        for r in range(R):
            if cells[g, r] == 0 or forces[r] <= 0:
                continue
            raids = np.random.poisson(raid_rate * forces[r])
            if raids == 0:
                continue
            leaks = np.random.binomial(
                raids, _leak(payroll[g, r], informable[r], leak_given_payroll, informed)
            )
            hits = np.random.binomial(raids - leaks, success)
            retaliations = np.random.binomial(leaks, retaliation_probability)
            if retaliations > 0:
                retaliation_deaths[r] += np.random.poisson(retaliation_mean * retaliations)
                events += 1
            arrest_hazard[g, r] += per_hit * hits
            raids_count[r] += raids
            leaks_count[r] += leaks
            r_leader = leader_region[g]
            if r_leader == r and hits > 0 and chance > 0:
                captured[g] = np.random.random() < 1.0 - (1.0 - chance) ** hits
                events += captured[g]
    return events


def _incapacitation(world: World) -> float:
    """The aggregate's incapacitation as a daily hazard per member (in real members)."""
    rate = world.week.eff[INCAPACITATION] / DAYS_PER_WEEK
    if not world.plan.fixed_count:
        return rate
    total = world.cells.sum() / world.scale
    return rate / total if total > 0 else 0.0
