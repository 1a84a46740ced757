"""Run a scenario: one path for every engine, whether in memory (`run`) or to disk in
checkpointed chunks (ensemble.py, which calls the same three steps).

    prepare(scenario)        once: compile the plan (and, with `start_from`, run the base)
    simulate(prepared, a, b) per chunk of runs a..b-1, anywhere: a process, a Dask worker
    assemble(prepared, parts) once: the parts joined in run order, as Results

The engine does the work of each step (engines.py); the aggregate engine's steps are here,
the agent engine's in cartelsim.agents.engine. Nothing is computed twice: the plan is built
in `prepare` and travels with the chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cartelsim import aggregate, budget, engines, invariants, observe
from cartelsim.engines import Engine, Part
from cartelsim.plan import Plan, make_plan
from cartelsim.region_table import check_region_table
from cartelsim.results import Results
from cartelsim.rng import SEED_LIMIT, Seed, check_seeds
from cartelsim.scenario import Scenario, ScenarioError, load_scenario, start_from_chain
from cartelsim.trajectories import Trajectories

#: Runs per chunk when a `start_from` base is computed inside `prepare`.
CHUNK = 64


@dataclass(frozen=True)
class Prepared:
    """A scenario made ready to simulate runs first..stop-1 of the ensemble seeded `seed`."""

    scenario: Scenario
    engine: Engine
    context: Any  # the engine's own: for the aggregate engine an AggregateContext
    seed: Seed  # a number, or a tuple of seeds: one run each (rng.py)
    first: int
    stop: int
    data_dir: str | None


def prepare(
    scenario: Scenario | str | Path,
    runs: int = 1,
    seed: Seed = 0,
    data_dir: str | Path | None = None,
    *,
    first_run: int = 0,
    engine: str = "aggregate",
    **options: Any,
) -> Prepared:
    """Compile `scenario` for runs first_run..first_run + runs - 1 with `engine`.

    `options` are the engine's own (the agent engine's `scale` and `regions`); an option
    the engine does not take, given a value, is an error.

    Checked first, before anything is computed: the numbers (runs, seed, first_run), the
    chain of `start_from` bases (no cycle, each there), and the size of the request
    (budget.py: refused with its memory and time estimates when it cannot fit)."""
    numbers = [("runs", runs, 1), ("first_run", first_run, 0)]
    if isinstance(seed, tuple | list):  # a seed list: one run per listed seed (rng.py)
        seed = check_seeds(seed)
    else:
        numbers.append(("seed", seed, 0))
    for name, value, low in numbers:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name}: must be a whole number >= {low} (got {value!r})")
    if isinstance(seed, tuple) and first_run + runs > len(seed):
        raise ValueError(
            f"seeds: {len(seed)} listed, but runs {first_run}..{first_run + runs - 1} asked for "
            "(one run per listed seed)"
        )
    if not isinstance(seed, tuple) and seed >= SEED_LIMIT:
        raise ValueError(f"seed: must be between 0 and 2**63-1 (got {seed})")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if scenario.simulation.start_from is not None:
        start_from_chain(scenario)
    chosen = engines.get(engine)
    if "regions" in chosen.options:  # a region table is checked before the engine reads it
        spec = options.get("regions") or getattr(scenario.agents, "regions", None) or "states"
        check_region_table(str(spec))
    budget.check_run(scenario, runs, engine, options)
    observe.check_local_series(scenario)
    for name, value in options.items():
        if value is not None and name not in chosen.options:
            flag = "--" + name.replace("_", "-")
            takers = [e.name for e in engines.engines().values() if name in e.options]
            raise ValueError(f"{flag}: only with --engine {' or '.join(takers) or '(none)'}")
    taken = {k: v for k, v in options.items() if k in chosen.options}
    stop = first_run + runs
    data = str(data_dir) if data_dir else None
    context = chosen.prepare(scenario, seed, first_run, stop, data, **taken)
    return Prepared(scenario, chosen, context, seed, first_run, stop, data)


def simulate(prepared: Prepared, first: int, stop: int, progress=None) -> Part:
    """Runs first..stop-1 (inside the prepared range), checked; what a worker executes."""
    if not prepared.first <= first < stop <= prepared.stop:
        raise ValueError(f"runs {first}..{stop - 1}: outside {prepared.first}..{prepared.stop}")
    return prepared.engine.simulate(prepared.context, prepared.seed, first, stop, progress)


def assemble(prepared: Prepared, parts: list[Part]) -> Results:
    """The parts, which cover the prepared runs in order, as one Results."""
    return prepared.engine.results(prepared.context, parts, prepared.seed, prepared.data_dir)


def run(
    scenario: Scenario | str | Path,
    runs: int = 1,
    seed: Seed = 0,
    data_dir: str | Path | None = None,
    progress=None,
    first_run: int = 0,
    engine: str = "aggregate",
    **options: Any,
) -> Results:
    """Simulate `runs` runs of a scenario (a Scenario, a built-in name or a TOML path).

    `first_run` makes these runs first_run, first_run + 1, ... of the ensemble seeded with
    `seed`, so that an ensemble computed in pieces (ensemble.py) equals one computed whole.
    A tuple of seeds gives one run per seed, run r as the one run seeded seed[r] (rng.py).
    With `simulation.start_from`, the named scenario runs first (same runs and seed) and each
    run starts from that run's final state, as PC2023's policy scenarios start from 2022.
    Every part is checked against the model's accounting (invariants.py).
    """
    prepared = prepare(
        scenario, runs, seed, data_dir, first_run=first_run, engine=engine, **options
    )
    return assemble(prepared, [simulate(prepared, prepared.first, prepared.stop, progress)])


# --- the aggregate engine's steps -----------------------------------------------------------


@dataclass(frozen=True)
class AggregateContext:
    """The compiled plan, and with `start_from` each prepared run's starting members."""

    plan: Plan
    first: int
    initial: np.ndarray | None  # (groups, runs) for runs first..; None: the plan's start


def _aggregate_prepare(
    scenario: Scenario, seed: int, first: int, stop: int, data_dir: str | None
) -> AggregateContext:
    base_name = scenario.simulation.start_from
    if base_name is None:
        return AggregateContext(make_plan(scenario, data_dir=data_dir), first, None)
    base = prepare(base_name, stop - first, seed, data_dir, first_run=first)
    finals = [
        simulate(base, a, min(a + CHUNK, stop)).traj.members[-1] for a in range(first, stop, CHUNK)
    ]
    initial = np.concatenate(finals, axis=1)
    end = base.context.plan.dates()[-1]
    if abs((end - scenario.simulation.start).days) > 7:
        raise ScenarioError(
            f"{scenario.name}.toml: simulation.start: {scenario.simulation.start} is not "
            f"where {base_name} ends ({end})"
        )
    # The plan starts from the first run's state (what the report's inputs table shows);
    # every run is simulated from its own.
    plan = make_plan(scenario, data_dir=data_dir, initial=initial[:, 0])
    return AggregateContext(plan, first, initial)


def _aggregate_simulate(
    ctx: AggregateContext, seed: int, first: int, stop: int, progress=None
) -> Part:
    initial = None
    if ctx.initial is not None:
        initial = ctx.initial[:, first - ctx.first : stop - ctx.first]
    try:
        traj = aggregate.simulate(
            ctx.plan, stop - first, seed, initial=initial, progress=progress, first_run=first
        )
    except ValueError as exc:  # numpy's random draws refuse counts beyond 64-bit integers
        if ctx.plan.scenario.simulation.mode != "stochastic":
            raise
        raise invariants.InvariantError(
            f"{ctx.plan.scenario.name}.toml: (invariant): the stochastic engine stopped ({exc}): "
            "members outgrew what 64-bit counts hold (2**63); check the rates"
        ) from None
    invariants.check(ctx.plan, traj, first)
    return Part(traj)


def _aggregate_results(
    ctx: AggregateContext, parts: list[Part], seed: int, data_dir: str | None
) -> Results:
    return Results(ctx.plan, Trajectories.join([p.traj for p in parts]), seed, data_dir)


#: The aggregate engine, as the core drives it (registered in pyproject.toml).
AGGREGATE = Engine(
    name="aggregate",
    about="group-level ODE (deterministic) or tau-leaping (stochastic) engine, weekly",
    prepare=_aggregate_prepare,
    simulate=_aggregate_simulate,
    results=_aggregate_results,
)
