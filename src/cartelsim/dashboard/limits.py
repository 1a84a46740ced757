"""What one page may ask of the server: requests beyond these are refused with a message.

The dashboard is shared: one session asking for a century of weekly output for 500 runs of
150 groups, or for many 1:1 agent runs, would hold the server's memory and cores while
everybody else waits. Longer and larger jobs belong to the command line (`cartelsim run
--runs N --workers W`, which checkpoints and resumes). The limits are sized from measurements
of this project's 2-core machine (README, "Performance" and "Agent engine").
"""

from __future__ import annotations

from cartelsim.scenario import Scenario

#: Runs per request (each run is one line in every band).
MAX_RUNS = 500
#: Horizon of a scenario run from the page: 30 years of weeks.
MAX_WEEKS = 1560
#: Aggregate engine: runs x weeks x groups, the size of the members table. 40 million is
#: 500 runs of pc2023 (150 groups, 520 weeks), about 0.3 GB of table and a few seconds.
MAX_GROUP_WEEKS = 40_000_000
#: Agent engine: runs x scale x simulated years; 1:1 takes about 1 s per simulated year here,
#: so 30 keeps a request under a minute or so (five 1:1 runs of mexico-2006-2012).
MAX_AGENT_YEARS = 30.0
#: Groups in a scenario whose network comes from the PC2023 dataset (the authors' 2020 file).
PC2023_GROUPS = 150


def request_error(scenario: Scenario, runs: int, engine: str, scale: float | None) -> str:
    """Why this request is too large for the page, or "" when it is not."""
    weeks = scenario.simulation.weeks
    if not 1 <= runs <= MAX_RUNS:
        return f"runs: must be between 1 and {MAX_RUNS} (got {runs})"
    if weeks > MAX_WEEKS:
        return (
            f"horizon: {weeks} weeks is more than the page runs ({MAX_WEEKS}, 30 years); "
            "use `cartelsim run` for longer horizons"
        )
    if engine == "agents":
        load = runs * (scale or 1.0) * weeks / 52
        if load > MAX_AGENT_YEARS:
            return (
                f"agent runs x scale x years = {load:.0f}, more than the page runs "
                f"({MAX_AGENT_YEARS:.0f}); lower the runs or the scale, or use `cartelsim run`"
            )
        return ""
    groups = len(scenario.groups) or PC2023_GROUPS
    if runs * weeks * groups > MAX_GROUP_WEEKS:
        return (
            f"runs x weeks x groups = {runs * weeks * groups:,}, more than the page runs "
            f"({MAX_GROUP_WEEKS:,}); lower the runs, or use `cartelsim run --workers`"
        )
    return ""
