"""Size limits decided before anything is allocated: runs, draws, horizon, agents.

An ensemble is assembled in memory at the end (README, "Large ensembles"): `--runs 10**9`
would run for years and then fail, or be killed by the system, having written nothing. So
every command estimates, before the first run, the memory its result needs and the time it
takes, and refuses what cannot fit in this machine's memory with both estimates and the
option to change. The estimates are deliberately simple (bytes per row of the tidy table,
seconds per group-week), calibrated on this project's measurements (README: ~6 MB per pc2023
run; benchmarks/invariants.py; benchmarks/agents.py); they are meant to tell 10 GB from
10 TB, not 1.1 GB from 1.2 GB.

The memory available is the smallest of the machine's physical memory, the process's
address-space or data limit (`ulimit -v`) and its cgroup's limit (containers).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import resource
from dataclasses import dataclass
from pathlib import Path

from cartelsim import outputs
from cartelsim.datasets import fact_rows
from cartelsim.region_table import BUILTIN as BUILTIN_REGIONS
from cartelsim.scenario import Scenario

#: Bytes per row of the tidy table while it is built, converted and written: README's
#: measurement, ~6 MB per pc2023 run of ~83,000 rows (~72 bytes a row), rounded up.
BYTES_PER_ROW = 80
#: Bytes per group-week of the engine's arrays, per run (members, the joined copy, flows).
BYTES_PER_GROUP_WEEK = 24
#: Seconds per group-week per run, by mode (RELIABILITY.md section 5's table, pc2023 on one
#: core: 1.6 s for 1,024 deterministic runs, 2.1 s for 64 stochastic ones, rounded).
SECONDS_PER_GROUP_WEEK = {"deterministic": 2e-8, "stochastic": 4e-7}
#: Seconds per row of the tidy table (to_pandas, Parquet, summary): an assumption of the order
#: of RELIABILITY.md section 7's 6 ms to_pandas of a pc2023 run, times 3.
SECONDS_PER_ROW = 2e-7
#: The agent engine: seconds per person-day (README: ~3 s for the 1:1 mexico-2006-2012 run
#: over 2,219 days, divided by this module's own count of its people, ~580,000: an estimate)
#: and bytes per person (an assumption, a few columns of 1-8 bytes and room to grow).
SECONDS_PER_PERSON_DAY = 2.5e-9
BYTES_PER_PERSON = 40
#: National weekly variables of the tidy table, and groups of a dataset's network.
NATIONAL_VARIABLES = 9
DATASET_GROUPS = {"pc2023": 150}
#: The share of the available memory an estimate may take.
HEADROOM = 0.8


class BudgetError(ValueError):
    """A request too large for this machine: one line with the estimates and what to change."""


def memory_limit() -> int:
    """Bytes this process may use: physical memory, `ulimit -v`/`-d`, the cgroup's limit."""
    limits = []
    with contextlib.suppress(ValueError, OSError):
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    for kind in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        soft, _ = resource.getrlimit(kind)
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            limits.append(soft)
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            limits.append(int(text))
    return min(limits) if limits else 16 * 2**30


def size(n: float) -> str:
    """Bytes for messages: 1.2 GB, 3.4 TB."""
    for unit, scale in (("PB", 2**50), ("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 2**10:,.0f} kB"


def duration(seconds: float) -> str:
    """Seconds for messages: 40 s, 3.2 hours, 1,900 years."""
    for unit, scale in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600)):
        if seconds >= 2 * scale:
            return f"{seconds / scale:,.1f} {unit}"
    if seconds >= 120:
        return f"{seconds / 60:,.0f} minutes"
    return f"{max(seconds, 0.1):,.1f} s"


def groups_of(scenario: Scenario) -> int:
    """Groups the engine will simulate (a dataset's network: its known size)."""
    if scenario.network.dataset is not None:
        return DATASET_GROUPS.get(scenario.network.dataset, 150)
    return max(len(scenario.groups), 1)


@dataclass(frozen=True)
class Estimate:
    """Memory (bytes) and time (seconds) of a request, per run and fixed."""

    per_run_bytes: float
    per_run_seconds: float
    fixed_bytes: float = 0.0
    basis: str = ""

    def check(self, count: int, flag: str, runs_per: int = 1, powers_of_2: bool = False) -> None:
        """Refuse `count` (runs, or samples of `runs_per` runs each) when the estimate
        exceeds what this process may use; the message gives the most that fits."""
        limit = memory_limit() * HEADROOM
        runs = count * runs_per
        need = self.fixed_bytes + runs * self.per_run_bytes
        if need <= limit:
            return
        most = max(int((limit - self.fixed_bytes) // max(self.per_run_bytes, 1)), 0) // runs_per
        if powers_of_2 and most:
            most = 2 ** int(math.log2(most))
        advice = f"use {flag} {most:,} or less" if most else f"lower {flag} or the scenario's size"
        of = f" ({runs:,} runs)" if runs_per > 1 else ""
        raise BudgetError(
            f"{flag} {count:,}{of}: too large for this machine: about {size(need)} of memory "
            f"({size(self.per_run_bytes)} per run: {self.basis}) and about "
            f"{duration(runs * self.per_run_seconds)} on one core; "
            f"{size(memory_limit())} available: {advice}"
        )


def aggregate_estimate(scenario: Scenario) -> Estimate:
    """An aggregate ensemble written as results: the tidy table dominates."""
    groups, weeks = groups_of(scenario), scenario.simulation.weeks
    rows = (weeks + 1) * groups + weeks * NATIONAL_VARIABLES
    per_run = rows * BYTES_PER_ROW + (weeks + 1) * groups * BYTES_PER_GROUP_WEEK
    mode = scenario.simulation.mode
    seconds = groups * weeks * SECONDS_PER_GROUP_WEEK[mode] + rows * SECONDS_PER_ROW
    return Estimate(per_run, seconds, basis=f"{groups} groups x {weeks} weeks")


def draws_estimate(scenario: Scenario, base: Scenario | None = None) -> Estimate:
    """One run per parameter draw, national totals only (compare, sensitivity); a
    `start_from` base runs first with every group."""
    groups, weeks = groups_of(scenario), scenario.simulation.weeks
    per_run = 8 * weeks * 20
    seconds = groups * weeks * SECONDS_PER_GROUP_WEEK[scenario.simulation.mode]
    if base is not None:
        base_groups, base_weeks = groups_of(base), base.simulation.weeks
        per_run += 8 * (base_weeks + 1) * base_groups + 8 * base_weeks * 8
        seconds += base_groups * base_weeks * SECONDS_PER_GROUP_WEEK[base.simulation.mode]
    return Estimate(per_run, seconds, basis=f"{groups} groups x {weeks} weeks")


#: Splinter slots of an agent run whose scenario has no [agents] table (agents/settings.py's
#: default max_new_groups; the core does not import the agent engine, so it is repeated here
#: and tests/test_agents*.py check the two agree).
DEFAULT_SPLINTER_SLOTS = 150


def agent_estimate(scenario: Scenario, scale: float | None, regions: str | None) -> Estimate:
    """An agent ensemble: each run's regional tables in the results; one world at a time
    per process (people x 40 bytes)."""
    settings = scenario.agents
    scale = scale if scale is not None else float(getattr(settings, "scale", 1.0))
    regions = regions if regions is not None else str(getattr(settings, "regions", "states"))
    count, population = _regions_size(regions)
    slots = getattr(getattr(settings, "parameters", None), "max_new_groups", None)
    slots = int(slots.value) if slots is not None else DEFAULT_SPLINTER_SLOTS
    groups, weeks = groups_of(scenario) + slots, scenario.simulation.weeks
    rows = (weeks + 1) * groups * (count + 1) + weeks * (NATIONAL_VARIABLES + 9 * count)
    per_run = rows * BYTES_PER_ROW + (weeks + 1) * groups * count * 16
    people = scale * (2 * members_at_start(scenario) + forces(scenario) + population * 330e-5)
    seconds = people * weeks * 7 * SECONDS_PER_PERSON_DAY + rows * SECONDS_PER_ROW
    basis = f"{groups_of(scenario)} groups x {count} regions x {weeks} weeks"
    return Estimate(per_run, seconds, fixed_bytes=people * BYTES_PER_PERSON, basis=basis)


def members_at_start(scenario: Scenario) -> float:
    if scenario.network.dataset is not None and scenario.parameters.initial_members_total:
        return scenario.parameters.initial_members_total.value
    return sum(g.initial_members for g in scenario.groups)


def forces(scenario: Scenario) -> float:
    deployed = [d.troops + d.federal_police for d in scenario.deployments]
    return max(deployed, default=0.0) * 1.1


def _regions_size(spec: str) -> tuple[int, float]:
    """Regions and their population, from a built-in table or a region CSV (read
    leniently: the agent engine's own reader reports what is wrong with it)."""
    if spec in BUILTIN_REGIONS:
        rows = fact_rows(BUILTIN_REGIONS[spec])
    else:
        try:
            text = outputs.read_bounded(spec, "regions").decode("utf-8-sig")
            rows = list(csv.DictReader(io.StringIO(text)))
        except (outputs.OutputError, UnicodeDecodeError, csv.Error):
            return 1, 0.0
    total = 0.0
    for row in rows:
        try:
            value = float(row.get("population") or 0)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value) and value > 0:
            total += value
    return max(len(rows), 1), total


def check_run(scenario: Scenario, runs: int, engine: str, options: dict, flag="--runs") -> None:
    """Refuse, before any run, an ensemble that cannot fit (BudgetError), and an agent
    scale at which no group keeps a single agent."""
    if engine == "agents":
        scale = options.get("scale")
        check_scale(scenario, scale)
        estimate = agent_estimate(scenario, scale, options.get("regions"))
    else:
        estimate = aggregate_estimate(scenario)
    estimate.check(runs, flag)


def check_scale(scenario: Scenario, scale: float | None) -> None:
    """The agent engine keeps round(members x scale) agents per group: at a scale where the
    largest group rounds to 0, nothing would be simulated."""
    settings = scenario.agents
    scale = scale if scale is not None else float(getattr(settings, "scale", 1.0))
    if scenario.network.dataset is not None:
        largest = members_at_start(scenario)
    else:
        largest = max((g.initial_members for g in scenario.groups), default=0.0)
    if largest > 0 and round(largest * scale) == 0:
        raise BudgetError(
            f"--scale {scale:g}: no group keeps an agent (the largest, {largest:,.0f} members, "
            f"rounds to 0 at this scale); use --scale >= {1.0 / largest:.2g}"
        )


#: The longest agent comparison accepted, by the estimate below (its runs go one after the
#: other in one process): an assumption, half a day on one core.
AGENT_COMPARE_MAX_SECONDS = 12 * 3600


def check_agent_compare(
    scenario: Scenario, runs: int, simulations: int, scale: float | None, regions: str | None,
    flag: str = "--runs",
) -> float:  # fmt: skip
    """Refuse an agent comparison (`simulations` agent runs in all, `runs` per form and
    policy) that cannot fit: one world and one run's results are in memory at a time, so
    memory is checked for one run; time is refused beyond AGENT_COMPARE_MAX_SECONDS.
    Returns the estimated seconds."""
    check_scale(scenario, scale)
    estimate = agent_estimate(scenario, scale, regions)
    estimate.check(1, flag)
    seconds = simulations * estimate.per_run_seconds
    if seconds > AGENT_COMPARE_MAX_SECONDS:
        per = max(simulations // max(runs, 1), 1)
        most = int(AGENT_COMPARE_MAX_SECONDS // max(per * estimate.per_run_seconds, 1e-9))
        advice = f"use {flag} {most:,} or less" if most else "use a smaller --scale"
        raise BudgetError(
            f"{flag} {runs:,}: {simulations:,} agent runs ({estimate.basis}) take about "
            f"{duration(seconds)} on one core, more than the {duration(AGENT_COMPARE_MAX_SECONDS)}"
            f" an agent comparison may take: {advice}"
        )
    return seconds
