"""Clashes: group against group and groups against the state, in each region.

Between groups (the aggregate engine's conflict term, made local): a member of group g in
region r dies on a given day with hazard

    theta/7 * lambda / s * a_g * (1 + L_r) * b_g * sum_j (E_gj + 1) * b_j * C_jr,   j != g

theta: `conflict_lethality` (per member pair per week); E_gj the rivalry weight (-1 for a
truce, so the pair stops fighting), a_g = 1/(A_g + 1) the alliance shield, b the scheduled
violence boost of a group (dated `leader_removed` events: per group, multiplied per pair as
in the aggregate engine's K_ij = b_i b_j), L_r the regional rise after a leader's capture in a
raid (leadership.py), applied once per region: every clash in r is 1 + L_r times as deadly,
so the region's conflict deaths rise by L_r (+80 %), not by (1 + L_r)^2 as when both sides
of a pair were boosted; C_jr rival members present, s the agent scale (fewer agents
fight harder, so expected deaths per real member are the same at any scale), lambda =
`clash_locality`, by default the aggregate's pair interactions over today's local ones
(`locality`): the national intensity of clashes is the aggregate engine's, regions decide
where they happen, and splits, truces,
mergers and the boosts after captures change how much groups fight.

Militarization as disruption (the aggregate engine's theta' = theta (1 + delta z), made
local): every clash in r is also 1 + delta * z_r / p_r times as deadly, delta the run's
`deployment_disruption` (0: suppression only, and the term is skipped), z_r the army and
federal police added to r in the last `disruption_weeks` (per 10,000 real, reductions not
counted; schedule.disruption_exposure), p_r the region's share of the population. Forces
added in proportion to population (how the engine spreads national forces beyond the
regional rows, so a national surge) raise every region's clash lethality by the aggregate's
delta z; forces sent to one region raise it there by their number per head. It is the
lethality of clashes that rises, as theta' in the aggregate: the engine has no separate count
of clashes, a member's clash hazard is their rate times their lethality.

Against the state: hazard k/7 * F'_r / 10,000 (k: `state_kill_rate`), F'_r the real army and
federal police deployed in r, times F C / sum_r F_r C_r: the national intensity of state
action is the aggregate engine's, and deployments decide where it falls. For every member
the state kills, `forces_killed_per_state_kill` army and federal police deployed in the
region die, and `local_police_killed_per_state_kill` local police serving there (the
database's aggressions against authorities, which the aggregate engine's observation model
puts at forces_killed_per_state_kill times its state kills): their numbers are drawn here,
the deaths are requested (requests.py) and resolve.py draws the victims with this module's
Generator. These are the engine's own count of the authorities killed, which its killings
and homicides add once. Draws: the clashes stream (streams.py). Civilian deaths are the
observation model's share of the groups' victims.

The cell arithmetic runs in Numba kernels (the Python functions below are their readable
entry points), so a day costs microseconds whatever the number of groups and regions.
"""

from __future__ import annotations

import numba
import numpy as np

from cartelsim.agents.requests import DEPLOYED, LOCAL
from cartelsim.agents.streams import seed_kernel
from cartelsim.agents.world import DAYS_PER_WEEK, World
from cartelsim.plan import FORCES_UNIT
from cartelsim.scenario import CONFLICT_LETHALITY, DEPLOYMENT_DISRUPTION, STATE_KILL_RATE


def step(world: World, day: int) -> None:
    p = world.settings.parameters
    given = p.clash_locality.value if p.clash_locality is not None else -1.0
    ratio = p.forces_killed_per_state_kill.value
    local_ratio = p.local_police_killed_per_state_kill.value
    killed = np.zeros(world.R, dtype=np.int64)
    local = np.zeros(world.R, dtype=np.int64)
    eff, stream = world.week.eff, world.streams.clashes
    delta, exposure = disruption(world, day)
    _step(
        stream.key, world.cells, world.excess, world.inv_alliance, world.group_boost,
        world.boost_level, world.boost_until, day,
        eff[CONFLICT_LETHALITY] / DAYS_PER_WEEK / world.scale, given, delta, exposure,
        world.service.forces_in,
        FORCES_UNIT * world.scale, eff[STATE_KILL_RATE] / DAYS_PER_WEEK, ratio, local_ratio,
        world.hazards.conflict, world.hazards.state_kill, world.clash_losses, killed, local,
    )  # fmt: skip
    for r in np.flatnonzero(killed):
        world.requests.kill_forces(int(r), int(killed[r]), stream.rng, who=DEPLOYED)
    for r in np.flatnonzero(local):
        world.requests.kill_forces(int(r), int(local[r]), stream.rng, who=LOCAL)


@numba.njit(cache=True)
def _step(
    key, cells, excess, inv_alliance, group_boost, boost_level, boost_until, day, theta, given,
    delta, exposure, forces_in, unit, state_rate, ratio, local_ratio, conflict, state, losses,
    killed, local,
):  # fmt: skip
    """The day in one call: the functions below, in the order of the module docstring."""
    regional = np.empty(cells.shape[1])
    _regional(boost_level, boost_until, day, regional)
    locality = given if given >= 0 else _locality(cells, excess, inv_alliance)
    _disrupt(regional, delta, exposure)
    _conflict_hazard(
        cells, excess, inv_alliance, group_boost, regional, theta * locality, conflict, losses
    )
    per_day = state_rate * intensity(forces_in, cells, unit)
    for g in range(cells.shape[0]):
        state[g, :] = per_day
    if ratio > 0 or local_ratio > 0:
        seed_kernel(key, day)
        _forces_killed(per_day, cells, ratio, local_ratio, killed, local)


def state_intensity(world: World) -> np.ndarray:
    """(R,) deployed forces per member's exposure, in units of 10,000 real: F_r scaled so
    that sum_r F'_r C_r = F C. The national intensity of state action is the aggregate
    engine's; deployments decide where it falls."""
    return intensity(world.service.forces_in, world.cells, FORCES_UNIT * world.scale)


def regional_boost(world: World, day: int) -> np.ndarray:
    """(R,) 1 + L_r: today's multiplier on every clash in region r after a leader's capture
    (leadership.py), applied once per region."""
    out = np.empty(world.R)
    _regional(world.boost_level, world.boost_until, day, out)
    return out


def conflict_hazard(world: World, day: int) -> np.ndarray:
    """(G, R) today's death hazard of a member of g in r from clashes with other groups."""
    out = np.zeros((world.n_groups, world.R))
    rate = world.week.eff[CONFLICT_LETHALITY] / DAYS_PER_WEEK * locality(world) / world.scale
    losses = np.zeros((world.n_groups, world.n_groups))
    regional = regional_boost(world, day)
    _disrupt(regional, *disruption(world, day))
    _conflict_hazard(
        world.cells, world.excess, world.inv_alliance, world.group_boost, regional, rate, out,
        losses,
    )  # fmt: skip
    return out


def disruption(world: World, day: int) -> tuple[float, np.ndarray]:
    """(delta, e): the run's `deployment_disruption` and today's (R,) e_r = z_r / p_r, z_r the
    forces added to region r in the last `disruption_weeks` (per 10,000 real;
    schedule.disruption_exposure) and p_r the region's share of the population: forces added
    per head, relative to a spread over the whole population, so that forces added in
    proportion to population raise every region's clashes by the aggregate's delta z."""
    week = min(day // DAYS_PER_WEEK, world.disruption.shape[0] - 1)
    share = world.regions.population / world.regions.population.sum()
    per_head = np.divide(world.disruption[week], share, out=np.zeros(world.R), where=share > 0)
    return float(world.plan.params[DEPLOYMENT_DISRUPTION]), per_head


def disruption_rise(world: World, day: int) -> np.ndarray:
    """(R,) x_r = delta * e_r: today's relative rise of every clash's lethality in region r
    from the forces added there (0 everywhere in the suppression form)."""
    delta, exposure = disruption(world, day)
    return delta * exposure if delta > 0 else np.zeros(world.R)


def locality(world: World) -> float:
    """lambda: `clash_locality` if given, else the aggregate's pair interactions over the
    local ones today (boosts left out), so that the national intensity of clashes is the
    aggregate engine's and the regions decide where they happen (1 for one region)."""
    p = world.settings.parameters.clash_locality
    if p is not None:
        return p.value
    return _locality(world.cells, world.excess, world.inv_alliance)


@numba.njit(cache=True)
def intensity(forces_in, cells, unit):
    """state_intensity's kernel (raids.py uses it too)."""
    R = cells.shape[1]
    forces = forces_in / unit
    C = np.zeros(R)
    for g in range(cells.shape[0]):
        for r in range(R):
            C[r] += cells[g, r]
    exposure = 0.0
    for r in range(R):
        exposure += forces[r] * C[r]
    if exposure <= 0:
        return np.zeros(R)
    return forces * (forces.sum() * C.sum() / exposure)


@numba.njit(cache=True)
def _regional(boost_level, boost_until, day, out):
    for r in range(out.shape[0]):
        out[r] = 1.0 + boost_level[r] if boost_until[r] > day else 1.0


@numba.njit(cache=True)
def _disrupt(regional, delta, exposure):
    """Militarization as disruption: regional[r] *= 1 + delta * e_r, e_r = z_r / p_r the
    forces added to r in the last disruption_weeks (per 10,000 real) over r's share of the
    population (`disruption`). Nothing is done when delta is 0 (the suppression form)."""
    if delta <= 0.0:
        return
    for r in range(regional.shape[0]):
        regional[r] *= 1.0 + delta * exposure[r]


@numba.njit(cache=True)
def _occupied(cells):
    """Groups with members somewhere (the others add nothing to any sum over rivals)."""
    size = np.zeros(cells.shape[0], dtype=np.int64)
    for g in range(cells.shape[0]):
        for r in range(cells.shape[1]):
            size[g] += cells[g, r]
    return np.flatnonzero(size > 0)


@numba.njit(cache=True)
def _conflict_hazard(cells, excess, inv_alliance, b, regional, rate, out, losses):
    """out[g, r] = rate * a_g * (1 + L_r) * b_g * max(sum_j!=g (E_gj + 1) b_j C_jr, 0), and
    losses[g, j]: the expected deaths of g's members today from j's share of that sum (the
    groups' memory of who hurts them, alliances.py)."""
    G, R = cells.shape
    present = _occupied(cells)
    losses[:] = 0.0
    for g in range(G):
        for r in range(R):
            pressure = 0.0
            for j in present:
                if j != g:
                    pressure += (excess[g, j] + 1.0) * b[j] * cells[j, r]
            out[g, r] = rate * inv_alliance[g] * regional[r] * b[g] * max(pressure, 0.0)
            if cells[g, r] == 0 or pressure <= 0.0:
                continue
            for j in present:
                if j != g:
                    share = max(excess[g, j] + 1.0, 0.0) * b[j] * cells[j, r] / pressure
                    losses[g, j] += out[g, r] * cells[g, r] * share


@numba.njit(cache=True)
def _locality(cells, excess, inv_alliance):
    """sum_gj K_gj C_g C_j over sum_r sum_gj K_gj C_gr C_jr, K_gj = a_g max(E_gj + 1, 0)."""
    G, R = cells.shape
    present = _occupied(cells)
    national, local = 0.0, 0.0
    for g in present:
        for j in present:
            if j == g:
                continue
            k = inv_alliance[g] * max(excess[g, j] + 1.0, 0.0)
            if k == 0.0:
                continue
            size_g, size_j, pairs = 0.0, 0.0, 0.0
            for r in range(R):
                size_g += cells[g, r]
                size_j += cells[j, r]
                pairs += cells[g, r] * cells[j, r]
            national += k * size_g * size_j
            local += k * pairs
    return national / local if local > 0 else 0.0


@numba.njit(cache=True)
def _forces_killed(state, cells, ratio, local_ratio, killed, local):
    """killed[r] ~ Poisson(ratio * m_r) army and federal police, local[r] ~
    Poisson(local_ratio * m_r) local police, m_r the members the state is expected to kill
    in r today."""
    for r in range(cells.shape[1]):
        members = 0
        for g in range(cells.shape[0]):
            members += cells[g, r]
        if members > 0 and state[r] > 0:
            expected = state[r] * members
            if ratio > 0:
                killed[r] = np.random.poisson(ratio * expected)
            if local_ratio > 0:
                local[r] = np.random.poisson(local_ratio * expected)
