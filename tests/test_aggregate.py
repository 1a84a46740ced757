"""The aggregate engine: flows balance, stocks stay non-negative, events act as documented."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small_document
from scipy.integrate import solve_ivp

from cartelsim import datasets
from cartelsim.aggregate import FLOWS, simulate
from cartelsim.plan import make_plan
from cartelsim.runner import run
from cartelsim.scenario import load_scenario, merge, validate


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


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_flows_balance_and_stocks_stay_non_negative(mode, pc2023_dir):
    """start + recruits - deaths - incapacitated - saturation = end, in both modes."""
    for name in ("pc2023", "mexico-2006-2012"):
        scenario = _with(load_scenario(name), mode=mode)
        traj = simulate(make_plan(scenario, data_dir=pc2023_dir), runs=3, seed=5)
        assert _balance_gap(traj) < 1e-9
        assert traj.members.min() >= 0.0
        assert traj.flows.min() >= 0.0


def test_same_seed_same_results_whatever_the_ensemble_size():
    """Run r depends on (seed, r) only: not on how many runs are simulated with it."""
    plan = make_plan(_with(load_scenario("mexico-2006-2012"), mode="stochastic"))
    few = simulate(plan, runs=3, seed=11)
    many = simulate(plan, runs=70, seed=11)  # crosses a block boundary
    again = simulate(plan, runs=3, seed=11)
    other = simulate(plan, runs=3, seed=12)
    np.testing.assert_array_equal(few.members, many.members[:, :, :3])
    np.testing.assert_array_equal(few.members, again.members)
    assert not np.array_equal(few.members, other.members)
    assert len({tuple(many.members[-1, :, r]) for r in range(70)}) == 70


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


def test_rk4_agrees_with_lsoda_on_pc2023(pc2023_dir):
    """The default integrator follows the ODE of DESIGN 3.1 (checked against LSODA)."""
    plan = make_plan(load_scenario("pc2023"), data_dir=pc2023_dir)
    net = datasets.load_pc2023_network(datasets.fetch_pc2023(pc2023_dir))
    alliance = net.alliance.sum(axis=1)
    K = (net.rivalry + 1) / (alliance[:, None] + 1)
    np.fill_diagonal(K, 0.0)
    rho, eta, theta, omega = 2.527474e-3, 110, 1.549231e-8, 4.0e-8

    def rhs(t, C):
        return rho * C - eta * C / C.sum() - theta * C * (K @ C) - omega * C * C

    ref = solve_ivp(
        rhs, (0, 520), plan.initial, method="LSODA", rtol=1e-10, atol=1e-8, t_eval=[0, 260, 520]
    )
    traj = simulate(plan)
    np.testing.assert_allclose(traj.members[[0, 260, 520], :, 0].T, ref.y, rtol=1e-6)


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
    assert halve.weekly["deaths"][-1, 0] < double.weekly["deaths"][-1, 0]
