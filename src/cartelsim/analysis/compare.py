"""Policy comparison: does a policy's effect survive the parameter uncertainty?

Every policy variant runs over the same parameter draws (posterior draws from a calibration,
or the scenario's fixed values) with the same seed as the base, so each draw gives a paired
difference; the 90 % interval of those differences is the answer to "how sure are we that
this policy lowers violence?".

A policy is a built-in lever (policies.toml: halve-recruitment, double-incapacitation,
both together, troop-surge, intel-sharing, `merger:A+B`, `truce:A+B`) applied from the
comparison date, or any scenario (built-in name or TOML path) that `extends` the base.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tomllib
from pathlib import Path

import numpy as np

from cartelsim import budget
from cartelsim.analysis import draws
from cartelsim.analysis.calibrate import posterior_sample_models, quantiles, read_posterior
from cartelsim.datasets import PACKAGE_DATA
from cartelsim.scenario import (
    MergeEvent,
    Policy,
    Scenario,
    ScenarioError,
    TruceEvent,
    builtin_names,
    load_scenario,
    read_source,
    start_from_chain,
    validate,
    with_mode,
)

#: Runs used when no posterior is given and the scenario is deterministic: one is exact.
DEFAULT_RUNS = 200


def builtin_policies() -> dict[str, dict]:
    text = (PACKAGE_DATA / "policies.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def policy_scenario(base: Scenario, name: str, start: dt.date) -> Scenario:
    """The base scenario with policy `name` applied from `start`."""
    kind, _, pair = name.partition(":")
    if kind in ("merger", "truce") and pair:
        groups = tuple(g.strip() for g in pair.split("+"))
        if len(groups) != 2:
            raise ValueError(f"--policy {name}: give two groups, e.g. {kind}:SIN+ZET")
        event_type = MergeEvent if kind == "merger" else TruceEvent
        event = event_type(type=kind.replace("merger", "merge"), date=start, groups=groups)
        events = sorted([*base.events, event], key=lambda e: e.date)  # stable: ties keep order
        return _revalidate(base, {"events": events}, name)
    builtin = builtin_policies()
    if name in builtin:
        new = [Policy(date=start, **change) for change in builtin[name]["changes"]]
        return _revalidate(base, {"policies": [*base.policies, *new]}, name)
    known = f"built-in policies: {', '.join(builtin)}, merger:A+B, truce:A+B"
    if name not in builtin_names() and not Path(name).is_file():
        close = difflib.get_close_matches(name, list(builtin), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"--policy {name}: unknown policy; {hint}{known}; or a TOML scenario "
                         f"that extends {base.name}")  # fmt: skip
    variant = load_scenario(name)
    if base.name not in _ancestors(name):
        raise ValueError(
            f"--policy {name}: neither a built-in policy ({', '.join(builtin)}, merger:A+B, "
            f"truce:A+B) nor a scenario that extends {base.name}"
        )
    return variant


def _ancestors(name_or_path: str) -> list[str]:
    """Names of the scenarios a scenario extends, nearest first."""
    found = []
    location = name_or_path
    while True:
        text, _, folder = read_source(location)
        parent = tomllib.loads(text).get("extends")
        if not isinstance(parent, str) or parent in found:
            return found
        local = folder / parent if folder is not None else None
        location = str(local) if local is not None and local.exists() else parent
        found.append(load_scenario(location).name)


def _revalidate(base: Scenario, update: dict, label: str) -> Scenario:
    """Apply a change and re-run the scenario's checks (unknown groups, dates)."""
    document = base.model_dump(mode="python")
    document.update({k: [v.model_dump(mode="python") for v in vs] for k, vs in update.items()})
    document["name"] = f"{base.name}+{label}"
    try:
        return validate(document, f"--policy {label}")
    except ScenarioError as exc:
        raise ValueError(str(exc)) from None


def posterior_draws(folder: str | Path, runs: int, seed: int) -> list[tuple[str, str, dict]]:
    """`runs` draws from a calibration folder's model-averaged posterior, grouped by model:
    [(model label, incapacitation form, values)]."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--posterior {folder}: not a folder (give a calibrate --out folder)")
    table = read_posterior(folder / "posterior.parquet")  # checksums and ranges
    return posterior_sample_models(table, runs, seed)


def compare(
    base: Scenario | str | Path,
    policies: list[str],
    posterior: str | Path | None = None,
    runs: int | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
    start: dt.date | None = None,
    mode: str | None = None,
) -> dict:
    """Members and deaths per week at the horizon under the base and every policy, and each
    policy's paired change against the base (median and 90 % interval over the draws).

    `mode` overrides simulation.mode of the base and of every policy scenario. The result's
    `interval` says what the intervals span: posterior draws, stochastic runs, both, or
    nothing (one deterministic run: the interval is a point). Several deterministic runs
    without a posterior would all be the same, so they are refused."""
    if not isinstance(base, Scenario):
        base = load_scenario(base)
    base = with_mode(base, mode)
    if not policies:
        raise ValueError("--policy: give at least one policy")
    label = f"{base.name}.toml"
    first, end = base.simulation.start, base.simulation.end()
    if start is not None and not first <= start < end:
        raise ValueError(f"--start {start}: must be inside {label}'s simulation, {first} to {end}")
    start = start or first
    bases = start_from_chain(base)
    n = runs or (
        DEFAULT_RUNS if posterior is not None or base.simulation.mode != "deterministic" else 1
    )
    budget.draws_estimate(base, bases[0] if bases else None).check(n, "--runs")
    stochastic = base.simulation.mode == "stochastic"
    if posterior is None and not stochastic and n > 1:
        raise ValueError(
            f"--runs {n}: {base.name} is deterministic and no --posterior is given, so the {n} "
            "runs would all be the same; add --mode stochastic or --posterior DIR"
        )
    if posterior is not None:
        sample = posterior_draws(posterior, runs or DEFAULT_RUNS, seed)
    else:
        n = runs or (1 if base.simulation.mode == "deterministic" else DEFAULT_RUNS)
        share = {"cartel_share": np.full(n, base.observation.cartel_share.value)}
        sample = [("scenario values", None, share)]
    outcomes = {"base": _outcomes(base, sample, seed, data_dir, start)}
    for name in policies:
        scenario = with_mode(policy_scenario(base, name, start), mode)
        start_from_chain(scenario)
        outcomes[name] = _outcomes(scenario, sample, seed, data_dir, start)
    models = np.concatenate([[m] * len(next(iter(v.values()))) for m, _, v in sample])
    result = {
        "base": base.name,
        "horizon": _horizon(base).isoformat(),
        "runs": len(outcomes["base"]["members_total"]),
        "posterior": str(posterior) if posterior is not None else None,
        "interval": _spans(
            posterior is not None, stochastic, len(outcomes["base"]["members_total"])
        ),
        "policies": {},
    }
    reference = outcomes["base"]
    result["base_outcome"] = {k: quantiles(v) for k, v in reference.items()}
    for name in policies:
        mine = outcomes[name]
        change = {k: 100.0 * (mine[k] / reference[k] - 1.0) for k in reference}
        result["policies"][name] = {
            **{k: quantiles(v) for k, v in mine.items()},
            "change_vs_base_pct": {k: quantiles(v) for k, v in change.items()},
        }
        if len(set(models)) > 1 or posterior is not None:
            result["policies"][name]["change_vs_base_pct_by_model"] = {
                str(m): {k: quantiles(v[models == m]) for k, v in change.items()}
                for m in dict.fromkeys(models)
            }
    if posterior is not None:
        result["model_share_of_draws"] = {
            str(m): float(np.mean(models == m)) for m in dict.fromkeys(models)
        }
    return result


def _spans(posterior: bool, stochastic: bool, runs: int) -> str:
    """What a 90 % interval of the result spans, in words."""
    if posterior and stochastic:
        return f"{runs} posterior draws, each with its own stochastic run"
    if posterior:
        return f"{runs} posterior draws (deterministic runs)"
    if stochastic:
        return f"{runs} stochastic runs at the scenario's parameter values"
    return "nothing: one deterministic run at the scenario's parameter values (no uncertainty)"


#: Weeks after the policy's start over which the short-run killings are summed.
SHORT_RUN_WEEKS = 52


def _outcomes(scenario, sample, seed, data_dir, start: dt.date) -> dict[str, np.ndarray]:
    """Per draw: members and members killed per week at the horizon, and the organized-
    crime killings of the SHORT_RUN_WEEKS after `start` (where a policy's disruption, if
    any, shows). Models are joined in the sample's order, so the base and every policy
    pair up draw by draw."""
    members, deaths, short = [], [], []
    for _, form, values in sample:
        plan, traj = draws.simulate_draws(scenario, values, seed, data_dir, form, "national")
        weekly = draws.observables(plan, traj, values)
        members.append(traj.members[-1].sum(axis=0))
        deaths.append(weekly["member_deaths"][-1])
        first = max(plan.week_of(start), 0)
        short.append(weekly["killings"][first : first + SHORT_RUN_WEEKS].sum(axis=0))
    return {
        "members_total": np.concatenate(members),
        "deaths_per_week": np.concatenate(deaths),
        "killings_first_year": np.concatenate(short),
    }


def _horizon(scenario: Scenario) -> dt.date:
    from cartelsim.plan import date_of, decimal_year

    start = decimal_year(scenario.simulation.start)
    return date_of(start + scenario.simulation.weeks / 52.0)


def table(result: dict) -> str:
    """The comparison as a plain-text table."""
    lines = [
        f"base: {result['base']}   horizon: {result['horizon']}   runs: {result['runs']}",
        f"{'policy':<42} {'members (median)':>17} {'change % [90 %]':>24} "
        f"{'deaths/wk':>10} {'change % [90 %]':>24}",
    ]
    base = result["base_outcome"]
    lines.append(
        f"{'(base)':<42} {base['members_total']['median']:>17,.0f} {'':>24} "
        f"{base['deaths_per_week']['median']:>10,.1f}"
    )
    for name, p in result["policies"].items():
        cm, cd = (
            p["change_vs_base_pct"]["members_total"],
            p["change_vs_base_pct"]["deaths_per_week"],
        )
        lines.append(
            f"{name:<42} {p['members_total']['median']:>17,.0f} {_pct(cm):>24} "
            f"{p['deaths_per_week']['median']:>10,.1f} {_pct(cd):>24}"
        )
        lines.append(
            f"{'  killings in its first year: change %':<42} "
            f"{_pct(p['change_vs_base_pct']['killings_first_year']):>24}"
        )
        for model, change in p.get("change_vs_base_pct_by_model", {}).items():
            share = result.get("model_share_of_draws", {}).get(model)
            label = f"  under {model}" + (f" ({share:.0%} of draws)" if share is not None else "")
            lines.append(
                f"{label:<42} {'':>17} {_pct(change['members_total']):>24} {'':>10} "
                f"{_pct(change['deaths_per_week']):>24}   first year "
                f"{_pct(change['killings_first_year'])}"
            )
    lines.append(f"90 % intervals span: {result['interval']}")
    return "\n".join(lines)


def _pct(q: dict) -> str:
    return f"{q['median']:+.1f} [{q['q05']:+.1f}, {q['q95']:+.1f}]"
