"""Reliability 5: run-time invariants (finite, non-negative stocks and flows, balanced flows)
hold on every built-in scenario and stop a broken run with the week, date, group and run."""

from __future__ import annotations

import dataclasses

import pytest

from cartelsim.cli import main
from cartelsim.invariants import InvariantError, check
from cartelsim.runner import run
from cartelsim.scenario import builtin_names, load_scenario, validate


def _variant(name: str, **simulation) -> object:
    document = load_scenario(name).model_dump(mode="json")
    document["simulation"].update(simulation)
    return validate(document, f"{name}.toml")


@pytest.mark.parametrize("mode", ["deterministic", "stochastic"])
def test_builtin_scenarios_keep_the_invariants(mode, pc2023_dir):
    """Every built-in scenario, in both modes, passes the checks (runner.run applies them)."""
    for name in builtin_names():
        results = run(_variant(name, mode=mode), runs=2, seed=1, data_dir=pc2023_dir)
        check(results.plan, results.traj)


@pytest.mark.parametrize("integrator", ["rk4", "euler", "dopri5"])
def test_every_integrator_keeps_the_invariants(integrator):
    """The balance holds to rounding for each deterministic integrator."""
    results = run(_variant("mexico-2006-2012", integrator=integrator), runs=2)
    check(results.plan, results.traj)


@pytest.fixture(scope="module")
def mexico():
    return run(_variant("mexico-2006-2012", mode="stochastic"), runs=3, seed=2)


def _broken(results, members=None, flows=None):
    traj = dataclasses.replace(
        results.traj,
        members=results.traj.members.copy() if members is None else members,
        flows=results.traj.flows.copy() if flows is None else flows,
    )
    return traj


def test_negative_stock_names_week_date_group_and_run(mexico):
    """A negative member count is reported where it is; first_run numbers the run."""
    members = mexico.traj.members.copy()
    group = mexico.plan.shorts.index("ZET")
    members[200, group, 1] = -5.0
    with pytest.raises(InvariantError) as info:
        check(mexico.plan, _broken(mexico, members=members), first_run=40)
    date = mexico.plan.dates()[200].isoformat()
    assert str(info.value).startswith(
        f"mexico-2006-2012.toml: (invariant): members of group 'ZET' are negative (-5) at "
        f"week 200 ({date}), run 41;"
    )


def test_unbalanced_flows_are_a_model_bug(mexico):
    """Recruits that do not show up in the stock break the balance of that week."""
    flows = mexico.traj.flows.copy()
    flows[150, 0, 2] += 3.0
    with pytest.raises(InvariantError, match=r"do not balance during week 150 \(.*\), run 2"):
        check(mexico.plan, _broken(mexico, flows=flows))
    flows = mexico.traj.flows.copy()
    flows[10, 3, 0] = float("nan")
    with pytest.raises(InvariantError, match=r"national conflict_deaths is nan during week 10"):
        check(mexico.plan, _broken(mexico, flows=flows))


def test_unstable_euler_step_stops_the_run_on_the_command_line(tmp_path, capsys):
    """Euler steps with an exit rate above 1 per week drive stocks negative: the run stops
    with one line instead of writing negative members."""
    scenario = tmp_path / "unstable.toml"
    scenario.write_text(
        'extends = "mexico-2006-2012"\nname = "unstable"\n[simulation]\nintegrator = "euler"\n'
        '[parameters]\nincapacitation_form = "per_member"\nincapacitation = 1.5\n',
        encoding="utf-8",
    )
    assert main(["run", str(scenario), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("cartelsim: unstable.toml: (invariant): members of group 'SIN' are ")
    assert "week 1 (2006-12-08), run 0" in err
    assert not (tmp_path / "o" / "results.parquet").exists()
