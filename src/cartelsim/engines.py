"""The core's interface to the simulation engines, and where it finds them.

An engine turns a scenario into runs. The core (runner.py, ensemble.py, results.py) drives
every engine through the `Engine` record below and never imports one by name: engines are
found through the ``cartelsim.engines`` entry-point group of the installed packages, the way
pytest finds its plugins. cartelsim's own two are declared in pyproject.toml:

    aggregate = "cartelsim.runner:AGGREGATE"        the group-level ODE/stochastic engine
    agents    = "cartelsim.agents.engine:ENGINE"    every member an agent, on a map

Why entry points: the agent engine imports the core (plan, results); if the core imported
the agent engine back, neither could be read, tested or replaced without the other. With the
registry, a third engine is a new package with one line in its own pyproject.toml.

What an engine provides, in the order the core calls it:

1. `section`, `settings`: the scenario table it owns (``[agents]``) and the pydantic model
   that validates it, so a typo there is a one-line error when the scenario loads, whatever
   engine then runs it (scenario.validate).
2. `prepare(scenario, options, data_dir) -> context`: everything computed once per ensemble
   (the compiled plan, region tables), in the calling process. The context is sent to
   worker processes, so it must pickle.
3. `simulate(context, seed, first, stop) -> Part`: runs first..stop-1 of the ensemble seeded
   with `seed`; run r must depend only on (seed, r), so chunks give the same numbers however
   the runs are split among processes. Each part is checked here (`check`).
4. `results(context, parts, seed, data_dir) -> Results`: the parts joined in run order.
   Parts are saved between 3 and 4 (ensemble.py), so a Part holds only arrays and JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any, Protocol

from cartelsim.trajectories import Trajectories

#: The entry-point group engines register under.
GROUP = "cartelsim.engines"


@dataclass(frozen=True)
class Part:
    """What an engine computed for runs first..stop-1 of an ensemble.

    `arrays` are engine-specific outputs whose last axis is the run; `info` is JSON-able
    and the same for every part of an ensemble (e.g. the agents at the start)."""

    traj: Trajectories
    arrays: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Engine:
    """One simulation engine, as the core drives it (see the module docstring)."""

    name: str
    about: str  # one line, for `--help` and error messages
    prepare: Callable[..., Any]
    simulate: Callable[..., Part]
    results: Callable[..., Any]
    options: tuple[str, ...] = ()  # the keyword options prepare() accepts (--scale, ...)
    chunk: int = 64  # runs per saved part and per task sent to a worker, by default
    section: str | None = None
    settings: type | None = None


class Extra(Protocol):
    """What an engine keeps beside the Trajectories (Results.extra; None for the aggregate
    engine): its additions to the tidy table and to the summary."""

    def tidy_rows(self, results: Any) -> Any:
        """More rows for Results.to_pandas (a DataFrame with the same columns)."""
        ...

    def summary(self, results: Any) -> dict[str, Any]:
        """More keys for Results.summary."""
        ...

    def state_forces_killed(self) -> Any:
        """The soldiers and police the groups killed each week, (weeks, runs) real people,
        where the engine counts them itself; None leaves them to the observation model
        (observe.recorded)."""
        ...


@cache
def engines() -> dict[str, Engine]:
    """Every installed engine by name, loaded once per process."""
    found = {}
    for point in metadata.entry_points(group=GROUP):
        engine = point.load()
        if not isinstance(engine, Engine) or engine.name != point.name:
            raise RuntimeError(f"entry point {point.value}: not the Engine {point.name!r}")
        found[point.name] = engine
    return dict(sorted(found.items()))


def get(name: str) -> Engine:
    """The engine called `name`, or a one-line error listing the installed ones."""
    known = engines()
    if name not in known:
        raise ValueError(f"engine: must be one of {', '.join(known)} (got {name!r})")
    return known[name]


def sections() -> dict[str, type]:
    """The scenario tables that engines own, with the model that validates each."""
    return {e.section: e.settings for e in engines().values() if e.section and e.settings}
