"""The aggregate engine: flows balance, stocks stay non-negative, events act as documented."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small_document
from scipy.integrate import solve_ivp

from cartelsim import aggregate, datasets, flows
from cartelsim.aggregate import simulate
from cartelsim.plan import make_plan
from cartelsim.runner import run
from cartelsim.scenario import (
    CONFLICT_LETHALITY,
    DEPLOYMENT_DISRUPTION,
    INCAPACITATION,
    LEADER_REMOVAL_EFFECT,
    PARAMETER_NAMES,
    RECRUITMENT_RATE,
    SATURATION,
    STATE_ARREST_RATE,
    STATE_KILL_RATE,
    load_scenario,
    merge,
    validate,
)
from cartelsim.trajectories import FLOWS


def _plan(document: dict, data_dir=None):
    return make_plan(validate(document, "test.toml"), data_dir=data_dir)


def _with(scenario, **simulation):
    return scenario.model_copy(
        update={"simulation": scenario.simulation.model_copy(update=simulation)}
    )


def _balance_gap(traj) -> float:
    """Largest |start + recruits - exits + transfers - end| relative to members."""
    flows = {name: traj.flows[:, k, :].sum(axis=0) for k, name in enumerate(FLOWS)}
    exits = sum(flows[n] for n in FLOWS if n != "recruits")
    start, end = traj.members[0].sum(axis=0), traj.members[-1].sum(axis=0)
    return float(np.max(np.abs(start + flows["recruits"] - exits - end) / end))


@pytest.mark.parametrize(
    ("mode", "integrator"),
    [("deterministic", "rk4"), ("deterministic", "dopri5"), ("stochastic", "rk4")],
)
def test_flows_balance_and_stocks_stay_non_negative(mode, integrator, pc2023_dir):
    """start + recruits - deaths - incapacitated - saturation = end, in both modes."""
    for name in ("pc2023", "mexico-2006-2012"):
        scenario = _with(load_scenario(name), mode=mode, integrator=integrator)
        traj = simulate(make_plan(scenario, data_dir=pc2023_dir), runs=3, seed=5)
        assert _balance_gap(traj) < 1e-9
        assert traj.members.min() >= 0.0
        assert traj.flows.min() >= 0.0


@pytest.mark.parametrize(
    ("mode", "integrator"),
    [("deterministic", "dopri5"), ("deterministic", "rk4"), ("stochastic", "rk4")],
)
def test_float32_members_are_the_float64_ones_rounded(mode, integrator, pc2023_dir):
    """simulate(dtype=np.float32) integrates in float64 and only stores members in single
    precision: the same numbers rounded (stochastic counts exactly), the same flows."""
    scenario = _with(load_scenario("mexico-2006-2012"), mode=mode, integrator=integrator)
    plan = make_plan(scenario, data_dir=pc2023_dir)
    wide = simulate(plan, runs=70, seed=3)
    narrow = simulate(plan, runs=70, seed=3, dtype=np.float32)
    assert wide.members.dtype == np.float64 and narrow.members.dtype == np.float32
    np.testing.assert_array_equal(narrow.members, wide.members.astype(np.float32))
    np.testing.assert_array_equal(narrow.flows, wide.flows)
    with pytest.raises(ValueError, match="dtype"):
        simulate(plan, runs=1, dtype=np.int32)


def test_same_seed_same_results_whatever_the_ensemble_size():
    """Run r depends on (seed, r) only: not on how many runs are simulated with it."""
    plan = make_plan(_with(load_scenario("mexico-2006-2012"), mode="stochastic"))
    few = simulate(plan, runs=3, seed=11)
    many = simulate(plan, runs=140, seed=11)  # crosses a block boundary (STOCHASTIC_BLOCK)
    again = simulate(plan, runs=3, seed=11)
    other = simulate(plan, runs=3, seed=12)
    np.testing.assert_array_equal(few.members, many.members[:, :, :3])
    np.testing.assert_array_equal(few.members, again.members)
    assert not np.array_equal(few.members, other.members)
    assert len({tuple(many.members[-1, :, r]) for r in range(140)}) == 140


def test_zero_recruitment_makes_every_group_decline():
    """With recruitment set to 0, no group ever grows."""
    policy = [{"parameter": "recruitment_rate", "date": "2010-01-01", "set": 0.0}]
    traj = simulate(_plan(small_document(policies=policy)))
    assert np.all(np.diff(traj.members[:, :2, 0], axis=0) < 0)
    assert traj.flows[:, 0, :].sum() == 0.0


def test_merge_ends_the_conflict_between_the_merged_groups():
    """After A absorbs B, nobody is left to fight: conflict deaths drop to 0."""
    events = [{"date": "2010-07-01", "type": "merge", "groups": ["A", "B"]}]
    plan = _plan(small_document(events=events))
    traj = simulate(plan)
    week = plan.week_of(plan.scenario.events[0].date)
    deaths = traj.flows[:, FLOWS.index("conflict_deaths"), 0]
    assert deaths[week - 1] > 1.0
    assert np.all(deaths[week:] == 0.0)
    assert traj.members[week, 1, 0] == 0.0
    before = traj.members[week - 1, :2, 0]
    assert traj.members[week, 0, 0] > before.sum() * 0.98


def test_truce_stops_fighting_for_its_period_only():
    """During a truce the pair stops fighting; it resumes when the truce ends."""
    events = [{"date": "2010-07-01", "type": "truce", "groups": ["A", "B"], "end": "2011-01-01"}]
    plan = _plan(small_document(events=events))
    deaths = simulate(plan).flows[:, FLOWS.index("conflict_deaths"), 0]
    start, end = (
        plan.week_of(plan.scenario.events[0].date),
        plan.week_of(plan.scenario.events[0].end),
    )
    assert np.all((deaths[start:end] >= 0.0) & (deaths[start:end] < 1e-9))  # 0 up to rounding
    assert deaths[start - 1] > 0 and deaths[end] > 0


def test_split_creates_a_rival_that_inherits_members():
    """A split moves the fraction of members to the new group, which then fights its parent."""
    events = [
        {
            "date": "2010-07-01",
            "type": "split",
            "group": "A",
            "new_group": "C",
            "fraction": 0.25,
            "rivalry_weight": 10,
        }
    ]
    plan = _plan(small_document(events=events))
    traj = simulate(plan)
    week = plan.week_of(plan.scenario.events[0].date)
    a_before = traj.members[week - 1, 0, 0]
    assert traj.members[week, 2, 0] == pytest.approx(0.25 * traj.members[week, :, 0][[0, 2]].sum())
    assert traj.members[week, 0, 0] < a_before
    no_split = simulate(_plan(small_document())).flows[:, FLOWS.index("conflict_deaths"), 0]
    assert traj.flows[week + 1, FLOWS.index("conflict_deaths"), 0] > no_split[week + 1]


def test_leader_removal_raises_violence_for_its_duration():
    """A leader removal raises conflict deaths for duration_weeks, then the boost ends."""
    events = [{"date": "2010-07-01", "type": "leader_removed", "group": "A", "duration_weeks": 10}]
    plan = _plan(small_document(events=events))
    boosted = simulate(plan).flows[:, FLOWS.index("conflict_deaths"), 0]
    base = simulate(_plan(small_document())).flows[:, FLOWS.index("conflict_deaths"), 0]
    week = plan.week_of(plan.scenario.events[0].date)
    assert boosted[week] > base[week] * 1.3
    ratio_after = boosted[week + 10] / base[week + 10]
    assert ratio_after < 1.05


def test_state_forces_arrest_and_kill_members():
    """Deployed forces add arrests and state kills in proportion to their size."""
    params = {
        **small_document()["parameters"],
        "state_arrest_rate": 1e-3,
        "state_kill_rate": 2e-4,
    }
    deployments = [{"date": "2010-06-01", "troops": 20000}]
    plan = _plan(small_document(parameters=params, deployments=deployments))
    traj = simulate(plan)
    week = plan.week_of(plan.scenario.deployments[0].date)
    kills = traj.flows[:, FLOWS.index("state_kills"), 0]
    assert np.all(kills[:week] == 0.0) and np.all(kills[week:] > 0.0)
    members = traj.members[week, :, 0].sum()
    assert kills[week] == pytest.approx(2e-4 * 2.0 * members, rel=0.02)


@pytest.fixture(scope="module")
def pc2023_lsoda(pc2023_dir):
    """DESIGN 3.1 written with numpy and a dense K, solved by LSODA at tight tolerances, with
    the cumulative recruits and conflict deaths as extra equations: (members, flows) weekly,
    shapes (groups, 521) and (2, 520)."""
    net = datasets.load_pc2023_network(datasets.fetch_pc2023(pc2023_dir))
    alliance = net.alliance.sum(axis=1)
    K = (net.rivalry + 1) / (alliance[:, None] + 1)
    np.fill_diagonal(K, 0.0)
    rho, eta, theta, omega = 2.527474e-3, 110, 1.549231e-8, 4.0e-8

    def rhs(t, u):
        C = u[:-2]
        KC = K @ C
        dC = rho * C - eta * C / C.sum() - theta * C * KC - omega * C * C
        return np.concatenate([dC, [rho * C.sum(), theta * (C * KC).sum()]])

    start = make_plan(load_scenario("pc2023"), data_dir=pc2023_dir).initial
    ref = solve_ivp(
        rhs,
        (0, 520),
        np.concatenate([start, [0.0, 0.0]]),
        method="LSODA",
        rtol=1e-11,
        atol=1e-8,
        t_eval=np.arange(521.0),
    )
    return ref.y[:-2], np.diff(ref.y[-2:], axis=1)


@pytest.mark.parametrize(("integrator", "rtol"), [("rk4", 1e-9), ("dopri5", 1e-7)])
def test_deterministic_integrators_agree_with_lsoda_on_pc2023(
    integrator, rtol, pc2023_lsoda, pc2023_dir
):
    """Both ODE integrators follow DESIGN 3.1, members and weekly flows, every week (measured:
    rk4 within 5e-11, dopri5 within 2e-8)."""
    members, flows = pc2023_lsoda
    scenario = _with(load_scenario("pc2023"), integrator=integrator)
    traj = simulate(make_plan(scenario, data_dir=pc2023_dir))
    np.testing.assert_allclose(traj.members[:, :, 0].T, members, rtol=rtol)
    for k, name in enumerate(("recruits", "conflict_deaths")):
        np.testing.assert_allclose(traj.flows[:, FLOWS.index(name), 0], flows[k], rtol=rtol)


def test_dopri5_honours_every_dated_change_like_rk4():
    """mexico-2006-2012 has splits, mergers, new network epochs, deployments and policies at
    week starts; dopri5 ends a step at each, so it matches the weekly RK4 at every week."""
    scenario = load_scenario("mexico-2006-2012")
    rk4 = simulate(make_plan(_with(scenario, integrator="rk4")), runs=2)
    dopri5 = simulate(make_plan(_with(scenario, integrator="dopri5")), runs=2)
    for ours, theirs in ((dopri5.members, rk4.members), (dopri5.flows, rk4.flows)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-7 * np.abs(theirs).max())


def test_dopri5_run_does_not_depend_on_the_other_runs():
    """dopri5 shares its steps within a block of runs and redoes, with shorter steps, the runs
    whose error estimate is too large; still, run r's numbers are identical whatever runs go
    with it. The fast runs (recruitment up to x 20) need the shorter steps: they stay within
    1e-8 of LSODA (weekly RK4: 4e-7 on the fastest)."""
    plan = _plan(small_document(simulation={"start": "2010-01-01", "weeks": 104}))
    params = np.repeat(plan.params[:, None], 70, axis=1)
    params[RECRUITMENT_RATE] *= np.linspace(0.5, 20.0, 70)  # run by run
    dopri5 = make_plan(_with(plan.scenario, integrator="dopri5"))
    many = simulate(dopri5, runs=70, params=params)
    chosen = [0, 40, 69]
    few = simulate(dopri5, runs=3, params=params[:, chosen])
    np.testing.assert_array_equal(few.members, many.members[:, :, chosen])
    np.testing.assert_array_equal(few.flows, many.flows[:, :, chosen])
    K = np.array([[0.0, 6.0, 1.0], [6.0, 0.0, 1.0], [1.0, 1.0, 0.0]])  # (W + 1) / (A + 1)
    rates = [RECRUITMENT_RATE, INCAPACITATION, CONFLICT_LETHALITY, SATURATION]
    for r in chosen:
        rho, mu, theta, omega = params[rates, r]

        def rhs(t, C, rho=rho, mu=mu, theta=theta, omega=omega):
            return rho * C - mu * C - theta * C * (K @ C) - omega * C * C

        ref = solve_ivp(
            rhs, (0, 104), plan.initial, "LSODA", rtol=1e-12, atol=1e-9, t_eval=np.arange(105.0)
        )
        np.testing.assert_allclose(many.members[:, :, r].T, ref.y, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(
    ("mode", "integrator"),
    [
        ("deterministic", "dopri5"),
        ("deterministic", "rk4"),
        ("deterministic", "euler"),
        ("stochastic", "rk4"),
    ],
)
def test_national_record_is_the_total_of_the_group_record(mode, integrator):
    """record="national" keeps, each week, the sum over the groups of what record="groups"
    keeps, and the same flows. On mexico-2006-2012 (splits, mergers, new groups, epochs) and
    on runs of which only some need dopri5's shorter steps. dopri5 evaluates the total's own
    dense output (measured 2e-15 from the sum); the others add the same numbers."""
    mexico = make_plan(_with(load_scenario("mexico-2006-2012"), mode=mode, integrator=integrator))
    small = make_plan(_with(_plan(small_document()).scenario, mode=mode, integrator=integrator))
    varied = np.repeat(small.params[:, None], 4, axis=1)
    varied[RECRUITMENT_RATE] *= [0.5, 1.0, 8.0, 20.0]  # the fast runs need shorter steps
    for plan, params in ((mexico, None), (small, varied)):
        groups = simulate(plan, runs=4, seed=7, params=params)
        national = simulate(plan, runs=4, seed=7, params=params, record="national")
        assert national.members.shape == (plan.weeks + 1, 1, 4)
        total = groups.members.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(national.members, total, rtol=1e-12, atol=0.0)
        np.testing.assert_array_equal(national.flows, groups.flows)
        np.testing.assert_array_equal(national.params, groups.params)


def test_unknown_record_is_a_clear_error():
    plan = _plan(small_document())
    with pytest.raises(ValueError, match="record: must be 'groups' or 'national', not 'group'"):
        simulate(plan, record="group")


def test_dopri5_keeps_the_pc2023_replication_figures(pc2023_dir):
    """With dopri5, PC2023's 2022 figures stay within 1e-6 of the weekly RK4 ones."""
    scenario = _with(load_scenario("pc2023"), integrator="dopri5")
    final = run(scenario, data_dir=pc2023_dir).summary()["final"]
    assert final["members_total"] == pytest.approx(173836.95, rel=1e-6)
    assert final["deaths_per_week"] == pytest.approx(124.225, rel=1e-5)


def test_pc2023_start_follows_the_stable_ranking(pc2023_dir):
    """Zipf start: C_i(0) = C0 (1/r) / H_n with a stable ranking by rivalry + alliance weight."""
    plan = make_plan(load_scenario("pc2023"), data_dir=pc2023_dir)
    harmonic = (1 / np.arange(1, 151)).sum()
    order = np.argsort(-plan.initial, kind="stable")
    assert plan.shorts[order[0]] == "CJNG"
    assert plan.initial[order[0]] == pytest.approx(115000 / harmonic)
    assert sorted(plan.initial, reverse=True)[9] == pytest.approx(115000 / 10 / harmonic)
    assert plan.initial.sum() == pytest.approx(115000)


def test_pc2023_is_invariant_under_the_share_scaling(pc2023_dir):
    """(C0, eta) -> s(C0, eta), (theta, omega) -> (theta, omega)/s scales members and deaths by
    s, so the observed killings (deaths / share, with the share scaled by s) do not change."""
    s = 0.37
    base = load_scenario("pc2023")
    document = merge(
        base.model_dump(mode="json", exclude_none=True),
        {
            "parameters": {
                "initial_members_total": 115000 * s,
                "incapacitation": 110 * s,
                "conflict_lethality": 1.549231e-8 / s,
                "saturation": 4.0e-8 / s,
            },
            "observation": {"cartel_share": 0.1 * s},
        },
    )
    scaled = run(validate(document, "scaled.toml"), data_dir=pc2023_dir)
    original = run(base, data_dir=pc2023_dir)
    np.testing.assert_allclose(scaled.traj.members, s * original.traj.members, rtol=1e-9)
    np.testing.assert_allclose(scaled.weekly["killings"], original.weekly["killings"], rtol=1e-9)


def test_pc2023_replication_figures(pc2023_dir):
    """Regression figures of the replication: ~174,000 members and ~124 deaths/week in 2022."""
    summary = run("pc2023", data_dir=pc2023_dir).summary()
    assert summary["start"] == "2012-01-01" and summary["end"] == "2022-01-01"
    assert summary["final"]["members_total"] == pytest.approx(173836.95, rel=1e-6)
    assert summary["final"]["deaths_per_week"] == pytest.approx(124.225, rel=1e-4)
    assert (
        summary["final"]["members_by_group"]["CJNG"]
        > summary["final"]["members_by_group"]["Sinaloa"]
    )
    assert len(summary["yearly"]) == 10 and all(y["weeks"] == 52 for y in summary["yearly"])


def test_pc2023_policies_start_from_the_2022_state(pc2023_dir):
    """Policy variants start from pc2023's final state and differ as the paper says."""
    base = run("pc2023", data_dir=pc2023_dir)
    halve = run("pc2023-halve-recruitment", data_dir=pc2023_dir)
    double = run("pc2023-double-incapacitation", data_dir=pc2023_dir)
    np.testing.assert_allclose(halve.traj.members[0], base.traj.members[-1])
    assert halve.plan.weeks == 260 and halve.plan.dates()[0].year == 2022
    assert halve.traj.members[-1].sum() < base.traj.members[-1].sum()
    assert halve.weekly["member_deaths"][-1, 0] < double.weekly["member_deaths"][-1, 0]


def _rhs_cases(pc2023_dir):
    """(plan, week) pairs that exercise every term of the right-hand side: PC2023 (fixed
    incapacitation count, 150 groups), mexico-2006-2012 (per-member incapacitation, deployed
    forces, leader-removal boosts, network epochs) and a truce with forces and a boost."""
    events = [
        {"date": "2010-03-01", "type": "truce", "groups": ["A", "B"], "end": "2010-09-01"},
        {"date": "2010-04-01", "type": "leader_removed", "group": "A", "duration_weeks": 30},
    ]
    deployments = [{"date": "2010-02-01", "troops": 30000}]
    small = _plan(small_document(events=events, deployments=deployments))
    mexico = make_plan(load_scenario("mexico-2006-2012"))
    pc2023 = make_plan(load_scenario("pc2023"), data_dir=pc2023_dir)
    removal = small.week_of(small.scenario.events[1].date)  # truce, boost and forces at once
    cases = [(pc2023, 0), (pc2023, 300), (small, 0), (small, removal)]
    cases += [(mexico, epoch.start) for epoch in mexico.epochs]
    return cases


def _rhs_inputs(plan, runs=5, seed=0):
    """States and parameters of `runs` runs around the plan's (lognormal factors, sigma 0.3;
    every rate non-zero, so every term counts) and one more run with no members at all."""
    rng = np.random.default_rng(seed)
    state = plan.initial[:, None] * rng.lognormal(0.0, 0.3, (plan.n_groups, runs))
    state = np.concatenate([state, np.zeros((plan.n_groups, 1))], axis=1)
    base = np.where(plan.params > 0, plan.params, 1e-3)
    params = base[:, None] * rng.lognormal(0.0, 0.3, (len(PARAMETER_NAMES), runs + 1))
    return np.ascontiguousarray(state), params


def _rhs_arguments(plan, week, params):
    """What the kernels pass to flows.derivative at `week`, after the state and output."""
    epoch_of_week, inv_a, boost, indptr, indices, data = aggregate._network_arrays(plan)
    fixed_count, mult, forces, g, _ = aggregate._common(plan)
    eff = np.empty_like(params)
    flows.in_force(params, mult, week, eff)
    e = epoch_of_week[week]
    return (plan.n_groups, eff, fixed_count, forces[week], g, inv_a[e], boost[e], indptr[e],
            indices, data)  # fmt: skip


def _flows_by_formula(plan, week, state, params):
    """Every group's five flows, (groups, runs, 5) in FLOWS order, as the docstrings write
    them (aggregate.py, flows.py), with numpy and a dense K (plan.Epoch)."""
    epoch = [e for e in plan.epochs if e.start <= week][-1]
    p = params * plan.multipliers[week][:, None]
    force = plan.forces[week]
    # per run: b_i = 1 + leader_removal_effect * L_i, theta' = theta (1 + delta z)
    boost = 1.0 + epoch.removal[:, None] * p[LEADER_REMOVAL_EFFECT][None, :]  # (n, runs)
    K = (epoch.inv_alliance[:, None, None] * boost[:, None, :]) * boost[None, :, :]
    K = K * (epoch.excess + 1.0)[:, :, None]
    K[np.arange(len(K)), np.arange(len(K))] = 0.0
    conflict = np.einsum("ijr,jr->ir", K, state)
    lethality = p[CONFLICT_LETHALITY] * (1.0 + p[DEPLOYMENT_DISRUPTION])
    N = state.sum(axis=0)
    share = np.divide(state, N, out=np.zeros_like(state), where=N > 0)
    incapacitated = p[INCAPACITATION] * (share if plan.fixed_count else state)
    g = plan.recruitment_multiplier[:, None]
    return np.stack(
        [
            p[RECRUITMENT_RATE] * g * state,
            incapacitated + p[STATE_ARREST_RATE] * force * state,
            p[STATE_KILL_RATE] * force * state,
            lethality * state * conflict,
            p[SATURATION] * state**2,
        ],
        axis=-1,
    )


def test_the_right_hand_side_computes_the_documented_flows(pc2023_dir):
    """flows.derivative, which every integrator and the stochastic mode evaluate: each
    group's flows, dC_i/dt = recruits - exits and the national flows (scaled by the stage
    weight) follow the formulas, with policy multipliers, forces, boosts, truces, epochs."""
    for plan, week in _rhs_cases(pc2023_dir):
        state, params = _rhs_inputs(plan)
        n, runs = state.shape
        expected = _flows_by_formula(plan, week, state, params)
        scale = expected.max(axis=(0, 1))  # per flow
        out, work = np.empty((n + len(FLOWS), runs)), np.empty((flows.WORK_ROWS, runs))
        by_group = np.empty((len(FLOWS), n, runs))
        arguments = _rhs_arguments(plan, week, params)
        flows.derivative(state, out, *arguments, work, 1.0, by_group)
        np.testing.assert_allclose(
            by_group, expected.transpose(2, 0, 1), rtol=1e-12, atol=1e-13 * scale.max()
        )
        net = expected[..., 0] - expected[..., 1:].sum(axis=-1)
        np.testing.assert_allclose(out[:n], net, rtol=1e-10, atol=1e-12 * scale.max())
        national = expected.sum(axis=0).T  # a truce's conflict deaths: 0 up to rounding
        np.testing.assert_allclose(out[n:], national, rtol=1e-12, atol=1e-13 * national.max())
        weighted = np.empty_like(out)
        flows.derivative(state, weighted, *arguments, work, 1 / 6, None)
        np.testing.assert_array_equal(weighted[:n], out[:n])
        np.testing.assert_allclose(weighted[n:], out[n:] / 6, rtol=1e-15, atol=0.0)
        assert by_group.min() >= 0.0 and not out[:, -1].any()  # the run with no members
