"""The scenario's optional `[agents]` section: agent-engine parameters and policy levers.

The agent engine reads the whole scenario (groups, network, events, deployments, policies and
the aggregate parameters, which keep their meaning: rates per member per week, turned into
daily hazards). What only the agent engine needs lives here, every value with its unit and
source, or marked as an assumption: nobody has measured most of them (DESIGN 3.2 asks for
them to be explicit assumptions, open to sensitivity analysis).

This module must not import cartelsim.scenario (scenario.py imports it), so it has its own
small copy of the strict base model and of the "number or table" parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from cartelsim.scenario import Strict, number_to_table

#: Policy levers: name -> (meaning, allowed maximum). All are >= 0.
LEVERS = {
    "intelligence_sharing": "share of raids run with shared (e.g. US) intelligence, 0-1",
    "kingpin_targeting": "multiplier on the chance that a successful raid captures a leader",
    "recruitment_prevention": "fraction of would-be recruits diverted by prevention, 0-1",
    "anti_corruption_vetting": "vetting intensity, 0-1: fewer bribes accepted, payrolls purged",
}
LEVER_MAXIMUM = {
    "intelligence_sharing": 1.0,
    "recruitment_prevention": 1.0,
    "anti_corruption_vetting": 1.0,
}


class _AgentParam(Strict):
    value: float = Field(ge=0, allow_inf_nan=False)
    unit: str = ""
    source: str = ""
    assumption: bool = False


AgentParam = Annotated[_AgentParam, BeforeValidator(number_to_table)]

_LP2018 = (
    "Lindo & Padilla-Romo 2018, J. Health Economics 58:253-268: homicides +80 % in the capture "
    "municipality for >= 12 months, +30 % for 6 months in other municipalities where the group "
    "operates; applied once per region, the region taken as the capture municipality "
    "(leadership.py)"
)


def _a(value: float, unit: str, why: str = "") -> _AgentParam:
    """A default nobody measured: an explicit assumption."""
    return _AgentParam(value=value, unit=unit, source=why or "assumption", assumption=True)


_FITTED = (
    "fitted: cartelsim grid search (python -m cartelsim.analysis.agent_fit: scale 0.25, 3 runs, "
    "the 6 "
    "best re-run at 1:1) to the government killings database 2007-2010 (2026-11-24); the rule "
    "itself is an assumption"
)


def _fitted(value: float, unit: str) -> _AgentParam:
    """A value fitted to observed killings (analysis/agent_fit.py) in an assumed rule."""
    return _AgentParam(value=value, unit=unit, source=_FITTED, assumption=True)


class AgentParameters(Strict):
    """Agent-only parameters. Per day unless the unit says otherwise."""

    # movement
    movement_rate: AgentParam = _a(0.002, "moves per member per day (one every ~18 months)")
    contest_attraction: AgentParam = _a(
        1.0, "extra attraction of a neighbour region per unit share of rival members there"
    )
    crossing_value: AgentParam = _a(
        1.0, "extra value of a region per US border crossing (revenue, attraction)"
    )
    # recruitment
    revenue_elasticity: AgentParam = _a(
        0.5, "elasticity of recruitment to the group's revenue per member"
    )
    closure_recruitment_effect: AgentParam = _a(
        0.3, "relative rise in recruitment per unit share of businesses closed"
    )
    # clashes
    clash_locality: AgentParam | None = Field(
        default=None,
        description="multiplier on local clashes between groups; default: the aggregate's "
        "pair interactions over today's local ones, so the national intensity of clashes is "
        "the aggregate engine's (1 for one region)",
    )
    forces_killed_per_state_kill: AgentParam = _AgentParam(
        value=0.090,
        unit="army and federal police killed per member killed by the state (in the clash)",
        source="derived: 779 federal forces killed Dec 2006-Nov 2012 = >395 soldiers and "
        "marines (24-horas.mx 2012-11-29) + 384 federal police (SSP per Grillo), "
        "../shared/data/mexico/compiled_state_forces_arrests_prisons.csv, docs/EVIDENCE.md 5. "
        "1:1 mexico-2006-2012 agent runs with both authorities-killed ratios at 0 (seeds 0-2, "
        "2026-12-01, scripts/authorities_killed.py) had 7,427 members killed by the state and "
        "108 federal forces killed in retaliation for leaked raids to Nov 2012 (means): "
        "(779 - 108) / 7,427 = 0.090. The rule (deaths in proportion to the state's kills) is "
        "an assumption",
        assumption=True,
    )
    local_police_killed_per_state_kill: AgentParam = _AgentParam(
        value=0.486,
        unit="state and municipal police killed per member killed by the state (in the region)",
        source="derived: 2,986 municipal and state police killed Dec 2006-2011 (CENAPI/PGR, "
        "docs/EVIDENCE.md 5). 1:1 mexico-2006-2012 agent runs with both authorities-killed "
        "ratios at 0 (seeds 0-2, 2026-12-01, scripts/authorities_killed.py) had 5,795 members "
        "killed by the state and 172 local police killed in retaliation for leaked raids to "
        "the end of 2011 (means): (2,986 - 172) / 5,795 = 0.486. The rule (the groups' "
        "aggressions against authorities in proportion to the state's kills where they "
        "happen, as the aggregate observation model's 740 per 1,652 of Jan-Sep 2011) is an "
        "assumption",
        assumption=True,
    )
    # raids
    raid_rate: AgentParam = _a(0.2, "raids per 10,000 deployed per group present per day")
    raid_success: AgentParam = _a(0.5, "chance an unleaked raid finds its target, no sharing")
    sharing_success_gain: AgentParam = _a(0.3, "added raid success at full intelligence sharing")
    informed_per_raid: AgentParam = _a(5.0, "local officials and police told of a raid")
    sharing_extra_informed: AgentParam = _a(
        1.0, "relative rise in people told of a raid at full sharing"
    )
    leak_given_payroll: AgentParam = _fitted(
        0.3, "chance that an informed person on the target's payroll leaks the raid"
    )
    retaliation_probability: AgentParam = _a(0.05, "chance a leaked raid draws retaliation")
    retaliation_deaths: AgentParam = _a(1.0, "state forces killed per retaliation (mean)")
    # leadership
    lieutenant_span: AgentParam = _a(50.0, "soldiers per lieutenant")
    leader_capture: AgentParam = _fitted(
        0.0001, "chance that a successful raid in the leader's region captures the leader"
    )
    split_probability: AgentParam = _a(
        0.3,
        "chance that a leader's capture splits the group",
        "assumption; calibration target: 5 visible groups in 2007 to ~80 in 2011 (Atuesta & "
        "Perez-Davila 2018, Trends in Organized Crime 21)",
    )
    lieutenant_split_rate: AgentParam = _AgentParam(
        value=0.004,
        unit="splits per lieutenant per year (a faction breaks away in its region)",
        source="derived from the fragmentation target, 5 visible groups in 2007 to ~80 in 2011 "
        "(Atuesta & Perez-Davila 2018, Trends in Organized Crime 21:235, p. 236; "
        "docs/EVIDENCE.md 2): ~75 splits over 2007-2011 against ~950,000 member-years of "
        "2007-2011 in the 1:1 mexico-2006-2012 agent run (seed 0, 2026-12-01) = 0.8 per "
        "10,000 member-years = 0.004 per lieutenant (1 per 50 members) per year; 1:1 runs at "
        "0.0035 and 0.005 gave 72 and 109 active groups at the end of 2011. That splits grow "
        "with membership is an assumption",
        assumption=True,
    )
    split_fraction: AgentParam = _a(
        0.3, "share of the group's members in the capture region and neighbours who leave"
    )
    split_rivalry_weight: AgentParam = _a(6.0, "rivalry weight between a splinter and its parent")
    capture_violence_boost: AgentParam = _AgentParam(
        value=0.8, unit="relative rise in clashes in the capture region", source=_LP2018
    )
    capture_boost_days: AgentParam = _AgentParam(value=365, unit="days", source=_LP2018)
    neighbour_violence_boost: AgentParam = _AgentParam(
        value=0.3, unit="relative rise in clashes in neighbouring regions", source=_LP2018
    )
    neighbour_boost_days: AgentParam = _AgentParam(value=182, unit="days", source=_LP2018)
    max_new_groups: AgentParam = _a(
        150.0,
        "room for splinter groups formed during a run",
        "assumption, of the order of the 150 groups of PC2023's 2020 network (more than the "
        "~80 of 2011 the splits aim at)",
    )
    # alliances decided by groups (alliances.py); 0 for truce_rate turns the rule off
    truce_rate: AgentParam = _a(
        0.01, "daily chance that a pair meeting the truce conditions agrees a truce"
    )
    truce_loss_threshold: AgentParam = _a(
        0.002,
        "members of a pair killed by each other per member of the pair per year (recent "
        "average) above which the pair considers a truce",
        "assumption, set where the rule can fire: in the 1:1 mexico-2006-2012 run the pairs "
        "that fight hardest lose 0.2-0.3 % of their members a year to each other (scale 0.25, "
        "seed 0, 2026-12-01; the earlier 2 % was never reached). The conditions, heavy "
        "mutual losses and a stronger common enemy, are those of the documented pacts: the "
        "Sinaloa-Gulf talks of June 2007 and the anti-Zeta bloc of 2010 (docs/EVIDENCE.md 7)",
    )
    truce_memory_days: AgentParam = _a(
        90.0, "days over which groups remember their losses (exponential average)"
    )
    truce_break_rate: AgentParam = _a(1 / 365, "daily chance that a decided truce breaks")
    merger_rate: AgentParam = _a(
        0.001, "daily chance that a pair in a decided truce merges, if unequal enough"
    )
    merger_size_ratio: AgentParam = _a(
        0.25, "largest size of the smaller group, relative to the larger, for a merger"
    )
    # jail
    sentence_days: AgentParam = _a(1825.0, "days in jail before release (0: never released)")
    # corruption
    officials_per_100k: AgentParam = _a(30.0, "officials (municipal, state, federal) per 100,000")
    local_police_per_100k: AgentParam = _a(300.0, "state and municipal police per 100,000")
    initial_payroll_share: AgentParam = _a(0.05, "share of officials and police on a payroll")
    bribe_offer_rate: AgentParam = _a(
        0.5, "bribe offers per 1,000 members per unit region value per day"
    )
    bribe_acceptance: AgentParam = _fitted(0.3, "chance an offer is accepted without vetting")
    payroll_exit_rate: AgentParam = _a(1 / 730, "per person on a payroll per day")
    vetting_removal_rate: AgentParam = _a(
        1 / 180, "purges per payroll person per day, full vetting"
    )
    defection_rate: AgentParam = _a(
        0.0005,
        "per soldier or federal police officer on a payroll per day",
        "assumption; 45,748 military deserters 2006-2012 (24-horas.mx 2012-11-29) bound it",
    )
    # economy
    business_closure: AgentParam = _a(
        0.0025, "share of businesses closing per killing per 100,000 people, per day"
    )
    business_recovery: AgentParam = _a(1 / 365, "share of the closed businesses reopening per day")


class Levers(Strict):
    """Policy levers at the start; `lever_changes` change them from a date."""

    intelligence_sharing: AgentParam = _a(0.5, "share of raids with shared intelligence")
    kingpin_targeting: AgentParam = _AgentParam(
        value=1.0, unit="multiplier", source="reference level: 1"
    )
    recruitment_prevention: AgentParam = _AgentParam(
        value=0.0, unit="fraction", source="default: no prevention programme"
    )
    anti_corruption_vetting: AgentParam = _AgentParam(
        value=0.0, unit="0-1", source="default: no vetting"
    )

    @model_validator(mode="after")
    def _in_range(self) -> Levers:
        for name, top in LEVER_MAXIMUM.items():
            _check_lever(name, getattr(self, name).value, top)
        return self


def _check_lever(name: str, value: float, top: float) -> None:
    if value > top:
        raise ValueError(f"{name} must be <= {top:g} (got {value:g})")


class LeverChange(Strict):
    """From `date` on, lever `lever` takes `value`."""

    date: dt.date
    lever: Literal[tuple(LEVERS)]  # type: ignore[valid-type]
    value: float = Field(ge=0, allow_inf_nan=False)
    note: str = ""

    @model_validator(mode="after")
    def _in_range(self) -> LeverChange:
        if self.lever in LEVER_MAXIMUM:
            _check_lever(self.lever, self.value, LEVER_MAXIMUM[self.lever])
        return self


class RegionalDeployment(Strict):
    """From `date` on, this many troops and federal police are assigned to `region`; the
    rest of the national forces are spread over the regions in proportion to population."""

    date: dt.date
    region: int
    troops: float = Field(ge=0, allow_inf_nan=False)
    federal_police: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    source: str = ""


class Territory(Strict):
    """Where a group's members are at the start: `weight` relative to its other regions."""

    group: str
    region: int
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    source: str = ""


class AgentSettings(Strict):
    """The `[agents]` section. "builtin" territories and regional deployments are the package
    facts for Mexico's states (data/facts/mexico_state_*.csv), used when the regions are the states;
    give a list (possibly empty) to replace them."""

    regions: str = "states"
    scale: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    movement: bool = True
    parameters: AgentParameters = AgentParameters()
    levers: Levers = Levers()
    lever_changes: list[LeverChange] = []
    territories: Literal["builtin"] | list[Territory] = "builtin"
    regional_deployments: Literal["builtin"] | list[RegionalDeployment] = "builtin"
