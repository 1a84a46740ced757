"""A validated scenario turned into the arrays the engine steps through.

Everything dated in a scenario (events, deployments, policies) becomes either a per-week
array or a network *epoch*: a stretch of weeks during which the conflict network is constant.
The engine then needs no calendar, no dictionaries and no Python objects in its loop.

Time: a model week is 1/52 of a year, as in PC2023, so 520 weeks from 2012-01-01 end at
2022.0 and every calendar year holds 52 weeks.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cartelsim import datasets
from cartelsim.scenario import (
    DEPLOYMENT_DISRUPTION,
    FRAGMENT_LETHALITY_FACTOR,
    FRAGMENT_SATURATION_FACTOR,
    PARAMETER_NAMES,
    Scenario,
    ScenarioError,
)

WEEKS_PER_YEAR = 52
#: Deployed forces enter the rates per 10,000 personnel, so rates stay readable numbers.
FORCES_UNIT = 10_000.0
#: Transfer kinds applied between weeks (see integrators.apply_transfers).
MOVE, ADD = 0, 1


def decimal_year(day: dt.date) -> float:
    start = dt.date(day.year, 1, 1)
    length = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year + (day - start).days / length


def date_of(year: float) -> dt.date:
    whole = math.floor(year + 1e-9)
    length = (dt.date(whole + 1, 1, 1) - dt.date(whole, 1, 1)).days
    return dt.date(whole, 1, 1) + dt.timedelta(days=round((year - whole) * length))


@dataclass(frozen=True)
class Epoch:
    """The conflict network during weeks [start, next epoch's start).

    K_ij = boost_i * boost_j * (W_ij + 1) / (A_i + 1), K_ii = 0, with truce pairs at 0
    (the aggregate engine: boost_i = 1 + leader_removal_effect * removal_i). The
    engine never forms K: it uses the sparse `excess` E = W (or -1 for truce pairs) and
    sum_j K_ij y_j = inv_alliance_i * boost_i * ((E y)_i + sum(y) - y_i), y = boost * C.
    """

    start: int
    inv_alliance: np.ndarray  # (n,) 1 / (A_i + 1)
    boost: np.ndarray  # (n,) violence multiplier at each event's own size, 1 = none
    excess: np.ndarray  # (n, n) dense E, small; converted to CSR by the engine
    #: (n,) L_i: the violence_boost of the leader removals in force, summed; the aggregate
    #: engine's boost is 1 + leader_removal_effect * L_i (flows.py), per run.
    removal: np.ndarray | None = None


@dataclass(frozen=True)
class Plan:
    """Everything the engine needs, as arrays; built once per scenario by `make_plan`."""

    scenario: Scenario
    names: list[str]
    shorts: list[str]
    initial: np.ndarray  # (n,) members at the start
    zipf_initial: bool  # stochastic mode draws Poisson around `initial` (PC2023's variant)
    start_year: float
    weeks: int
    params: np.ndarray  # (P,) base parameter values, in PARAMETER_NAMES order
    fixed_count: bool  # incapacitation is a fixed weekly count (else per member)
    multipliers: np.ndarray  # (weeks, P) policy multipliers
    forces: np.ndarray  # (weeks,) deployed forces, in units of FORCES_UNIT
    recruitment_multiplier: np.ndarray  # (n,)
    epochs: list[Epoch]
    transfers: np.ndarray  # (k, 5): week, kind, source, target, amount
    event_marks: list[tuple[dt.date, str]] = field(default_factory=list)
    fragmentation: Fragmentation | None = None

    @property
    def n_groups(self) -> int:
        return len(self.shorts)

    def week_year(self) -> np.ndarray:
        """Decimal year at the start of each week, shape (weeks + 1,)."""
        return self.start_year + np.arange(self.weeks + 1) / WEEKS_PER_YEAR

    def dates(self) -> list[dt.date]:
        """The date each week starts (and the end date), computed once per plan: every
        output step asks for them. Treat the list as read-only."""
        dates = self.__dict__.get("_dates")
        if dates is None:
            dates = [date_of(y) for y in self.week_year()]
            object.__setattr__(self, "_dates", dates)
        return dates

    def week_of(self, day: dt.date) -> int:
        """First week starting on or after `day` (negative if before the start)."""
        return math.ceil((decimal_year(day) - self.start_year) * WEEKS_PER_YEAR - 1e-6)


def make_plan(
    scenario: Scenario, data_dir: str | Path | None = None, initial: np.ndarray | None = None
) -> Plan:
    """Compile a scenario. `initial` replaces the start state (for `start_from`)."""
    label = f"{scenario.name}.toml"
    names, shorts, rivalry, alliance, start, zipf = _groups(scenario, data_dir)
    fragmentation = fragmentation_of(scenario, data_dir, shorts)
    if fragmentation is not None:  # the dataset's groups exist from the start, inactive
        added = len(fragmentation.shorts) - len(shorts)
        names, shorts = names + fragmentation.names[len(names) :], fragmentation.shorts
        rivalry, alliance = (np.pad(m, (0, added)) for m in (rivalry, alliance))
        start = np.concatenate([start, np.zeros(added)])
    if initial is not None:
        if len(initial) != len(shorts):
            raise ScenarioError(
                f"{label}: simulation.start_from: {scenario.simulation.start_from} has "
                f"{len(initial)} groups, this scenario {len(shorts)}"
            )
        start, zipf = np.asarray(initial, dtype=float).copy(), False
    start_year = decimal_year(scenario.simulation.start)
    weeks = scenario.simulation.weeks
    base = np.array([getattr(scenario.parameters, p).value for p in PARAMETER_NAMES])
    plan = Plan(
        scenario=scenario,
        names=names,
        shorts=shorts,
        initial=start,
        zipf_initial=zipf,
        start_year=start_year,
        weeks=weeks,
        params=base,
        fixed_count=scenario.parameters.incapacitation_form == "fixed_count",
        multipliers=np.ones((weeks, len(PARAMETER_NAMES))),
        forces=np.zeros(weeks),
        recruitment_multiplier=_recruitment_multipliers(scenario, len(shorts)),
        fragmentation=fragmentation,
        epochs=[],
        transfers=np.zeros((0, 5)),
    )
    _deployments(plan)
    _policies(plan, label)
    _disruption(plan)
    _after_fragment(plan)
    epochs, transfers, marks = _network_timeline(plan, rivalry, alliance, initial is not None)
    object.__setattr__(plan, "epochs", epochs)
    object.__setattr__(plan, "transfers", transfers)
    object.__setattr__(plan, "event_marks", marks)
    return plan


@dataclass(frozen=True)
class Fragmentation:
    """A `fragment` event compiled: the scenario's groups followed by the dataset's groups
    that are not a family's largest (names, shorts: all of them); the dataset's ties in
    that order; and the member moves (source, target, fraction of what the source holds
    then), applied in order at the event's week.

    Why seat members this way: PC2023 start their 150 groups with Zipf sizes by network
    strength, and the families' own sizes at that date come from the years before; so
    within a family its groups get Zipf shares, and each family keeps its total except for
    the local groups' Zipf share, which every family gives alike (a local group has no
    family to come from). A family with no group in the dataset gives all its members to
    the local groups."""

    names: list[str]
    shorts: list[str]
    rivalry: np.ndarray
    alliance: np.ndarray
    moves: list[tuple[int, int, float]]
    members_of: dict[int, list[int]]  # family index -> its groups (the largest first)
    local: list[int]


def fragmentation_of(
    scenario: Scenario, data_dir: str | Path | None, shorts: list[str]
) -> Fragmentation | None:
    """The scenario's `fragment` event compiled (Fragmentation), or None without one."""
    label = f"{scenario.name}.toml"
    found = [(k, e) for k, e in enumerate(scenario.events) if e.type == "fragment"]
    if not found:
        return None
    if len(found) > 1:
        raise ScenarioError(f"{label}: events[{found[1][0]}]: only one fragment event")
    k, event = found[0]
    if scenario.network.dataset is not None:
        raise ScenarioError(
            f"{label}: events[{k}]: a fragment event needs the scenario's own groups, not "
            "network.dataset"
        )
    net = datasets.load_pc2023_network(datasets.fetch_pc2023(data_dir))
    where = f"{label}: events[{k}].families"
    family_of, named = _families(event.families, data_dir, set(shorts), where)
    weight = datasets.zipf_start(1.0, net.rivalry, net.alliance)
    names = [g.name for g in scenario.groups]
    out_shorts = list(shorts)
    position = {}  # dataset group -> union index
    members_of: dict[int, list[int]] = {}
    for f, family in enumerate(shorts):
        nodes = [j for j in range(len(net.shorts)) if family_of[j] == family]
        # the family's row goes on to be its largest group named for the family itself
        nodes.sort(key=lambda j: (not named[j], -weight[j]))
        if nodes:
            position[nodes[0]] = f
    for j, short in enumerate(net.shorts):
        if j in position:
            continue
        if short in out_shorts:
            short = f"{short} ({family_of[j]})"
        position[j] = len(out_shorts)
        out_shorts.append(short)
        names.append(net.names[j])
    n = len(out_shorts)
    order = np.array([position[j] for j in range(len(net.shorts))])
    rivalry, alliance = np.zeros((n, n)), np.zeros((n, n))
    rivalry[np.ix_(order, order)] = net.rivalry
    alliance[np.ix_(order, order)] = net.alliance
    local = [j for j in range(len(net.shorts)) if family_of[j] == "LOCAL"]
    pool = local or list(range(len(net.shorts)))
    local_share = weight[local].sum() / weight.sum() if local else 0.0
    moves = []
    for f, family in enumerate(shorts):
        nodes = [j for j in range(len(net.shorts)) if family_of[j] == family]
        members_of[f] = sorted((position[j] for j in nodes), key=lambda i: i != f)
        targets = []  # (union index, share of the family's members)
        own = 1.0 - local_share if nodes else 0.0
        total = weight[nodes].sum() if nodes else 1.0
        targets += [(position[j], own * weight[j] / total) for j in nodes if position[j] != f]
        spread = (1.0 - own) / weight[pool].sum()
        targets += [(position[j], spread * weight[j]) for j in pool if position[j] != f]
        remaining = 1.0
        for target, share in targets:
            moves.append((f, target, min(share / remaining, 1.0) if remaining > 0 else 0.0))
            remaining -= share
    return Fragmentation(
        names, out_shorts, rivalry, alliance, moves, members_of, [position[j] for j in local]
    )


def _families(file: str, data_dir, families: set[str], label: str) -> tuple[list[str], list[bool]]:
    """Each dataset group's family (a scenario short name, or LOCAL), from facts/<file>,
    and whether the group is named for the family itself (rule `name`, and its faction, if
    the file gives one, is the family: Cartel del Noreste is of the Zetas' family but not
    named for it)."""
    try:
        rows = datasets.fact_rows(file)
    except (OSError, KeyError) as exc:
        raise ScenarioError(f"{label}: cannot read facts/{file} ({exc})") from None
    by_node = {r["node"]: r for r in rows}
    nodes = datasets.pc2023_node_ids(datasets.fetch_pc2023(data_dir))
    out, named = [], []
    for node in nodes:
        row = by_node.get(node)
        if row is None:
            raise ScenarioError(f"{label}: facts/{file} has no row for group {node}")
        family = row.get("family")
        named.append(row.get("rule") == "name" and row.get("faction", family) == family)
        if family != "LOCAL" and family not in families:
            raise ScenarioError(
                f"{label}: facts/{file}: group {node}: family {family!r} is not a group of "
                "the scenario (or LOCAL)"
            )
        out.append(family)
    return out, named


def _groups(scenario: Scenario, data_dir: str | Path | None):
    """Names, short names, symmetric tie matrices and initial members."""
    if scenario.network.dataset == "pc2023":
        if scenario.groups:
            raise ScenarioError(
                f"{scenario.name}.toml: groups: must be empty when network.dataset is set"
            )
        net = datasets.load_pc2023_network(datasets.fetch_pc2023(data_dir))
        total = scenario.parameters.initial_members_total.value
        initial = datasets.zipf_start(total, net.rivalry, net.alliance)
        return net.names, net.shorts, net.rivalry, net.alliance, initial, True
    shorts = [g.short for g in scenario.groups]
    index = {s: i for i, s in enumerate(shorts)}
    n = len(shorts)
    rivalry, alliance = np.zeros((n, n)), np.zeros((n, n))
    for matrix, ties in (
        (rivalry, scenario.network.rivalries),
        (alliance, scenario.network.alliances),
    ):
        for tie in ties:
            i, j = index[tie.groups[0]], index[tie.groups[1]]
            matrix[i, j] = matrix[j, i] = max(matrix[i, j], tie.weight)
    initial = np.array([g.initial_members for g in scenario.groups], dtype=float)
    total = scenario.parameters.initial_members_total
    if total is not None and initial.sum() > 0:  # C0 given: the groups' members scaled to it,
        initial *= total.value / initial.sum()  # as a calibration's draw of C0 scales them
    return [g.name for g in scenario.groups], shorts, rivalry, alliance, initial, False


def _recruitment_multipliers(scenario: Scenario, n: int) -> np.ndarray:
    if scenario.network.dataset is not None:
        return np.ones(n)
    own = np.array([g.recruitment_multiplier for g in scenario.groups])
    return np.concatenate([own, np.ones(n - len(own))])  # a fragment event's groups: 1


def _deployments(plan: Plan) -> None:
    for item in plan.scenario.deployments:
        week = max(plan.week_of(item.date), 0)
        plan.forces[week:] = (item.troops + item.federal_police) / FORCES_UNIT


def _disruption(plan: Plan) -> None:
    """Put the disruption exposure z into the deployment_disruption column of the
    multipliers: z at week w is the growth of the deployed forces (per FORCES_UNIT) during
    the `disruption_weeks` before w, so deployment_disruption * z is the relative rise of
    conflict lethality (flows.py). Reductions do not count: fewer troops are no disruption
    in this form. Step-shaped, not decaying, so the exposure changes only where forces do
    (a few dopri5 step boundaries, not one per week)."""
    span = max(int(round(plan.scenario.parameters.disruption_weeks.value)), 1)
    growth = np.maximum(np.diff(plan.forces, prepend=0.0), 0.0)
    exposure = np.zeros(plan.weeks)
    for week in np.flatnonzero(growth):
        exposure[week : week + span] += growth[week]
    plan.multipliers[:, DEPLOYMENT_DISRUPTION] *= exposure


def _after_fragment(plan: Plan) -> None:
    """Put into the fragment factors' multiplier columns 1 from the fragment event's week on
    and 0 before it (all 0 without a fragment event; all 1 when it lies before the start, as
    in a world resumed after it with start_from). The factors in force are then the per-run
    factor after the event and 0 before it, which flows.py reads as 1: before the event (or
    without one) every run computes exactly what it did without the factors."""
    columns = [FRAGMENT_LETHALITY_FACTOR, FRAGMENT_SATURATION_FACTOR]
    plan.multipliers[:, columns] = 0.0
    for e in plan.scenario.events:
        if e.type == "fragment":
            plan.multipliers[max(plan.week_of(e.date), 0) :, columns] = 1.0


def _policies(plan: Plan, label: str) -> None:
    for i, policy in enumerate(plan.scenario.policies):
        week = max(plan.week_of(policy.date), 0)
        if policy.parameter == "state_forces":
            factor = policy.multiply if policy.multiply is not None else None
            if factor is None:
                plan.forces[week:] = policy.set / FORCES_UNIT
            else:
                plan.forces[week:] *= factor
            continue
        column = PARAMETER_NAMES.index(policy.parameter)
        if policy.multiply is not None:
            plan.multipliers[week:, column] *= policy.multiply
            continue
        base = plan.params[column]
        if base == 0 and policy.set != 0:
            raise ScenarioError(
                f"{label}: policies[{i}].set: cannot set {policy.parameter} whose base value "
                "is 0; give the parameter a non-zero value and use 'multiply'"
            )
        plan.multipliers[week:, column] = policy.set / base if base else 0.0


class _NetworkState:
    """The tie matrices and group status while walking through the dated events."""

    def __init__(self, rivalry: np.ndarray, alliance: np.ndarray, active: np.ndarray):
        self.rivalry, self.alliance, self.active = rivalry.copy(), alliance.copy(), active
        n = len(active)
        self.truce = np.zeros((n, n), dtype=bool)
        self.boost = np.ones(n)
        self.removals: list[list[float]] = [[] for _ in range(n)]  # sizes in force

    def epoch(self, week: int) -> Epoch:
        both = np.outer(self.active, self.active)
        allied = np.where(both, self.alliance, 0.0)
        excess = np.where(both, self.rivalry, 0.0)
        excess[self.truce] = -1.0
        np.fill_diagonal(excess, 0.0)
        removal = np.array([sum(sizes) for sizes in self.removals])
        return Epoch(week, 1.0 / (allied.sum(axis=1) + 1.0), self.boost.copy(), excess, removal)


def _network_timeline(plan: Plan, rivalry: np.ndarray, alliance: np.ndarray, resumed: bool):
    """Walk the events in date order; return epochs, member transfers and report marks."""
    s = plan.scenario
    index = {short: i for i, short in enumerate(plan.shorts)}
    label = f"{s.name}.toml"
    created = set()
    for k, e in enumerate(s.events):
        for field_name in ("group", "new_group"):
            name = getattr(e, field_name, None)
            if name is not None and name not in index:
                raise ScenarioError(f"{label}: events[{k}].{field_name}: unknown group {name!r}")
        for name in getattr(e, "groups", ()):
            if name not in index:
                raise ScenarioError(f"{label}: events[{k}].groups: unknown group {name!r}")
        born = e.new_group if e.type == "split" else (e.group if e.type == "new_group" else None)
        if born is not None:
            if plan.initial[index[born]] > 0 and not resumed:
                raise ScenarioError(
                    f"{label}: events[{k}]: group {born!r} is created here, so its "
                    "initial_members must be 0"
                )
            created.add(index[born])
    if plan.fragmentation is not None:  # the dataset's groups appear with the event
        created.update(range(len(s.groups), plan.n_groups))
    active = np.array([i not in created or plan.initial[i] > 0 for i in range(plan.n_groups)])
    state = _NetworkState(rivalry, alliance, active)
    changes: dict[int, list] = {}
    for e in s.events:
        week = max(plan.week_of(e.date), 0)
        changes.setdefault(week, []).append(("event", e))
        if e.type == "leader_removed":
            changes.setdefault(week + e.duration_weeks, []).append(("boost_end", e))
        if e.type == "truce" and e.end is not None:
            changes.setdefault(max(plan.week_of(e.end), 0), []).append(("truce_end", e))
    epochs = [state.epoch(0)]
    transfers: list[tuple[float, float, float, float, float]] = []
    marks: list[tuple[dt.date, str]] = []
    for week in sorted(changes):
        for kind, e in changes[week]:
            before_start = e.date < s.simulation.start
            if kind == "event" and not before_start and week < plan.weeks:
                marks.append((e.date, _label(e)))
            moves = kind == "event" and not (before_start and resumed)
            if kind == "event" and e.type == "fragment":
                _fragment(state, plan.fragmentation, week, transfers if moves else None)
                continue
            _apply(state, kind, e, index, week, transfers if moves else None)
        if week >= plan.weeks:
            continue
        epoch = state.epoch(week)
        if epochs[-1].start == week:
            epochs[-1] = epoch
        else:
            epochs.append(epoch)
    return epochs, np.array(transfers, dtype=float).reshape(-1, 5), marks


def _fragment(state: _NetworkState, frag: Fragmentation, week: int, transfers) -> None:
    """The network becomes the dataset's: its ties replace the families', every dataset
    group is active, a family without a group of its own empties, truces end."""
    state.rivalry, state.alliance = frag.rivalry.copy(), frag.alliance.copy()
    state.truce[:] = False
    for family, groups in frag.members_of.items():
        state.active[family] = bool(groups) and groups[0] == family
    for groups in (*frag.members_of.values(), frag.local):
        state.active[groups] = True
    if transfers is not None:
        transfers.extend((week, MOVE, a, b, f) for a, b, f in frag.moves)


def _apply(state: _NetworkState, kind: str, e, index: dict[str, int], week: int, transfers):
    """Change the network (and queue member transfers) for one dated event."""
    if kind == "boost_end":
        state.boost[index[e.group]] /= 1.0 + e.violence_boost
        state.removals[index[e.group]].remove(e.violence_boost)
        return
    if kind == "truce_end":
        i, j = index[e.groups[0]], index[e.groups[1]]
        state.truce[i, j] = state.truce[j, i] = False
        return
    if e.type == "split":
        parent, child = index[e.group], index[e.new_group]
        state.active[child] = True
        w = max(state.rivalry[parent, child], e.rivalry_weight)
        state.rivalry[parent, child] = state.rivalry[child, parent] = w
        if transfers is not None:
            transfers.append((week, MOVE, parent, child, e.fraction))
    elif e.type == "merge":
        keep, gone = index[e.groups[0]], index[e.groups[1]]
        for matrix in (state.rivalry, state.alliance):
            matrix[keep] = matrix[:, keep] = np.maximum(matrix[keep], matrix[gone])
            matrix[keep, keep] = 0.0
            matrix[gone] = matrix[:, gone] = 0.0
        state.active[gone] = False
        if transfers is not None:
            transfers.append((week, MOVE, gone, keep, 1.0))
    elif e.type == "truce":
        i, j = index[e.groups[0]], index[e.groups[1]]
        state.truce[i, j] = state.truce[j, i] = True
    elif e.type == "new_group":
        state.active[index[e.group]] = True
        if transfers is not None:
            transfers.append((week, ADD, 0, index[e.group], e.members))
    elif e.type == "leader_removed":
        state.boost[index[e.group]] *= 1.0 + e.violence_boost
        state.removals[index[e.group]].append(e.violence_boost)
    elif e.type in ("rivalry", "alliance"):
        matrix = state.rivalry if e.type == "rivalry" else state.alliance
        i, j = index[e.groups[0]], index[e.groups[1]]
        matrix[i, j] = matrix[j, i] = e.weight


def _label(e) -> str:
    if e.type == "split":
        return f"{e.new_group} splits from {e.group}"
    if e.type in ("rivalry", "alliance") and e.weight == 0:
        return f"{e.type} ends: {e.groups[0]} & {e.groups[1]}"
    if e.type == "fragment":
        return f"the families become the {e.dataset} groups"
    if e.type in ("merge", "truce", "rivalry", "alliance"):
        return f"{e.type}: {e.groups[0]} & {e.groups[1]}"
    if e.type == "new_group":
        return f"{e.group} appears"
    return f"{e.group} leader removed"
