"""The agent engine as the core drives it (engines.Engine): settings, runs, their collection.

sim.py builds and runs one world; this module prepares a scenario once (plan, settings,
region table), runs a chunk of worlds (each run seeded by its index alone, so chunks on any
number of processes give the same runs) and joins chunks in the aggregate engine's format
(Trajectories) plus what only agents have (regions, agents at the start): AgentRuns, the
Results' `extra`. Registered as the ``agents`` engine in pyproject.toml.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cartelsim import invariants, runner
from cartelsim.agents import output
from cartelsim.agents.population import ARMY, FEDERAL_POLICE, LOCAL_POLICE, Tally
from cartelsim.agents.regions import Regions, load_regions
from cartelsim.agents.settings import AgentSettings
from cartelsim.agents.sim import OFFICIAL_LEVEL_SHARES, build, run_world
from cartelsim.engines import Engine, Part
from cartelsim.plan import Plan, make_plan
from cartelsim.results import Results
from cartelsim.rng import run_seeds
from cartelsim.scenario import Scenario, ScenarioError
from cartelsim.trajectories import Trajectories

#: Tally fields, in the order a part stores them as an (fields, runs) array.
TALLY_FIELDS = tuple(f.name for f in dataclasses.fields(Tally))


@dataclass(frozen=True)
class AgentRuns:
    """What an ensemble of agent runs keeps beside the Trajectories (Results.extra).

    plan, traj: as in the Results (groups include the splinter slots that were used).
    regional: (weeks, len(REGION_VARIABLES), regions, runs).
    national: (weeks, len(NATIONAL_MECHANISMS), runs): splits, truces, mergers, active groups,
    payroll shares by level, week by week (record.py).
    members_by_region: (weeks + 1, groups, regions, runs) free members at the start of each week.
    start: agents at the start (real people): cartel members, state forces, officials.
    tallies: one Tally per run (cumulative flows of members, captures, splits, truces).
    """

    plan: Plan
    traj: Trajectories
    regions: Regions
    regional: np.ndarray
    national: np.ndarray
    members_by_region: np.ndarray
    start: dict[str, int]
    tallies: list[Tally]
    scale: float
    settings: AgentSettings

    def tidy_rows(self, results: Results) -> pd.DataFrame:
        return output.regional_table(results)

    def state_forces_killed(self) -> np.ndarray:
        """Army, federal and local police killed each week (weeks, runs): the engine's own
        count (clashes.py, raids.py), which its killings and homicides add once."""
        return output.state_forces_killed(self.regional).sum(axis=1)

    def summary(self, results: Results) -> dict[str, Any]:
        out = {
            "agents": self.start,
            "engine_options": {"scale": self.scale, "regions": self.settings.regions},
            "yearly": output.yearly_with_mechanisms(results),
            "yearly_by_region": output.yearly_by_region(results),
        }
        juarez = output.juarez_comparison(results)
        if juarez is not None:
            out["juarez"] = juarez
        return out


def settings_of(scenario: Scenario, scale: float | None, regions: str | None) -> AgentSettings:
    """The scenario's [agents] table (or the defaults) with the command line's options."""
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
    """Runs first_run..first_run + runs - 1 of the ensemble seeded with `seed`, in this
    process (runner.run with engine "agents"); for scripts that want the agent outputs."""
    results = runner.run(
        scenario, runs, seed, progress=progress, first_run=first_run, engine="agents",
        scale=scale, regions=regions,
    )  # fmt: skip
    return results.extra


# --- the engine's steps (engines.py) ---------------------------------------------------------


@dataclass(frozen=True)
class AgentContext:
    """What every chunk of an agent ensemble shares: the plan, settings and regions."""

    plan: Plan
    settings: AgentSettings
    regions: Regions


def _prepare(
    scenario: Scenario,
    seed: int,
    first: int,
    stop: int,
    data_dir: str | None,
    scale: float | None = None,
    regions: str | None = None,
) -> AgentContext:
    if scenario.simulation.start_from is not None:
        raise ScenarioError(
            f"{scenario.name}.toml: simulation.start_from: not supported by the agent engine"
        )
    # The fragment factors (fragment_lethality_factor, fragment_saturation_factor) act only
    # from a fragment event's week on (plan._after_fragment): refusing the event refuses them,
    # and without one they are 0 in force every week, which no mechanism here reads.
    for i, event in enumerate(scenario.events):
        if event.type == "fragment":
            raise ScenarioError(
                f"{scenario.name}.toml: events[{i}]: a fragment event (the families becoming "
                f"the {event.dataset} groups) is not modelled by the agent engine yet; run "
                "mexico-2006-2012 with it, or this scenario with the aggregate engine"
            )
    settings = settings_of(scenario, scale, regions)
    return AgentContext(make_plan(scenario, data_dir), settings, load_regions(settings.regions))


def _simulate(ctx: AgentContext, seed: int, first: int, stop: int, progress=None) -> Part:
    """Worlds first..stop-1, one after the other."""
    outputs = []
    for run_seed in run_seeds(seed, stop - first, first):
        world = build(ctx.plan, ctx.settings, ctx.regions, int(run_seed))
        outputs.append((run_world(world), world))
        if progress is not None:
            progress(1)
    plan = ctx.plan
    used = max([plan.n_groups] + [_slots_used(rec, w) for rec, w in outputs])
    traj = Trajectories(
        np.stack([rec.members[:, :used] for rec, _ in outputs], axis=-1),
        np.stack([rec.flows for rec, _ in outputs], axis=-1),
        np.repeat(plan.params[:, None], len(outputs), axis=1),
    )
    invariants.check_values(_extended(plan, used), traj, first)
    arrays = {
        "regional": np.stack([rec.regional for rec, _ in outputs], axis=-1),
        "national": np.stack([rec.national for rec, _ in outputs], axis=-1),
        "members_by_region": np.stack(
            [rec.members_by_region[:, :used] for rec, _ in outputs], axis=-1
        ),
        "tallies": np.array(
            [dataclasses.astuple(w.tally) for _, w in outputs], dtype=np.int64
        ).T.reshape(len(TALLY_FIELDS), len(outputs)),
    }
    world, s = outputs[0][1], ctx.settings.scale
    state = world.state
    start = {
        "cartel_members_start": int(round(world.tally.start / s)),
        "state_forces_start": int(round(state.count_of((ARMY, FEDERAL_POLICE, LOCAL_POLICE)) / s)),
        "officials_start": int(round(state.count_of(tuple(OFFICIAL_LEVEL_SHARES)) / s)),
    }
    # Splinter slots are named when a group splits, run by run; the table uses the names of
    # the part's first run (so of run 0 for the ensemble), as one name per slot. Every slot's
    # name is kept, not only those of the slots this part's runs end with: a splinter of run
    # 0 that dissolved before the end is still named in a table that other runs extend to
    # it, however the runs are cut into parts.
    names = {"shorts": list(world.shorts), "names": list(world.names)}
    return Part(traj, arrays, {"start": start, **names})


def _slots_used(rec, world) -> int:
    """Group slots a run used: up to the last one active at the end or with members at any
    time. A splinter that dissolved before the end still had members, so a table cut at
    the groups active at the end would drop them (and differ with how runs are chunked)."""
    ever = np.flatnonzero(rec.members.any(axis=0) | world.active_group)
    return int(ever.max()) + 1 if ever.size else 0


def _results(ctx: AgentContext, parts: list[Part], seed: int, data_dir: str | None) -> Results:
    traj = Trajectories.join([p.traj for p in parts])
    plan = _extended(ctx.plan, traj.members.shape[1], parts[0].info)
    regional = _join([p.arrays["regional"] for p in parts])
    national = _join([p.arrays["national"] for p in parts])
    by_region = _join([p.arrays["members_by_region"] for p in parts])
    tallies = _join([p.arrays["tallies"] for p in parts])
    extra = AgentRuns(
        plan=plan,
        traj=traj,
        regions=ctx.regions,
        regional=regional,
        national=national,
        members_by_region=by_region,
        start=parts[0].info["start"],
        tallies=[Tally(*map(int, tallies[:, r])) for r in range(tallies.shape[1])],
        scale=ctx.settings.scale,
        settings=ctx.settings,
    )
    return Results(plan, traj, seed, data_dir, engine="agents", extra=extra)


def _join(arrays: list[np.ndarray]) -> np.ndarray:
    """Chunks' arrays joined on their last (run) axis; shorter group axes padded with 0."""
    if len(arrays) == 1:
        return arrays[0]
    shape = np.max([a.shape for a in arrays], axis=0)
    padded = [np.pad(a, [(0, n - m) for n, m in zip(shape[:-1], a.shape[:-1], strict=True)]
                     + [(0, 0)]) for a in arrays]  # fmt: skip
    return np.concatenate(padded, axis=-1)


def _extended(plan: Plan, used: int, info: dict | None = None) -> Plan:
    """The plan with the splinter groups that runs created (slots n..used-1), named as in
    `info` (a part's first run) where it names them."""
    n = plan.n_groups
    if used == n:
        return plan
    info = info or {}
    shorts = [*info.get("shorts", plan.shorts)][:used]
    names = [*info.get("names", plan.names)][:used]
    shorts += [f"new-{k + 1}" for k in range(len(shorts) - n, used - n)]
    names += [f"splinter group {k + 1}" for k in range(len(names) - n, used - n)]
    return dataclasses.replace(
        plan,
        names=names,
        shorts=shorts,
        initial=np.concatenate([plan.initial, np.zeros(used - n)]),
        recruitment_multiplier=np.concatenate([plan.recruitment_multiplier, np.ones(used - n)]),
    )


#: The agent engine, as the core drives it (registered in pyproject.toml).
ENGINE = Engine(
    name="agents",
    about="every member, soldier, police officer and official an agent, daily, on a map",
    prepare=_prepare,
    simulate=_simulate,
    results=_results,
    options=("scale", "regions"),
    chunk=1,  # a 1:1 run takes seconds: one run per part keeps every worker busy
    section="agents",
    settings=AgentSettings,
)
