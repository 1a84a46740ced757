"""The agent engine as the core sees it: settings, an ensemble of runs, their collection.

sim.py builds and runs one world; this module runs several and gathers them in the
aggregate engine's format (Trajectories) plus what only agents have (regions).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from cartelsim.agents.population import ARMY, FEDERAL_POLICE, LOCAL_POLICE, Tally
from cartelsim.agents.regions import Regions, load_regions
from cartelsim.agents.settings import AgentSettings
from cartelsim.agents.sim import OFFICIAL_LEVEL_SHARES, build, run_world
from cartelsim.plan import Plan, make_plan
from cartelsim.results import Results
from cartelsim.rng import run_seeds
from cartelsim.scenario import Scenario, ScenarioError
from cartelsim.trajectories import Trajectories


@dataclass(frozen=True)
class AgentRuns:
    """What an ensemble of agent runs returns.

    traj: national output in the aggregate engine's form (groups include splinter slots).
    regional: (weeks, len(REGION_VARIABLES), regions, runs).
    members_by_region: (weeks + 1, groups, regions, runs) free members at the start of each week.
    start: agents at the start (real people): cartel members, state forces, officials.
    tallies: one Tally per run (flows of members, for the balance check).
    """

    plan: Plan
    traj: Trajectories
    regions: Regions
    regional: np.ndarray
    members_by_region: np.ndarray
    start: dict[str, int]
    tallies: list[Tally]
    scale: float
    settings: AgentSettings


def settings_of(scenario: Scenario, scale: float | None, regions: str | None) -> AgentSettings:
    settings = scenario.agents or AgentSettings()
    changes = {}
    if scale is not None:
        if not 0 < scale <= 1:
            raise ValueError(f"--scale: must be in (0, 1] (got {scale})")
        changes["scale"] = scale
    if regions is not None:
        changes["regions"] = regions
    return settings.model_copy(update=changes)


def simulate_agents(
    scenario: Scenario,
    runs: int = 1,
    seed: int = 0,
    scale: float | None = None,
    regions: str | None = None,
    progress=None,
    first_run: int = 0,
) -> AgentRuns:
    """Run `runs` agent runs: runs first_run, first_run + 1, ... of the ensemble seeded with
    `seed` (run r uses child r of SeedSequence(seed), whatever the number of runs)."""
    if scenario.simulation.start_from is not None:
        raise ScenarioError(
            f"{scenario.name}.toml: simulation.start_from: not supported by the agent engine"
        )
    settings = settings_of(scenario, scale, regions)
    region_table = load_regions(settings.regions)
    plan = make_plan(scenario)
    outputs = []
    for run_seed in run_seeds(seed, runs, first_run):
        world = build(plan, settings, region_table, int(run_seed))
        outputs.append((run_world(world), world))
        if progress is not None:
            progress(1)
    return _collect(plan, settings, region_table, outputs)


def run_agents(
    scenario: Scenario,
    runs: int = 1,
    seed: int = 0,
    scale: float | None = None,
    regions: str | None = None,
    progress=None,
    first_run: int = 0,
) -> Results:
    """simulate_agents wrapped as Results, like runner.run's (engine "agents")."""
    if runs < 1:
        raise ValueError(f"runs: must be >= 1 (got {runs})")
    out = simulate_agents(scenario, runs, seed, scale, regions, progress, first_run)
    return Results(out.plan, out.traj, seed, engine="agents", agents=out)


def _collect(plan: Plan, settings: AgentSettings, regions: Regions, outputs) -> AgentRuns:
    used = max(
        [plan.n_groups] + [int(np.flatnonzero(w.active_group).max()) + 1 for _, w in outputs]
    )
    members = np.stack([rec.members[:, :used] for rec, _ in outputs], axis=-1)
    flows = np.stack([rec.flows for rec, _ in outputs], axis=-1)
    regional = np.stack([rec.regional for rec, _ in outputs], axis=-1)
    by_region = np.stack([rec.members_by_region[:, :used] for rec, _ in outputs], axis=-1)
    world = outputs[0][1]
    extended = dataclasses.replace(
        plan,
        names=world.names[:used],
        shorts=world.shorts[:used],
        initial=np.concatenate([plan.initial, np.zeros(used - plan.n_groups)]),
        recruitment_multiplier=np.concatenate(
            [plan.recruitment_multiplier, np.ones(used - plan.n_groups)]
        ),
    )
    params = np.repeat(plan.params[:, None], len(outputs), axis=1)
    state = world.state
    start = {
        "cartel_members_start": int(round(world.tally.start / settings.scale)),
        "state_forces_start": int(round(state.count_of((ARMY, FEDERAL_POLICE, LOCAL_POLICE))
                                        / settings.scale)),
        "officials_start": int(round(state.count_of(tuple(OFFICIAL_LEVEL_SHARES))
                                     / settings.scale)),
    }  # fmt: skip
    return AgentRuns(
        plan=extended,
        traj=Trajectories(members, flows, params),
        regions=regions,
        regional=regional,
        members_by_region=by_region,
        start=start,
        tallies=[w.tally for _, w in outputs],
        scale=settings.scale,
        settings=settings,
    )
