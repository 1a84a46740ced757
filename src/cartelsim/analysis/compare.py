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
    head = f"base: {result['base']}   horizon: {result['horizon']}   runs: {result['runs']}"
    if result.get("engine") == "agents":
        head += f" per form   engine: agents, scale {result['scale']:g}"
        head += f"   policy start: {result['start']}"
    lines = [
        head,
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
        if "group_killings_first_year" in p["change_vs_base_pct"]:
            lines.append(
                f"{'    of which by the groups: change %':<42} "
                f"{_pct(p['change_vs_base_pct']['group_killings_first_year']):>24}"
            )
        for model, change in p.get("change_vs_base_pct_by_model", {}).items():
            share = result.get("model_share_of_draws", {}).get(model)
            weight = result.get("model_weights", {}).get(model)
            label = f"  under {model}" + (f" ({share:.0%} of draws)" if share is not None else "")
            label += f" (weight {weight:.2f})" if weight is not None else ""
            lines.append(
                f"{label:<42} {'':>17} {_pct(change['members_total']):>24} {'':>10} "
                f"{_pct(change['deaths_per_week']):>24}   first year "
                f"{_pct(change['killings_first_year'])}"
                + (
                    f", by groups {_pct(change['group_killings_first_year'])}"
                    if "group_killings_first_year" in change
                    else ""
                )
            )
    if "forms" in result:
        lines.append(
            f"rows without 'under': averaged over the {result['forms']['hypothesis']} forms, "
            f"weights: {result['forms']['weights_from']}"
        )
        for form, spec in result["forms"]["forms"].items():
            lines.append(
                f"  {form}: {result['forms']['parameter']} {spec['value_from']}, "
                f"weight {spec['weight']:.2f}"
            )
    lines.append(f"90 % intervals span: {result['interval']}")
    if "seconds" in result:
        lines.append(f"{result['simulations']} agent runs in {result['seconds']:.1f} s")
    return "\n".join(lines)


def _pct(q: dict) -> str:
    return f"{q['median']:+.1f} [{q['q05']:+.1f}, {q['q95']:+.1f}]"


# --- the agent engine -----------------------------------------------------------------------

#: Runs per form and policy of `compare --engine agents` when --runs is not given: every run
#: is a whole agent simulation (about 1 s at scale 0.25, 3-4 s at 1:1 for mexico-2006-2012).
AGENT_RUNS = 8
#: The competing forms `--forms` can name: hypothesis -> the parameter its forms set.
FORM_PARAMETERS = {"militarization": "deployment_disruption"}


def compare_agents(
    base: Scenario | str | Path,
    policies: list[str],
    posterior: str | Path | None = None,
    runs: int | None = None,
    seed: int | tuple = 0,
    data_dir: str | Path | None = None,
    start: dt.date | None = None,
    scale: float | None = None,
    regions: str | None = None,
    forms: str | None = None,
    progress=None,
) -> dict:
    """`compare` with the agent engine: base and policy run with common random numbers (run
    i of each is seeded alike, so every mechanism's stream, agents/streams.py, is the same in
    both), and each policy's paired change over the runs. With competing forms (`forms`, or
    the scenario's [calibration.hypotheses.militarization]) every form runs (the same seeds
    again) and the result gives each form's intervals and the form-averaged ones: weights
    the posterior's form probabilities with `posterior`, else equal.

    A form that fixes deployment_disruption (suppression: 0) runs at that value; a form with
    a prior runs with, per run, a draw from the posterior's particles of that form when
    `posterior` is given, else at the scenario's own value when the prior allows it (mexico:
    the calibrated particle), else at the prior's median. Only that parameter varies: the
    agent engine's other parameters are the scenario's (its agent-only ones were fitted with
    them, docs/MODEL.md section 8)."""
    import time

    from cartelsim import runner

    clock = time.perf_counter()
    if not isinstance(base, Scenario):
        base = load_scenario(base)
    if not policies:
        raise ValueError("--policy: give at least one policy")
    first, end = base.simulation.start, base.simulation.end()
    if start is not None and not first <= start < end:
        raise ValueError(
            f"--start {start}: must be inside {base.name}.toml's simulation, {first} to {end}"
        )
    start = start or first
    seeds = tuple(seed) if isinstance(seed, tuple | list) else None
    n = len(seeds) if seeds is not None else (runs or AGENT_RUNS)
    chosen = agent_forms(base, forms, posterior, n, seed if seeds is None else seeds[0])
    scenarios = {"base": base} | {name: policy_scenario(base, name, start) for name in policies}
    simulations = n * len(chosen["forms"]) * len(scenarios)
    estimated = budget.check_agent_compare(base, n, simulations, scale, regions)
    outcomes = {name: {} for name in scenarios}  # name -> form -> outcome arrays
    for form, spec in chosen["forms"].items():
        for name, scenario in scenarios.items():
            per_run = []
            for i in range(n):
                variant = (
                    with_parameter(scenario, chosen["parameter"], spec["values"][i])
                    if chosen["parameter"] is not None
                    else scenario
                )
                results = runner.run(
                    variant, 1, seeds if seeds is not None else seed, data_dir, first_run=i,
                    engine="agents", scale=scale, regions=regions,
                )  # fmt: skip
                per_run.append(_agent_outcomes(results, start))
                if progress is not None:
                    progress(1)
            outcomes[name][form] = {k: np.array([o[k] for o in per_run]) for k in per_run[0]}
    labels = list(chosen["forms"])
    weights = np.concatenate([np.full(n, chosen["forms"][f]["weight"] / n) for f in labels])
    several = len(labels) > 1

    def joined(name):
        return {k: np.concatenate([outcomes[name][f][k] for f in labels]) for k in OUTCOMES}

    def summary(values):
        return quantiles(values, weights) if several else quantiles(values)

    reference = joined("base")
    result = {
        "base": base.name,
        "engine": "agents",
        "scale": scale if scale is not None else float(getattr(base.agents, "scale", 1.0)),
        "regions": regions,
        "horizon": _horizon(base).isoformat(),
        "start": start.isoformat(),
        "runs": n,
        "posterior": str(posterior) if posterior is not None else None,
        "interval": _agent_spans(n, chosen, posterior is not None),
        "deaths_per_week": f"member deaths per week, mean of the last {AGENT_DEATH_WEEKS} weeks",
        "policies": {},
        "base_outcome": {k: summary(v) for k, v in reference.items()},
    }
    if chosen["hypothesis"] is not None:
        result["forms"] = {
            "hypothesis": chosen["hypothesis"],
            "parameter": chosen["parameter"],
            "weights_from": chosen["weights_from"],
            "forms": {
                f: {
                    "weight": s["weight"],
                    "value": s["value"],
                    "value_from": s["value_from"],
                    "values": [float(v) for v in s["values"]],  # run by run
                }
                for f, s in chosen["forms"].items()
            },
        }
        result["model_weights"] = {f: s["weight"] for f, s in chosen["forms"].items()}
        result["base_outcome_by_model"] = {
            f: {k: quantiles(v) for k, v in outcomes["base"][f].items()} for f in labels
        }
    for name in policies:
        mine = joined(name)
        change = {k: _change_pct(mine[k], reference[k]) for k in reference}
        entry = {k: summary(v) for k, v in mine.items()}
        entry["change_vs_base_pct"] = {k: summary(v) for k, v in change.items()}
        if chosen["hypothesis"] is not None:
            entry["change_vs_base_pct_by_model"] = {
                f: {
                    k: quantiles(_change_pct(outcomes[name][f][k], outcomes["base"][f][k]))
                    for k in OUTCOMES
                }
                for f in labels
            }
        result["policies"][name] = entry
    result["simulations"] = simulations
    result["seconds"] = round(time.perf_counter() - clock, 1)
    result["estimated_seconds"] = round(estimated, 1)
    return result


#: The outcomes of a comparison, per run (see _outcomes).
OUTCOMES = (
    "members_total",
    "deaths_per_week",
    "killings_first_year",
    "group_killings_first_year",
)


def _change_pct(policy: np.ndarray, base: np.ndarray) -> np.ndarray:
    """100 (policy / base - 1) run by run; 0 where both are equal (0 included: a small run
    may count no deaths in a week of either), inf where only the base is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = 100.0 * (policy / base - 1.0)
    return np.where(policy == base, 0.0, change)


#: Member deaths per week at the horizon of an agent run: the mean of its last 13 weeks (one
#: week's count of a 0.25-scale run is a few dozen agents: noise, not the policy).
AGENT_DEATH_WEEKS = 13


def _agent_outcomes(results, start: dt.date) -> dict[str, float]:
    """One agent run's outcomes, as _outcomes computes them for the aggregate engine, except
    that member deaths per week are the mean of the last AGENT_DEATH_WEEKS weeks."""
    weekly = results.weekly
    first = max(results.plan.week_of(start), 0)
    return {
        "members_total": float(results.traj.members[-1].sum(axis=0)[0]),
        "deaths_per_week": float(weekly["member_deaths"][-AGENT_DEATH_WEEKS:, 0].mean()),
        "killings_first_year": float(
            weekly["killings"][first : first + SHORT_RUN_WEEKS].sum(axis=0)[0]
        ),
        # of which by the groups (the bodies found of the people they kill): where a
        # disruption shows; the rest are members killed by the state and forces killed
        "group_killings_first_year": float(
            weekly["group_killings"][first : first + SHORT_RUN_WEEKS].sum(axis=0)[0]
        ),
    }


def _agent_spans(n: int, chosen: dict, posterior: bool) -> str:
    """What an agent comparison's 90 % intervals span, in words."""
    text = (
        f"{n} agent runs per form and policy, paired with common random numbers (run i of "
        "the base and of each policy share every mechanism's random stream)"
    )
    if chosen["hypothesis"] is None:
        return text + " at the scenario's parameter values"
    parts = []
    for form, spec in chosen["forms"].items():
        parts.append(f"{form} ({chosen['parameter']} {spec['value_from']}, weight "
                     f"{spec['weight']:.2f})")  # fmt: skip
    return (
        f"{text}; the {chosen['hypothesis']} forms {', '.join(parts)}; form-averaged "
        f"intervals weight each form's runs by {chosen['weights_from']}"
    )


def with_parameter(scenario: Scenario, name: str, value: float) -> Scenario:
    """The scenario with parameters.`name` set to `value` (its source kept)."""
    param = getattr(scenario.parameters, name).model_copy(update={"value": float(value)})
    parameters = scenario.parameters.model_copy(update={name: param})
    return scenario.model_copy(update={"parameters": parameters})


def agent_forms(
    base: Scenario, forms: str | None, posterior: str | Path | None, n: int, seed: int
) -> dict:
    """The forms an agent comparison runs: {"hypothesis", "parameter", "weights_from",
    "forms": {form: {"weight", "value", "value_from", "values" (n,)}}}. Without `forms` and
    without the scenario's [calibration.hypotheses.militarization], one "form": the
    scenario as it is."""
    hypotheses = base.calibration.hypotheses if base.calibration is not None else {}
    if forms is None and "militarization" in hypotheses:
        forms = "militarization"
    if forms is None:
        if posterior is not None:
            raise ValueError(
                "--posterior: with --engine agents it gives the forms' weights and the "
                f"disruption draws, but {base.name} has no [calibration.hypotheses.militarization]"
            )
        return {
            "hypothesis": None, "parameter": None, "weights_from": None,
            "forms": {"scenario": {"weight": 1.0, "value": None, "value_from": "the scenario's",
                                   "values": [None] * n}},
        }  # fmt: skip
    if forms not in FORM_PARAMETERS:
        raise ValueError(f"--forms {forms}: known: {', '.join(FORM_PARAMETERS)}")
    if forms not in hypotheses:
        raise ValueError(
            f"--forms {forms}: {base.name} has no [calibration.hypotheses.{forms}] to say what "
            "its forms are"
        )
    parameter = FORM_PARAMETERS[forms]
    spec = hypotheses[forms]
    table = probabilities = None
    if posterior is not None:
        folder = Path(posterior)
        if not folder.is_dir():
            raise ValueError(f"--posterior {folder}: not a folder (give a calibrate --out folder)")
        from cartelsim.analysis.calibrate import form_probabilities

        table = read_posterior(folder / "posterior.parquet")
        probabilities = form_probabilities(table).get(forms)
        if not probabilities:
            raise ValueError(
                f"--posterior {folder}: its calibration did not weigh the {forms} forms "
                f"(no {forms}_form column)"
            )
    rng = np.random.default_rng(seed)
    chosen = {}
    for form, values in spec.items():
        if parameter not in values:
            raise ValueError(f"calibration.hypotheses.{forms}.{form}: does not set {parameter}")
        value = values[parameter]
        if not hasattr(value, "distribution"):  # a number fixes it
            entry = {"value": float(value), "value_from": f"= {float(value):g}",
                     "values": np.full(n, float(value))}  # fmt: skip
        elif table is not None and (table[f"{forms}_form"] == form).any():
            draws = _form_draws(table, forms, form, parameter, n, rng)
            entry = {"value": float(np.median(draws)),
                     "value_from": f"drawn from the posterior's {form} particles (median "
                                   f"{np.median(draws):.3g})",
                     "values": draws}  # fmt: skip
        else:
            own = float(getattr(base.parameters, parameter).value)
            low = value.low if value.low is not None else -np.inf
            high = value.high if value.high is not None else np.inf
            if own != 0 and low <= own <= high:
                entry = {"value": own, "value_from": f"= {own:.3g}, the scenario's own value",
                         "values": np.full(n, own)}  # fmt: skip
            else:
                median = prior_median(value)
                entry = {"value": median, "value_from": f"= {median:.3g}, the prior's median",
                         "values": np.full(n, median)}  # fmt: skip
        weight = (probabilities or {}).get(form, 0.0) if table is not None else 1.0 / len(spec)
        chosen[form] = {"weight": float(weight), **entry}
    total = sum(c["weight"] for c in chosen.values())
    for c in chosen.values():
        c["weight"] = c["weight"] / total if total > 0 else 1.0 / len(chosen)
    weights_from = (
        f"the posterior's form probabilities ({posterior})"
        if table is not None
        else "equal weights (no --posterior)"
    )
    return {"hypothesis": forms, "parameter": parameter, "weights_from": weights_from,
            "forms": chosen}  # fmt: skip


def _form_draws(table, hypothesis: str, form: str, parameter: str, n: int, rng) -> np.ndarray:
    """n draws of `parameter` from the posterior's particles of one form: a model of that
    form with its probability, then a particle by its weight within the model."""
    rows = table[table[f"{hypothesis}_form"] == form]
    key = "model" if "model" in rows.columns else "incapacitation_form"
    within = rows.weight / rows.groupby(key).weight.transform("sum")
    p = (rows.model_probability * within).to_numpy(float)
    pick = rng.choice(len(rows), size=n, p=p / p.sum())
    return rows[parameter].to_numpy(float)[pick]


def prior_median(prior) -> float:
    """The median of a scenario Prior."""
    if prior.distribution == "uniform":
        return 0.5 * (prior.low + prior.high)
    if prior.distribution == "log_uniform":
        return float(np.sqrt(prior.low * prior.high))
    from scipy import stats

    low = -np.inf if prior.low is None else (prior.low - prior.mean) / prior.sd
    high = np.inf if prior.high is None else (prior.high - prior.mean) / prior.sd
    return float(stats.truncnorm.median(low, high, loc=prior.mean, scale=prior.sd))
