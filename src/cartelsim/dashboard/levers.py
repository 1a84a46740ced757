"""Policy levers of the dashboard, and the scenario they make.

Each lever becomes ordinary scenario content (a `Policy` or a dated event, see scenario.py),
added to a copy of the chosen scenario in memory, so a dashboard run is exactly what a TOML
file with those lines would give, and the downloaded results carry the changed scenario.

| lever | scenario content |
|---|---|
| recruitment change | policy: recruitment_rate x (1 + change) |
| incapacitation change | policies: incapacitation and state_arrest_rate x (1 + change) |
| troop change | policy: state_forces x (1 + change) (national) |
| troops in a state | agent engine only: a regional deployment of that many troops to the state |
| intelligence sharing | aggregate engine: policy state_arrest_rate x 1.5 (no published effect |
|  | size: assumption); agent engine: its lever intelligence_sharing set to 1 (all raids) |
| merger / truce | event merge / truce between two groups |
| kingpin targeting | event leader_removed for each chosen group (+36.5 % violence for 26 weeks, |
|  | Calderon et al. 2015, the scenario schema's default) |
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cartelsim.datasets import fact_rows
from cartelsim.scenario import Scenario, ScenarioError, validate

#: Arrests per deployed force with shared intelligence, relative to without. Nobody has
#: measured it: an assumption, the same as the `intel-sharing` policy of policies.toml.
INTEL_SHARING_ARREST_MULTIPLIER = 1.5


#: The range of the three change levers (fractions): one scale, so the page's three sliders
#: line up with their zeros at one place (-95 %: a lever at -100 % would stop recruitment or
#: arrests altogether, outside what the model was fitted to).
CHANGE_RANGE = (-0.95, 3.0)


class Levers(BaseModel):
    """The levers' positions. Changes are fractions: -0.5 halves, +1.0 doubles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recruitment_change: float = Field(default=0.0, ge=CHANGE_RANGE[0], le=CHANGE_RANGE[1])
    recruitment_date: dt.date | None = None
    incapacitation_change: float = Field(default=0.0, ge=CHANGE_RANGE[0], le=CHANGE_RANGE[1])
    incapacitation_date: dt.date | None = None
    troop_change: float = Field(default=0.0, ge=CHANGE_RANGE[0], le=CHANGE_RANGE[1])
    troop_date: dt.date | None = None
    region: int | None = Field(default=None, ge=1, le=32)  # INEGI state code
    region_troops: float = Field(default=0.0, ge=0, le=100_000)
    region_date: dt.date | None = None
    intel_sharing: bool = False
    intel_date: dt.date | None = None
    pact: Literal["none", "merge", "truce"] = "none"
    pact_groups: tuple[str, str] | None = None
    pact_date: dt.date | None = None
    kingpin_groups: tuple[str, ...] = ()
    kingpin_date: dt.date | None = None

    @model_validator(mode="after")
    def _pact_has_groups(self) -> Levers:
        if self.pact != "none" and self.pact_groups is None:
            raise ValueError(f"pact_groups: a {self.pact} needs two groups")
        return self

    def is_neutral(self) -> bool:
        """Whether the levers leave the scenario as it is."""
        return self == Levers()


def make_levers(**positions) -> Levers:
    """Levers from the page's values, with a one-line error naming the lever."""
    try:
        return Levers(**positions)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "levers"
        reason = error["msg"].removeprefix("Value error, ")
        raise ScenarioError(f"{where}: {reason} (got {error.get('input')!r})") from None


def apply_levers(
    scenario: Scenario, levers: Levers, groups: list[str], engine: str = "aggregate"
) -> Scenario:
    """A copy of `scenario` with the levers' policies and events added.

    `groups` are the short names the groups will have in the run (for a dataset scenario they
    are only known after its plan is made). A lever's date defaults to the scenario's start.
    `engine` is the engine that will run it: some levers act through the agent engine's own
    settings (the scenario's `[agents]` section).
    """
    if levers.is_neutral():
        return scenario
    start = scenario.simulation.start
    end = start + dt.timedelta(weeks=scenario.simulation.weeks)
    policies, events = [], []

    def when(field: str) -> dt.date:
        day = getattr(levers, field) or start
        if not start <= day < end:
            raise ScenarioError(f"{field}: {day} is outside the scenario ({start} to {end})")
        return day

    def scale(parameter: str, change: float, field: str, note: str) -> None:
        policies.append(
            {"parameter": parameter, "date": when(field), "multiply": 1.0 + change, "note": note}
        )

    if levers.recruitment_change:
        scale("recruitment_rate", levers.recruitment_change, "recruitment_date", "dashboard")
    if levers.incapacitation_change:
        for parameter in ("incapacitation", "state_arrest_rate"):
            scale(parameter, levers.incapacitation_change, "incapacitation_date", "dashboard")
    if levers.troop_change:
        scale("state_forces", levers.troop_change, "troop_date", "dashboard")
    agents = scenario.agents.model_dump(mode="json") if scenario.agents else {}
    if levers.region is not None and engine == "agents":
        agents["regional_deployments"] = _regional_deployments(agents) + [
            {
                "date": when("region_date").isoformat(),
                "region": levers.region,
                "troops": levers.region_troops,
                "source": "dashboard lever",
            }
        ]
    if levers.intel_sharing and engine == "agents":
        agents.setdefault("lever_changes", []).append(
            {
                "date": when("intel_date").isoformat(),
                "lever": "intelligence_sharing",
                "value": 1.0,
                "note": "dashboard: all raids with shared intelligence",
            }
        )
    elif levers.intel_sharing:
        scale(
            "state_arrest_rate",
            INTEL_SHARING_ARREST_MULTIPLIER - 1.0,
            "intel_date",
            "dashboard: intelligence sharing (effect size an assumption)",
        )
    if levers.pact != "none":
        pair = _known_pair(levers.pact_groups, groups)
        events.append({"type": levers.pact, "groups": pair, "date": when("pact_date")})
    for group in levers.kingpin_groups:
        if group not in groups:
            raise ScenarioError(f"kingpin_groups: unknown group {group!r}")
        events.append({"type": "leader_removed", "group": group, "date": when("kingpin_date")})

    document = scenario.model_dump(mode="json", exclude={"extends"})
    document["policies"] = document["policies"] + policies
    if agents:
        document["agents"] = agents
    # Events must be in date order; a stable sort keeps same-day events in their given order.
    merged = document["events"] + [{**e, "date": e["date"].isoformat()} for e in events]
    document["events"] = sorted(merged, key=lambda e: e["date"])
    return validate(document, f"{scenario.name} + dashboard levers")


def _regional_deployments(agents: dict) -> list[dict]:
    """The scenario's regional deployments, the package's facts when it says "builtin"."""
    items = agents.get("regional_deployments", "builtin")
    if items != "builtin":
        return list(items)
    if agents.get("regions", "states") != "states":
        raise ScenarioError("region: troops by state need the states as the agent regions")
    fields = ("date", "region", "troops", "federal_police", "source")
    return [{k: row[k] for k in fields} for row in fact_rows("mexico_state_deployments.csv")]


def _known_pair(pair: tuple[str, str] | None, groups: list[str]) -> list[str]:
    for group in pair or ():
        if group not in groups:
            raise ScenarioError(f"pact_groups: unknown group {group!r}")
    if pair is None or pair[0] == pair[1]:
        raise ScenarioError("pact_groups: choose two different groups")
    return list(pair)
