"""Scenario files: the TOML schema, `extends`, and one-line validation errors.

This is the only module that parses and validates user input. Everything downstream takes a
validated :class:`Scenario` and may trust it. A scenario describes *what* to simulate (groups,
their network, state forces, dated events, policies, how the model is observed); `plan.py`
turns it into the arrays the engine steps through.

Errors are one line each and name the file, the field path and the reason, for example
``halve.toml: groups[2].initial_members: must be >= 0 (got -0.1)``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import math
import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cartelsim import engines, outputs
from cartelsim.datasets import PACKAGE_DATA, fact_rows

#: Scalar model parameters, in the order the engines store them (named by the indices below).
PARAMETER_NAMES = (
    "recruitment_rate",
    "incapacitation",
    "conflict_lethality",
    "saturation",
    "state_arrest_rate",
    "state_kill_rate",
    "deployment_disruption",
    "leader_removal_effect",
    "fragment_lethality_factor",
    "fragment_saturation_factor",
)
#: Each parameter's position in PARAMETER_NAMES, Plan.params and Trajectories.params, by
#: name: code reads params[RECRUITMENT_RATE], never params[0] (plain ints, so Numba kernels
#: take them as compile-time constants).
(
    RECRUITMENT_RATE,
    INCAPACITATION,
    CONFLICT_LETHALITY,
    SATURATION,
    STATE_ARREST_RATE,
    STATE_KILL_RATE,
    DEPLOYMENT_DISRUPTION,
    LEADER_REMOVAL_EFFECT,
    FRAGMENT_LETHALITY_FACTOR,
    FRAGMENT_SATURATION_FACTOR,
) = range(len(PARAMETER_NAMES))
#: Factors of conflict lethality and saturation from a `fragment` event's week on (plan.py
#: puts the weeks they are in force into their multiplier columns, flows.py applies them).
FRAGMENT_FACTORS = ("fragment_lethality_factor", "fragment_saturation_factor")
#: What a policy may change: a parameter, or the size of the deployed state forces. Not the
#: fragment factors: their multiplier columns say when they are in force, not by how much.
POLICY_TARGETS = (*(p for p in PARAMETER_NAMES if p not in FRAGMENT_FACTORS), "state_forces")
#: Physical bounds, inclusive, of every quantity a scenario, a calibration prior, a posterior
#: table or `--fix` may give: far outside what any group, state or statistic has had, so only
#: nonsense (a typo, a unit slip, a value meant to break the program) is refused. Rates are
#: per week; shares of killings and of prison admissions cannot be 0 (they divide).
BOUNDS = {
    "recruitment_rate": (0.0, 10.0),  # recruits per member per week
    "incapacitation": (0.0, 1e9),  # members per week (fixed_count); per member: PER_MEMBER_MAX
    "conflict_lethality": (0.0, 1.0),
    "saturation": (0.0, 1.0),
    "state_arrest_rate": (0.0, 100.0),  # per member per week per 10,000 deployed
    "state_kill_rate": (0.0, 100.0),
    "deployment_disruption": (0.0, 100.0),  # relative rise in lethality per 10,000 newly deployed
    "leader_removal_effect": (0.0, 100.0),  # multiplies each leader removal's violence_boost
    # after a fragment event; > 0: flows.py reads 0 in force as "before the event" (factor 1)
    "fragment_lethality_factor": (0.01, 100.0),
    "fragment_saturation_factor": (0.01, 100.0),
    "disruption_weeks": (1.0, 5200.0),
    "initial_members_total": (0.0, 1e9),
    "cartel_share": (1e-4, 1.0),
    "incarceration_share": (1e-4, 1.0),
    "other_homicides_per_year": (0.0, 1e8),
    "other_homicides_yearly_factor": (0.5, 2.0),  # other homicides this year / last year
    "forces_killed_per_state_kill": (0.0, 100.0),
    "missing_share": (0.0, 0.99),
}
#: The observation section's parameters: what observe.observation_values gives per run.
OBSERVATION_NAMES = (
    "cartel_share",
    "other_homicides_per_year",
    "other_homicides_yearly_factor",
    "forces_killed_per_state_kill",
    "missing_share",
    "incarceration_share",
)
#: Upper bound of `incapacitation` as a per-member weekly rate.
PER_MEMBER_MAX = 10.0
#: Members of one group, people deployed, and any count a scenario gives.
MAX_COUNT = 1e9
MAX_FORCES = 1e8
MAX_WEIGHT = 1e6
MAX_FACTOR = 1e6
MAX_RELATIVE_ERROR = 100.0
#: Dates a scenario may name, and the latest start (the horizon is at most 5,200 weeks).
FIRST_DATE, LAST_DATE, LAST_START = dt.date(1900, 1, 1), dt.date(2300, 12, 31), dt.date(2200, 1, 1)


def bounds_of(name: str, form: str | None = None) -> tuple[float, float]:
    """The physical bounds of a parameter (BOUNDS), for `incapacitation` by its form."""
    low, high = BOUNDS[name]
    if name == "incapacitation" and form == "per_member":
        high = PER_MEMBER_MAX
    return low, high


def range_problem(name: str, value: float, form: str | None = None) -> str | None:
    """Why `value` cannot be the parameter `name`, or None."""
    low, high = bounds_of(name, form)
    if not math.isfinite(value) or not low <= value <= high:
        return f"must be between {low:g} and {high:g} (got {_short(repr(value))})"
    return None


def _in_era(day: dt.date) -> dt.date:
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ValueError(f"must be between {FIRST_DATE} and {LAST_DATE}")
    return day


#: A date inside the era cartelsim simulates (year 1 or 9999 is a typo, and overflows).
Date = Annotated[dt.date, AfterValidator(_in_era)]

#: Model variables an observed series can be compared with (see observe.py).
OBSERVABLE_VARIABLES = (
    "killings",
    "homicides",
    "incapacitated",
    "members",
    "conflict_deaths",
    "member_deaths",
    "member_deaths_by_state",
    "state_forces_killed",
    "group_killings",
    "other_homicides",
    "missing_persons",
    "homicides_and_missing",
)


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line per problem."""


class Strict(BaseModel):
    """The base of every scenario table, the engines' own included: unknown keys are errors
    (a typo must not be ignored) and a loaded scenario cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def number_to_table(value: Any) -> Any:
    """Let `rate = 0.1` stand for `rate = {value = 0.1}` (a value without a source)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"value": value}
    return value


class _Param(Strict):
    """A non-negative number with its unit and where it comes from.

    `source` names the publication, table and year; `assumption = true` marks a value
    nobody measured, so reports can say so.
    """

    value: float = Field(ge=0, allow_inf_nan=False)
    unit: str = ""
    source: str = ""
    assumption: bool = False


Param = Annotated[_Param, BeforeValidator(number_to_table)]


#: Default of an optional mechanism's rate: the mechanism is switched off.
_OFF = _Param(value=0.0, source="default: mechanism switched off")


class Simulation(Strict):
    """Time axis and integration. A model week is 1/52 of a year, as in PC2023."""

    start: Date
    weeks: int = Field(gt=0, le=5200)
    mode: Literal["deterministic", "stochastic"] = "deterministic"
    integrator: Literal["rk4", "euler", "dopri5"] = "dopri5"
    start_from: str | None = None  # run this scenario first and start from its final state

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, day: dt.date) -> dt.date:
        if day > LAST_START:
            raise ValueError(f"must be between {FIRST_DATE} and {LAST_START}")
        return day

    def end(self) -> dt.date:
        """The date the simulation ends (as plan.Plan.dates()[-1]: weeks of 1/52 year)."""
        return self.week_start(self.weeks)

    def week_start(self, week: int) -> dt.date:
        """The date week `week` starts (plan.Plan.dates()[week])."""
        start = self.start
        first = dt.date(start.year, 1, 1)
        length = (dt.date(start.year + 1, 1, 1) - first).days
        year = start.year + (start - first).days / length + week / 52.0
        whole = math.floor(year + 1e-9)
        length = (dt.date(whole + 1, 1, 1) - dt.date(whole, 1, 1)).days
        return dt.date(whole, 1, 1) + dt.timedelta(days=round((year - whole) * length))


class Parameters(Strict):
    """Rates of the aggregate model; all per week (see docs in aggregate.py)."""

    recruitment_rate: Param  # rho: recruits per member per week
    incapacitation_form: Literal["fixed_count", "per_member"] = "fixed_count"
    incapacitation: Param  # eta (members per week) or mu (per member per week)
    conflict_lethality: Param  # theta: deaths per member pair per unit of K per week
    saturation: Param  # omega: exits per member squared per week
    state_arrest_rate: Param = _OFF  # per member per week per 10,000 deployed
    state_kill_rate: Param = _OFF  # per member per week per 10,000 deployed
    # Militarization as disruption (DESIGN 3.2, issue "One Mexico"): for `disruption_weeks`
    # after forces grow by dF (per 10,000), conflict lethality is multiplied by
    # 1 + deployment_disruption * dF. 0 is the suppression-only form.
    deployment_disruption: Param = _OFF
    disruption_weeks: Param = Field(default_factory=lambda: _Param(
        value=52.0, unit="weeks",
        source="first-year effects of joint operations: Espinosa & Rubin 2015 (The American "
        "Statistician 69(1)); Merino 2011 (Nexos)", assumption=True))  # fmt: skip
    # Leader removal: the removed group's conflict rate rises by leader_removal_effect times
    # the event's violence_boost for its duration_weeks. 0 is the no-effect form.
    leader_removal_effect: Param = Field(default_factory=lambda: _Param(
        value=1.0, unit="multiplier of each event's violence_boost",
        source="default: each leader_removed event's own violence_boost"))  # fmt: skip
    # Resolution (issue "One Mexico"): from a `fragment` event's week on, conflict lethality
    # and saturation are multiplied by these factors (1: the same rates in both worlds; the
    # mexico calibration frees them). Without a fragment event they do nothing.
    fragment_lethality_factor: Param = Field(default_factory=lambda: _Param(
        value=1.0, unit="multiplier of conflict_lethality after a fragment event",
        source="default: the same rates before and after a fragment event"))  # fmt: skip
    fragment_saturation_factor: Param = Field(default_factory=lambda: _Param(
        value=1.0, unit="multiplier of saturation after a fragment event",
        source="default: the same rates before and after a fragment event"))  # fmt: skip
    # C0: for a network read from a dataset, its total; for the scenario's own groups, their
    # members scaled to it (the split between groups kept), as a calibration's draw does.
    initial_members_total: Param | None = None

    @model_validator(mode="after")
    def _physical(self) -> Parameters:
        for name in (*PARAMETER_NAMES, "initial_members_total", "disruption_weeks"):
            param = getattr(self, name)
            if param is None:
                continue
            problem = range_problem(name, param.value, self.incapacitation_form)
            if problem is not None:
                raise _FieldError(f"parameters.{name}.value", problem)
        return self


class Group(Strict):
    name: str = Field(min_length=1)
    short: str = Field(min_length=1)
    initial_members: float = Field(default=0.0, ge=0, le=MAX_COUNT, allow_inf_nan=False)
    recruitment_multiplier: float = Field(default=1.0, ge=0, le=1e3, allow_inf_nan=False)
    source: str = ""
    assumption: bool = False


class Tie(Strict):
    """A rivalry or alliance between two groups (by short name), weight as in PC2023."""

    groups: tuple[str, str]
    weight: float = Field(gt=0, le=MAX_WEIGHT, allow_inf_nan=False)
    source: str = ""


class Network(Strict):
    dataset: Literal["pc2023"] | None = None  # groups and ties from a dataset
    rivalries: list[Tie] = []
    alliances: list[Tie] = []


class Deployment(Strict):
    """State forces committed to operations against organized crime from `date` on."""

    date: Date
    troops: float = Field(ge=0, le=MAX_FORCES, allow_inf_nan=False)
    federal_police: float = Field(default=0.0, ge=0, le=MAX_FORCES, allow_inf_nan=False)
    source: str = ""


class _Event(Strict):
    date: Date
    source: str = ""
    note: str = ""


class SplitEvent(_Event):
    """`fraction` of `group`'s members leave to form `new_group`, which becomes its rival."""

    type: Literal["split"]
    group: str
    new_group: str
    fraction: float = Field(gt=0, lt=1, allow_inf_nan=False)
    rivalry_weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT, allow_inf_nan=False)


class MergeEvent(_Event):
    """The second group's members join the first; their rivalry ends."""

    type: Literal["merge"]
    groups: tuple[str, str]


class TruceEvent(_Event):
    """The two groups stop fighting each other until `end` (or for good)."""

    type: Literal["truce"]
    groups: tuple[str, str]
    end: Date | None = None


class NewGroupEvent(_Event):
    type: Literal["new_group"]
    group: str
    members: float = Field(gt=0, le=MAX_COUNT, allow_inf_nan=False)


class LeaderRemovedEvent(_Event):
    """A leader captured or killed: the group's violence rises for a while.

    Defaults: +36.5 % drug-related violence for 6 months (Calderon, Robles, Diaz-Cayeros &
    Magaloni 2015, J. Conflict Resolution 59(8), table 2).
    """

    type: Literal["leader_removed"]
    group: str
    violence_boost: float = Field(default=0.365, ge=0, le=100, allow_inf_nan=False)
    duration_weeks: int = Field(default=26, gt=0, le=5200)


class FragmentEvent(_Event):
    """The families become the groups of a dataset's network (PC2023's 150 groups of 2020):
    each dataset group belongs to a family or is local (data/facts/<families>: the rule per
    row); each family's members are seated on its groups by PC2023's Zipf rule, local
    groups take their Zipf share from every family alike, and from then on the dataset's
    rivalries and alliances are the network. A family's largest group keeps the family's
    name and short name, so events after this one may still name the family
    (plan.fragmentation)."""

    type: Literal["fragment"]
    dataset: Literal["pc2023"]
    families: str = Field(default="pc2023_group_families.csv", pattern=r"^[A-Za-z0-9_.-]+$")


class TieEvent(_Event):
    """Set the rivalry or alliance weight between two groups (0 removes the tie)."""

    type: Literal["rivalry", "alliance"]
    groups: tuple[str, str]
    weight: float = Field(ge=0, le=MAX_WEIGHT, allow_inf_nan=False)


Event = Annotated[
    SplitEvent
    | MergeEvent
    | TruceEvent
    | NewGroupEvent
    | LeaderRemovedEvent
    | TieEvent
    | FragmentEvent,
    Field(discriminator="type"),
]


class Policy(Strict):
    """From `date` on, multiply a parameter (or the deployed forces) or set it to a value."""

    parameter: Literal[POLICY_TARGETS]  # type: ignore[valid-type]
    date: Date
    multiply: float | None = Field(default=None, ge=0, le=MAX_FACTOR, allow_inf_nan=False)
    set: float | None = Field(default=None, ge=0, le=MAX_COUNT, allow_inf_nan=False)
    note: str = ""

    @model_validator(mode="after")
    def _one_change(self) -> Policy:
        if (self.multiply is None) == (self.set is None):
            raise ValueError("give exactly one of 'multiply' or 'set'")
        if self.set is not None:
            high = MAX_FORCES if self.parameter == "state_forces" else BOUNDS[self.parameter][1]
            if self.set > high:
                raise ValueError(
                    f"set: must be <= {high:g} for {self.parameter} (got {self.set:g})"
                )
        return self


class Series(Strict):
    """An observed yearly series compared with a model variable (see observe.py)."""

    name: str
    variable: Literal[OBSERVABLE_VARIABLES]  # type: ignore[valid-type]
    data: str  # key of a built-in or dataset series, e.g. "mexico:oc_killings"
    relative_error: float = Field(default=0.1, gt=0, le=MAX_RELATIVE_ERROR, allow_inf_nan=False)
    fit: bool = True

    @field_validator("data")
    @classmethod
    def _known_series(cls, key: str) -> str:
        return _check_data_key(key, claims=False)


class Observation(Strict):
    """How model deaths become recorded numbers (observe.py): each death counted once, by
    who killed whom.

    cartel_share: of the people the groups kill (state forces apart), the fraction who are
    group members; civilians killed = members killed by rivals * (1 - s) / s. PC2023's 10 %
    of homicides plus missing persons is this share in their world. Other homicides are
    other_homicides_per_year at the start, times other_homicides_yearly_factor per year.
    """

    cartel_share: Param
    other_homicides_per_year: Param = _OFF
    other_homicides_yearly_factor: Param = Field(
        default_factory=lambda: _Param(value=1.0, source="default: constant")
    )
    forces_killed_per_state_kill: Param = _OFF
    missing_share: Param = _OFF  # of the groups' victims, the fraction never found
    incarceration_share: Param = Field(
        default_factory=lambda: _Param(value=1.0, source="default: every admission a member")
    )
    series: list[Series] = []

    @model_validator(mode="after")
    def _physical(self) -> Observation:
        for name in OBSERVATION_NAMES:
            problem = range_problem(name, getattr(self, name).value)
            if problem is not None:
                raise _FieldError(f"observation.{name}.value", problem)
        return self


#: Quantities a calibration may leave free, besides the rates in PARAMETER_NAMES: the start
#: size C0 and the observation model's parameters (observe.py): the cartel share s, other
#: homicides and their yearly factor, state forces killed per member the state kills, and
#: the share of prison admissions that are group members.
CALIBRATION_EXTRAS = ("initial_members_total", *OBSERVATION_NAMES)
CALIBRATABLE = (*PARAMETER_NAMES, *CALIBRATION_EXTRAS)
#: What a calibration target compares: the observe.py variables, plus incarcerations
#: (incapacitated / incarceration_share) and the members of named groups at a date.
TARGET_VARIABLES = (*OBSERVABLE_VARIABLES, "incarcerations")


class Prior(Strict):
    """A prior distribution: uniform or log-uniform on [low, high], or normal(mean, sd)
    optionally truncated to [low, high]."""

    distribution: Literal["uniform", "log_uniform", "normal"]
    low: float | None = Field(default=None, allow_inf_nan=False)
    high: float | None = Field(default=None, allow_inf_nan=False)
    mean: float | None = Field(default=None, allow_inf_nan=False)
    sd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    source: str = ""
    assumption: bool = False

    @model_validator(mode="after")
    def _complete(self) -> Prior:
        if self.distribution == "normal":
            if self.mean is None or self.sd is None:
                raise ValueError("a normal prior needs 'mean' and 'sd'")
        elif self.low is None or self.high is None:
            raise ValueError(f"a {self.distribution} prior needs 'low' and 'high'")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low must be < high (got {self.low} and {self.high})")
        if self.distribution == "log_uniform" and self.low is not None and self.low <= 0:
            raise ValueError(f"a log_uniform prior needs low > 0 (got {self.low})")
        return self


class Target(Strict):
    """Observed data a calibration fits: yearly sums of the weekly model variable against a
    yearly series (`data = "mexico:…"` or `"pc2023:…"`), or the members of `groups` at the
    date of a claim (`data = "claim:…"`, from data/facts/mexico_claims.csv)."""

    name: str
    data: str
    variable: Literal[TARGET_VARIABLES]  # type: ignore[valid-type]
    relative_error: float = Field(gt=0, le=MAX_RELATIVE_ERROR, allow_inf_nan=False)
    first_year: int | None = Field(default=None, ge=FIRST_DATE.year, le=LAST_DATE.year)
    last_year: int | None = Field(default=None, ge=FIRST_DATE.year, le=LAST_DATE.year)
    groups: list[str] = []  # for variable = "members": whose members (default all)
    comparison: Literal["equal", "at_least", "at_most"] = "equal"
    source: str = ""

    @field_validator("data")
    @classmethod
    def _known_series(cls, key: str) -> str:
        return _check_data_key(key, claims=True)


class Calibration(Strict):
    """What ABC calibration (calibrate.py) may change and what it must match.

    `forms` gives the prior of `incapacitation` under each incapacitation form; with two
    forms the calibration also weighs them against each other (pyabc model selection).
    The distance is the L1 or L2 norm of log(simulated / observed) / relative_error over all
    target points (one-sided for at_least / at_most targets).
    """

    free: dict[str, Prior]
    forms: dict[Literal["fixed_count", "per_member"], Prior] = {}
    #: Competing model forms besides incapacitation's: hypothesis -> form -> parameter ->
    #: its prior under that form, or a number that fixes it there (e.g. militarization:
    #: suppression fixes deployment_disruption = 0, disruption gives it a prior). Every
    #: combination of forms is one pyabc model; model selection weighs them.
    hypotheses: dict[str, dict[str, dict[str, Prior | float]]] = {}
    targets: list[Target] = Field(min_length=1)
    distance: Literal["l1", "l2"] = "l2"
    particles: int = Field(default=200, ge=10, le=100_000)
    populations: int = Field(default=8, ge=1, le=100)
    min_epsilon: float = Field(default=0.0, ge=0, le=1e12, allow_inf_nan=False)
    #: Scaling of pyabc's multivariate normal perturbation kernel (1 = pyabc's default).
    #: With many free parameters a wider kernel keeps the importance weights from
    #: collapsing onto a few particles (mexico: 14 parameters, effective sample size 7-10 %
    #: of the particles at 1, 34-55 % at 2).
    kernel_scaling: float = Field(default=1.0, gt=0, le=10, allow_inf_nan=False)
    #: The last population (number `populations`) has this many times `particles`. The
    #: posterior's Monte Carlo error is that of the last population's weighted sample, and
    #: the earlier populations only have to find where the posterior lies, so a larger last
    #: one buys precision at a fraction of the cost of more particles in every population.
    final_population_factor: int = Field(default=1, ge=1, le=20)

    @model_validator(mode="after")
    def _known(self) -> Calibration:
        for name in self.free:
            if name not in CALIBRATABLE:
                raise _FieldError(f"calibration.free.{name}", _unknown(name, set(CALIBRATABLE)))
        if self.forms and "incapacitation" in self.free:
            raise _FieldError(
                "calibration.free.incapacitation",
                "give its prior per form under calibration.forms, not both",
            )
        for hypothesis, forms in self.hypotheses.items():
            path = f"calibration.hypotheses.{hypothesis}"
            if hypothesis == "incapacitation":
                raise _FieldError(path, "the incapacitation forms go under calibration.forms")
            if len(forms) < 2:
                raise _FieldError(path, f"needs at least two forms (got {len(forms)})")
            for form, spec in forms.items():
                for name, value in spec.items():
                    where = f"{path}.{form}.{name}"
                    if name not in CALIBRATABLE or name == "incapacitation":
                        known = set(CALIBRATABLE) - {"incapacitation"}
                        raise _FieldError(
                            where, _unknown(name, known).replace("group", "parameter")
                        )
                    if name in self.free:
                        raise _FieldError(where, "also in calibration.free: give it in one place")
                    if not isinstance(value, Prior):
                        problem = range_problem(name, float(value))
                        if problem is not None:
                            raise _FieldError(where, problem)
            names = list(forms)
            for i, a in enumerate(names):
                for b in names[:i]:
                    if _same_form(forms[a], forms[b]):
                        raise _FieldError(
                            f"{path}.{a}", f"no parameter differs from form {b!r}: nothing to weigh"
                        )
        return self

    def models(self) -> list[dict[str, str]]:
        """Every combination of forms, as {hypothesis: form} ("incapacitation" first when
        `forms` gives two or more), in a fixed order: pyabc's model m is models()[m]."""
        axes = []
        if self.forms:
            axes.append(("incapacitation", list(self.forms)))
        axes += [(h, list(forms)) for h, forms in self.hypotheses.items()]
        combos: list[dict[str, str]] = [{}]
        for hypothesis, forms in axes:
            combos = [{**c, hypothesis: f} for c in combos for f in forms]
        return combos


def _same_form(a: dict, b: dict) -> bool:
    """Whether two forms give every parameter the same prior or value."""
    dump = {k: v.model_dump() if isinstance(v, Prior) else float(v) for k, v in a.items()}
    other = {k: v.model_dump() if isinstance(v, Prior) else float(v) for k, v in b.items()}
    return dump == other


def check_priors_hold_values(s: Scenario) -> None:
    """Before a calibration: every free prior must admit the value the scenario itself gives
    that parameter (else the scenario's runs use a value its calibration calls impossible).
    Checked when calibrating, not on loading, so a what-if variant may still set a value
    outside its base's priors."""
    if s.calibration is None:
        return
    for name, prior in s.calibration.free.items():
        try:
            _check_prior_holds_value(s, prior, name, f"calibration.free.{name}")
        except _FieldError as exc:
            raise ScenarioError(f"{s.name}.toml: {exc.path}: {exc.reason}") from None


def _check_prior_holds_value(s: Scenario, prior: Prior, name: str, path: str) -> None:
    """Only values the scenario writes are checked, not defaults it leaves alone (a value
    equal to the field's default counts as left alone: a re-validated dump writes every
    default)."""
    for section, where in ((s.parameters, "parameters"), (s.observation, "observation")):
        if name in section.model_fields_set and getattr(section, name) is not None:
            value = getattr(section, name).value
            default = type(section).model_fields[name].get_default(call_default_factory=True)
            if isinstance(default, _Param) and default.value == value:
                continue
            low = -math.inf if prior.low is None else prior.low
            high = math.inf if prior.high is None else prior.high
            if not low <= value <= high:
                raise _FieldError(
                    path,
                    f"its bounds [{low:g}, {high:g}] exclude the scenario's own value "
                    f"{value:g} ({where}.{name})",
                )


def _check_prior(prior: Prior, name: str, form: str | None, path: str) -> None:
    """A prior may put weight only where the parameter can be (BOUNDS): a prior spanning
    1e-3 to 1e300 would make runs overflow, a normal prior without a low bound draws
    negative rates."""
    low, high = bounds_of(name, form)
    lo = prior.low if prior.low is not None else -math.inf
    hi = prior.high if prior.high is not None else math.inf
    if lo < low:
        what = f"low must be >= {low:g}" if prior.low is not None else f"needs low >= {low:g}"
        raise _FieldError(f"{path}.low", f"{what}: {name} cannot be below {low:g} (got {lo:g})")
    if hi > high:
        what = "high must be" if prior.high is not None else "needs high"
        raise _FieldError(
            f"{path}.high", f"{what} <= {high:g}: {name} cannot exceed {high:g} (got {hi:g})"
        )
    if prior.mean is not None and not low <= prior.mean <= high:
        raise _FieldError(f"{path}.mean", f"must be between {low:g} and {high:g}")


@cache
def _fact_names() -> tuple[frozenset[str], frozenset[str]]:
    """The package's yearly series and claims (facts/), for checking `data` keys."""
    series = frozenset(r["series"] for r in fact_rows("mexico_yearly.csv"))
    claims = frozenset(r["claim"] for r in fact_rows("mexico_claims.csv"))
    return series, claims


def _check_data_key(key: str, claims: bool) -> str:
    source, sep, name = key.partition(":")
    known = ["mexico", "pc2023", "csv", *(["claim"] if claims else [])]
    if not sep or source not in known:
        raise ValueError(f"must be SOURCE:NAME with SOURCE one of {', '.join(known)}")
    if not name:
        raise ValueError(f"{source}: names no series")
    series, claim_names = _fact_names()
    if source == "mexico" and name not in series:
        raise ValueError(
            f"unknown mexico series {name!r} ({_known(name, series, 'mexico_yearly.csv')})"
        )
    if source == "claim" and name not in claim_names:
        raise ValueError(
            f"unknown claim {name!r} ({_known(name, claim_names, 'mexico_claims.csv')})"
        )
    return key


def _known(name: str, names: frozenset[str], file: str) -> str:
    """The names to offer for an unknown one: all of them when few, else the closest (the
    list would make the one-line message too long to read)."""
    if len(names) <= 8:
        return "known: " + ", ".join(sorted(names))
    close = difflib.get_close_matches(name.strip(), sorted(names), n=3, cutoff=0.3)
    hint = f"closest: {', '.join(close)}; " if close else ""
    return f"{hint}all {len(names)} are in the package's data/facts/{file}"


class Scenario(Strict):
    name: str
    description: str
    extends: str | None = None
    simulation: Simulation
    parameters: Parameters
    groups: list[Group] = []
    network: Network = Network()
    deployments: list[Deployment] = []
    events: list[Event] = []
    policies: list[Policy] = []
    observation: Observation
    calibration: Calibration | None = None
    #: The agent engine's table, validated by that engine's own model (engines.sections):
    #: the core knows the table's name, not its schema. None where the scenario has none.
    agents: Any = None

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        _check_references(self)
        return self

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        problem = outputs.name_problem(name)
        if problem is not None:  # the name becomes a folder name (results/NAME)
            raise ValueError(problem)
        return name

    @field_validator("agents")
    @classmethod
    def _validated_by_its_engine(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, BaseModel):
            raise ValueError("no installed engine owns this table (see engines.py)")
        return value

    def text(self) -> str:
        """The fully resolved scenario (after `extends`) as canonical JSON: what results
        record as their provenance and what `--from` recomputes."""
        return self.model_dump_json(indent=None)

    def sha256(self) -> str:
        """The scenario's identity: the SHA-256 of `text()`, recorded in every output."""
        return hashlib.sha256(self.text().encode()).hexdigest()


def _check_references(s: Scenario) -> None:
    """Group names used by ties, events and deployments must exist and be in order."""
    shorts = [g.short for g in s.groups]
    duplicates = {x for x in shorts if shorts.count(x) > 1}
    if duplicates:
        raise _FieldError("groups", f"duplicate short name {sorted(duplicates)[0]!r}")
    if s.network.dataset is None and not s.groups:
        raise _FieldError("groups", "at least one group is required (or network.dataset)")
    if s.network.dataset is not None and s.parameters.initial_members_total is None:
        raise _FieldError(
            "parameters.initial_members_total", "required when network.dataset is set"
        )
    known = set(shorts)
    if s.network.dataset is None:
        for kind in ("rivalries", "alliances"):
            for i, tie in enumerate(getattr(s.network, kind)):
                _check_pair(tie.groups, known, f"network.{kind}[{i}].groups")
        for i, event in enumerate(s.events):
            if event.type == "fragment":
                break  # later events may name the dataset's groups: the plan checks them
            for field in ("group", "new_group"):
                name = getattr(event, field, None)
                if name is not None and name not in known:
                    raise _FieldError(f"events[{i}].{field}", _unknown(name, known))
            if hasattr(event, "groups"):
                _check_pair(event.groups, known, f"events[{i}].groups")
    for kind in ("deployments", "events"):
        items = getattr(s, kind)
        for i in range(1, len(items)):
            if items[i].date < items[i - 1].date:
                raise _FieldError(f"{kind}[{i}].date", "dates must be in order")
    for i, event in enumerate(s.events):
        end = getattr(event, "end", None)
        if end is not None and end <= event.date:
            raise _FieldError(f"events[{i}].end", f"must be after date {event.date}")
    start, end = s.simulation.start, s.simulation.end()
    for i, policy in enumerate(s.policies):
        if policy.date < start:
            raise _FieldError(f"policies[{i}].date", f"before the start {start}")
        if policy.date >= end:
            raise _FieldError(f"policies[{i}].date", f"not before the end {end}")
    for i, event in enumerate(s.events):
        # With start_from, earlier events are the history the start state comes from.
        if event.date < start and s.simulation.start_from is None:
            raise _FieldError(f"events[{i}].date", f"before the start {start}")
        if event.date >= end:
            raise _FieldError(f"events[{i}].date", f"not before the end {end}")
    for i, item in enumerate(s.deployments):
        if item.date >= end:
            raise _FieldError(f"deployments[{i}].date", f"not before the end {end}")
    if s.calibration is not None:
        form = s.parameters.incapacitation_form
        for name, prior in s.calibration.free.items():
            _check_prior(prior, name, form, f"calibration.free.{name}")
        for form_name, prior in s.calibration.forms.items():
            _check_prior(prior, "incapacitation", form_name, f"calibration.forms.{form_name}")
        for hypothesis, forms in s.calibration.hypotheses.items():
            for form_name, spec in forms.items():
                for name, prior in spec.items():
                    if isinstance(prior, Prior):
                        path = f"calibration.hypotheses.{hypothesis}.{form_name}.{name}"
                        _check_prior(prior, name, form, path)
    if s.calibration is not None and s.network.dataset is None:
        for i, target in enumerate(s.calibration.targets):
            for name in target.groups:
                if name not in known:
                    raise _FieldError(f"calibration.targets[{i}].groups", _unknown(name, known))


def _check_pair(pair: tuple[str, str], known: set[str], path: str) -> None:
    for name in pair:
        if name not in known:
            raise _FieldError(path, _unknown(name, known))
    if pair[0] == pair[1]:
        raise _FieldError(path, f"a group cannot be paired with itself ({pair[0]!r})")


def _unknown(name: str, known: set[str]) -> str:
    return f"unknown group {name!r} (known: {', '.join(sorted(known))})"


class _FieldError(ValueError):
    """A cross-field problem; carries the field path for the one-line message."""

    def __init__(self, path: str, reason: str):
        super().__init__(reason)
        self.path = path
        self.reason = reason


def with_mode(scenario: Scenario, mode: str | None) -> Scenario:
    """The scenario with simulation.mode set to `mode` (None: as it is): the `--mode` of
    run and compare."""
    if mode is None or scenario.simulation.mode == mode:
        return scenario
    simulation = scenario.simulation.model_copy(update={"mode": mode})
    return scenario.model_copy(update={"simulation": simulation})


# --- loading -----------------------------------------------------------------------------


def builtin_names() -> list[str]:
    """Names of the scenarios shipped with cartelsim (read once: they ship with the code)."""
    return list(_builtin_names())


@cache
def _builtin_names() -> tuple[str, ...]:
    folder = PACKAGE_DATA / "scenarios"
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def builtin_descriptions() -> dict[str, str]:
    """One-line description of each built-in scenario (resolved through `extends`)."""
    return {name: load_scenario(name).description.split("\n")[0] for name in builtin_names()}


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or a TOML file by path, resolving `extends`.

    A built-in is read and validated once per process (scenarios are immutable), so the
    report can compare a run's scenario with its built-in namesake at no cost."""
    if isinstance(name_or_path, str) and name_or_path in _builtin_names():
        return _load_builtin(name_or_path)
    document, label = _resolve(str(name_or_path), chain=())
    return validate(document, label)


def start_from_chain(scenario: Scenario) -> list[Scenario]:
    """The scenarios `scenario` starts from (`simulation.start_from`, then theirs), nearest
    first; a one-line error naming the field for a base that is not there, a cycle (a
    scenario starting from its own file) or a chain deeper than MAX_EXTENDS."""
    label = f"{scenario.name}.toml"
    chain: list[Scenario] = []
    seen: set[str] = set()
    names: list[str] = []
    current = scenario
    while current.simulation.start_from is not None:
        target = current.simulation.start_from
        builtin = target in _builtin_names()
        names.append(target)
        if not builtin and not os.path.isfile(target):
            raise ScenarioError(
                f"{label}: simulation.start_from: no such file or built-in scenario "
                f"{_short(repr(target))} (looked for in {Path.cwd()})"
            )
        key = target if builtin else os.path.realpath(target)
        if key in seen:
            raise ScenarioError(f"{label}: simulation.start_from: cycle ({' -> '.join(names)})")
        if len(chain) >= MAX_EXTENDS:
            raise ScenarioError(
                f"{label}: simulation.start_from: more than {MAX_EXTENDS} levels deep"
            )
        seen.add(key)
        current = load_scenario(target)
        chain.append(current)
    return chain


@cache
def _load_builtin(name: str) -> Scenario:
    document, label = _resolve(name, chain=())
    return validate(document, label)


def validate(document: dict[str, Any], label: str) -> Scenario:
    """Validate a scenario document, turning every problem into a one-line error.

    Tables owned by an engine (``[agents]``) are validated by that engine's model first and
    passed on validated; the rest by Scenario."""
    document, errors = dict(document), []
    for name, model in engines.sections().items():
        if document.get(name) is None:
            continue
        try:
            document[name] = model.model_validate(document[name])
        except ValidationError as exc:
            errors += [_format(label, {**e, "loc": (name, *e["loc"])}) for e in exc.errors()]
            document[name] = None
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as exc:
        errors += [_format(label, e) for e in exc.errors()]
    except RecursionError:
        errors.append(f"{label}: (top level): nested too deeply")
    if errors:
        raise ScenarioError("\n".join(errors))
    return scenario


def _format(label: str, error: dict[str, Any]) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _FieldError):
        return f"{label}: {cause.path}: {cause.reason}"
    path = _path([p for p in error["loc"] if p not in _EVENT_TAGS])
    return f"{label}: {path}: {_reason(error)}"


_EVENT_TAGS = {
    "split",
    "merge",
    "truce",
    "new_group",
    "leader_removed",
    "rivalry",
    "alliance",
    "function-before[number_to_table(), _Param]",
}


def _path(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


_REASONS = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "missing": "required field is missing",
    "extra_forbidden": "unknown key",
}


def _reason(error: dict[str, Any]) -> str:
    template = _REASONS.get(error["type"])
    bounds = {k: f"{v:g}" if isinstance(v, float) else v for k, v in error.get("ctx", {}).items()}
    text = template.format(**bounds) if template else error["msg"]
    text = text.removeprefix("Value error, ")
    if error["type"] in ("missing", "extra_forbidden"):
        return text
    shown = error.get("input")
    if isinstance(shown, dict | list):
        return text
    if isinstance(shown, dt.date):
        return f"{text} (got {shown.isoformat()})"
    return f"{text} (got {_short(repr(shown))})"


def _short(text: str, limit: int = 60) -> str:
    """A value as shown in an error: a 400-digit number or a long string is cut."""
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


#: Longest chain of `extends` followed; deeper is surely a mistake (and would exhaust
#: Python's recursion limit).
MAX_EXTENDS = 50


def _resolve(name_or_path: str, chain: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """Read a scenario document and merge it onto what it `extends`."""
    text, label, folder = read_source(name_or_path)
    if label in chain:
        raise ScenarioError(f"{label}: extends: cycle ({' -> '.join((*chain, label))})")
    if len(chain) >= MAX_EXTENDS:
        raise ScenarioError(f"{chain[0]}: extends: more than {MAX_EXTENDS} levels deep")
    _check_nesting(text, label)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: (syntax): {exc}") from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise ScenarioError(f"{label}: (syntax): nested too deeply") from None
    parent = document.get("extends")
    if parent is None:
        return document, label
    if not isinstance(parent, str):
        raise ScenarioError(f"{label}: extends: must be a scenario name or path (got {parent!r})")
    target = parent if parent in builtin_names() or folder is None else str(folder / parent)
    if parent not in builtin_names() and not Path(target).exists():
        target = parent
    if parent not in builtin_names() and not Path(target).is_file():
        known = ", ".join(builtin_names())
        raise ScenarioError(
            f"{label}: extends: no such file or built-in scenario {_short(repr(parent))} "
            f"(built-ins: {known})"
        )
    base, _ = _resolve(target, (*chain, label))
    return _trim_to_end(merge(base, document), base), label


def _trim_to_end(merged: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """A variant that ends earlier than its base (mexico-2006-2012 of mexico) leaves out the
    base's events, deployments and policies that would take effect only after its last week
    (dated after that week's start); its own stay, so a date past the end that the variant
    itself writes is still an error."""
    try:
        simulation = Simulation(**merged["simulation"])
        base_end = Simulation(**base["simulation"]).end()
    except (KeyError, TypeError, ValueError):
        return merged  # validate says what is wrong
    if simulation.end() >= base_end:
        return merged
    end = simulation.week_start(simulation.weeks - 1) + dt.timedelta(days=1)
    out = dict(merged)
    for key in ("events", "deployments", "policies"):
        inherited = base.get(key)
        if isinstance(out.get(key), list) and isinstance(inherited, list):
            ids = {id(item) for item in inherited}
            out[key] = [
                item for item in out[key] if id(item) not in ids or not _dated_from(item, end)
            ]
    return out


def _dated_from(item: Any, end: dt.date) -> bool:
    day = item.get("date") if isinstance(item, dict) else None
    return isinstance(day, dt.date) and day >= end


#: Deepest nesting of arrays and tables, and longest dotted key, a scenario file may have (a
#: real one has 4): Python's TOML parser recurses on the first, and on a key of 100,000
#: dotted parts it had not finished after 60 s.
MAX_NESTING = 100


def _check_nesting(text: str, label: str) -> None:
    """Refuse, in one pass before parsing, brackets nested deeper than MAX_NESTING or a key
    of more than MAX_NESTING dotted parts (outside strings and comments)."""
    depth = dots = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if quote[0] == '"' and text[i] == "\\":
                    i += 1
                elif len(quote) == 1 and text[i] == "\n":
                    break  # an unterminated string: the parser says so
                i += 1
            i += len(quote)
            continue
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c in "[{":
            depth += 1
            dots = 0
        elif c in "]}":
            depth -= 1
            dots = 0
        elif c in "=,\n":
            dots = 0
        elif c == ".":
            dots += 1
        if depth > MAX_NESTING or dots > MAX_NESTING:
            raise ScenarioError(
                f"{label}: (syntax): nested too deeply (more than {MAX_NESTING} levels)"
            )
        i += 1


def read_source(name_or_path: str) -> tuple[str, str, Path | None]:
    """A scenario's TOML text, its label for messages, and its folder (None: built-in)."""
    if name_or_path in builtin_names():
        file = PACKAGE_DATA / "scenarios" / f"{name_or_path}.toml"
        return file.read_text(encoding="utf-8"), f"{name_or_path}.toml", None
    path = Path(name_or_path)
    label = path.name or str(path)
    if not os.path.lexists(path):
        known = ", ".join(builtin_names())
        raise ScenarioError(
            f"{label}: (file): no such file or built-in scenario (built-ins: {known})"
        )
    try:  # a regular file of at most 16 MB: not a device (/dev/zero), a FIFO or a folder
        data = outputs.read_bounded(path, "scenario", label)
    except outputs.OutputError as exc:
        raise ScenarioError(str(exc).replace(f"{label}: ", f"{label}: (file): ", 1)) from None
    try:
        return data.decode("utf-8-sig"), label, path.parent  # an editor's BOM is not text
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{label}: (file): not UTF-8 text ({exc.reason})") from None


#: Lists a variant adds to (rather than replaces): a variant's events and policies come on
#: top of its base's.
APPENDED_LISTS = ("events", "policies")


def merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `change` onto `base`: tables merge, lists replace (events, policies append)."""
    out = dict(base)
    for key, value in change.items():
        if key == "extends":
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif key in APPENDED_LISTS and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + value
        else:
            out[key] = value
    return out
