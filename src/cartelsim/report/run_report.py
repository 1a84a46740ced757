"""The HTML report of a run: one self-contained file.

Why one file: a report is mailed, attached to an issue or opened years later from an archive,
often offline. The charts are Vega-Lite specs (report/charts.py) drawn by the Vega script
inlined once in the page, and the style is inline, so the file needs no network, no companion
folder and no server, and cannot break when a web font or a script host goes away. Every
number in it is computed from the Results object; nothing is typed in.

Sections, in order: provenance, what the model says (findings computed from the results,
each with its number, its interval and what it cannot say), members by group, weekly flows,
observed against simulated (monthly averages over each observation's months, misfits
flagged, sources deduplicated), the news reports' claims (Mexico scenarios only), the
scenario's inputs (events with their weights and what they change), how to reproduce.
Charts live in the report package only: the engine never imports them (STYLE.md 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cartelsim import datasets, rng
from cartelsim.analysis import claims
from cartelsim.report import agent_map, agent_mechanisms, charts, page
from cartelsim.results import Results, atomic_write
from cartelsim.scenario import builtin_names, load_scenario, with_mode

#: Quantiles of the ensemble shown as the band around the mean.
BAND = (0.05, 0.95)
#: With more groups than this (+1), the smaller ones are summed into "other groups".
TOP_GROUPS = 8
#: An observation is a misfit when it lies outside the simulated 5 %-95 % range widened by this
#: many times the series' stated relative error (the observation noise the fit allows).
MISFIT_ERRORS = 2.0
#: Titles and units of the observed series by name (for the built-in scenarios' series), then
#: by the model variable they are compared with.
SERIES_TITLES = {
    "oc_killings": (
        "Killings attributed to organized crime (government database)",
        "killings per month",
    ),
    "inegi_homicides": ("All intentional homicides (INEGI death records)", "homicides per month"),
    "homicides_and_missing": ("Homicides and missing persons", "people per month"),
}
SERIES_WORDS = {
    "killings": ("Killings attributed to organized crime", "killings per month"),
    "homicides": ("All intentional homicides", "homicides per month"),
    "members_total": ("Members of all groups", "members"),
    "incapacitated": ("Arrests and other incapacitations", "per month"),
}
MONTHS = [dt.date(2000, m, 1).strftime("%B") for m in range(1, 13)]
#: The news reports' fact file (DESIGN 3.3: the reports' own claims are targets too).
CLAIMS_FILE = "mexico_claims.csv"


def write_report(results: Results, path: str | Path) -> Path:
    """Write the HTML report of `results` to `path` (atomically) and return the path."""
    path = Path(path)
    text = _page(results, results.summary())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def _page(results: Results, summary: dict) -> str:
    rows = summary["observed_vs_simulated"]
    fits = _fit_rows(results, rows)
    sections = [
        _header(results, summary),
        _findings_section(results, fits),
        _members_section(results),
        _flows_section(results),
        _observed_section(results, fits),
        _claims_section(results),
        agent_map.section(results),  # agent engine only: map, ranking
        agent_mechanisms.section(results),  # agent engine only: one section per mechanism
        _inputs_section(results),
        _footer(results),
    ]
    title = f"cartelsim report: {results.plan.scenario.name}"
    return page.document(title, sections, charts.html_script())


def _chart(chart, key: str) -> str:
    return charts.html_div(chart, f"chart-{key}")


# --- 1. header ------------------------------------------------------------------------------


def _mode_text(results: Results) -> str:
    """What the runs differ by: the agent engine draws its own random events in every run."""
    if results.engine == "agents":
        return "stochastic: the agent engine draws each run's random events from its seed"
    mode = results.plan.scenario.simulation.mode
    if mode == "deterministic":
        return "deterministic: every run with the same parameters gives the same numbers"
    return "stochastic: each run draws its own random events from its seed"


def _header(results: Results, summary: dict) -> str:
    scenario, prov = results.plan.scenario, summary["provenance"]
    meta = [
        ("Dates", f"{summary['start']} to {summary['end']} ({results.plan.weeks} weeks)"),
        ("Runs", f"{results.runs} ({_mode_text(results)})"),
        ("Seed", rng.text(results.seed)),
        ("Engine", results.engine),
        ("cartelsim version", prov["cartelsim_version"]),
        ("Scenario sha256", prov["scenario_sha256"]),
    ]
    rows = "".join(
        f"<tr><td>{page.esc(k)}</td><td class='mono'>{page.esc(v)}</td></tr>" for k, v in meta
    )
    return (
        f"<h1>{page.esc(scenario.name)}</h1>\n"
        f'<p style="white-space: pre-line">{page.esc(scenario.description)}</p>\n'
        f'<table class="meta">{rows}</table>\n<p class="note">Charts: hover for values, drag or '
        "scroll on a chart to zoom in time (double-click resets), click a legend entry to hide "
        "or show its series; triangles at the top mark the scenario's events.</p>"
    )


# --- 2. findings ----------------------------------------------------------------------------


def _spread_of(results: Results) -> str:
    """What an interval spans, in words."""
    if results.runs == 1:
        return "one run, so no interval"
    if results.engine != "agents" and results.plan.scenario.simulation.mode == "deterministic":
        return f"{results.runs} deterministic runs"
    return f"{results.runs} stochastic runs"


def _with_interval(values: np.ndarray, results: Results, unit: str = "") -> str:
    """'12,345 killings (90 % of 50 stochastic runs: 11,000-13,500)'."""
    unit = f" {unit}" if unit else ""
    low, high = np.quantile(values, BAND)
    centre = _count(values.mean()) + unit
    if results.runs == 1 or np.isclose(low, high):
        return f"{centre} ({_spread_of(results)}: the runs do not differ, no interval)"
    return f"{centre} (90 % of {_spread_of(results)}: {_count(low)} to {_count(high)})"


def _no_interval_caveat(results: Results) -> str:
    values = results.weekly["killings"].sum(axis=0)
    if results.runs > 1 and not np.isclose(*np.quantile(values, BAND)):
        return (
            f"The interval spans the {_spread_of(results)} only: it leaves out the uncertainty "
            "of the parameters unless they were drawn from a posterior."
        )
    return (
        "These are single numbers, not estimates with an uncertainty: the runs do not differ. "
        "Run the stochastic mode or draw parameters from a calibration posterior for an interval."
    )


def _findings_section(results: Results, fits: list[dict]) -> str:
    """3-6 sentences, each computed from the results: what the model says, with its number
    and interval, and what it cannot say."""
    plan = results.plan
    found: list[tuple[str, str]] = []
    killings = results.weekly["killings"]  # (weeks, runs)
    start, end = plan.dates()[0], plan.dates()[-1]
    found.append(
        (
            f"From {start:%B %Y} to {end:%B %Y} the model gives "
            f"{_with_interval(killings.sum(axis=0), results, 'killings')} caused by the "
            "conflict between the groups and with the state.",
            _no_interval_caveat(results),
        )
    )
    yearly = _full_years(results, killings)
    if len(yearly) >= 2:
        means = {year: v.mean() for year, v in yearly.items()}
        peak, first = max(means, key=means.get), min(means)
        found.append(
            (
                f"Yearly killings peak in {peak} at {_with_interval(yearly[peak], results)}, "
                f"{means[peak] / max(means[first], 1e-9):.1f} times the {first} level "
                f"({_count(means[first])}).",
                "The timing of the peak follows the scenario's dated events (splits, leaders "
                "removed), which are inputs: the model does not predict when they happen.",
            )
        )
    members = results.traj.members  # (weeks + 1, groups, runs)
    total = members.sum(axis=1)
    biggest = int(np.argmax(members[-1].mean(axis=1)))
    found.append(
        (
            f"At the end ({end:%B %Y}) the groups have "
            f"{_with_interval(total[-1], results, 'members')} against {_count(total[0].mean())}"
            f" at the start; the largest is {plan.names[biggest]} with "
            f"{_count(members[-1, biggest].mean())}.",
            "Membership is not observed year by year: it is fitted to killings, and only a few "
            "news reports' counts check it (see the claims below).",
        )
    )
    if fits:
        outside = [f for f in fits if f["misfit"]]
        worst = max(fits, key=lambda f: abs(f["relative_error"]))
        text = (
            f"{len(fits) - len(outside)} of {len(fits)} observed values lie inside the model's "
            f"fit band; the largest miss is {_series_title(results, worst['series'])} in "
            f"{worst['year']} ({worst['relative_error']:+.0%})."
        )
        if outside:
            text += (
                " Outside: "
                + ", ".join(
                    f"{_series_title(results, f['series'])} {f['year']} "
                    f"({f['relative_error']:+.0%})"
                    for f in outside
                )
                + "."
            )
        found.append(
            (
                text,
                f"The band is the simulated 5 %-95 % range widened by {MISFIT_ERRORS:g} times "
                "each series' stated relative error; a fitted series agrees partly by "
                "construction, so only the unfitted ones test the model.",
            )
        )
    items = "".join(
        f"<li>{page.esc(says)}<br><span class='note'>What it cannot say: "
        f"{page.esc(cannot)}</span></li>"
        for says, cannot in found
    )
    return f"<h2>What the model says</h2>\n<ol class='findings'>{items}</ol>"


def _full_years(results: Results, weekly: np.ndarray) -> dict[int, np.ndarray]:
    """Per calendar year fully inside the run: the year's sum, per run."""
    starts = np.array(results.plan.dates()[:-1], dtype="datetime64[D]")
    years = starts.astype("datetime64[Y]").astype(int) + 1970
    out = {}
    for year in np.unique(years):
        mask = years == year
        if mask.sum() >= 52:
            out[int(year)] = weekly[mask].sum(axis=0)
    return out


# --- 3. members -----------------------------------------------------------------------------


def _band_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Mean over runs (last axis) and the 5 %-95 % band (None when the runs agree)."""
    mean = values.mean(axis=-1)
    if values.shape[-1] == 1:
        return mean, None, None
    low, high = np.quantile(values, BAND, axis=-1)
    if np.allclose(low, high):
        return mean, None, None
    return mean, low, high


def _events(results: Results) -> list[charts.Event]:
    plan = results.plan
    names = dict(zip(plan.shorts, plan.names, strict=True))
    first, last = plan.dates()[0], plan.dates()[-1]
    return [
        charts.Event(e.date, _event_text(e, names)[0])
        for e in plan.scenario.events
        if first <= e.date <= last
    ]


def _band_label(results: Results) -> str:
    return f"90 % of {_spread_of(results)}"


def _members_section(results: Results) -> str:
    plan, members = results.plan, results.traj.members  # (weeks + 1, groups, runs)
    dates = plan.dates()
    mean, low, high = _band_of(members.sum(axis=1))
    total = charts.TimeChart(
        "Members of all groups",
        "members",
        [charts.Line("all groups", dates, mean, low, high, color="#333333")],
        subtitle="members at the start of each week; mean of the runs" + _band_words(low),
        events=_events(results),
        band_label=_band_label(results),
    )
    lines = [
        charts.Line(name, dates, m, lo, hi) for name, (m, lo, hi) in _group_lines(plan, members)
    ]
    groups = charts.TimeChart(
        "Members by group",
        "members",
        lines,
        subtitle=f"the {min(TOP_GROUPS, len(plan.names))} largest groups at the end"
        + (", the others summed" if len(plan.names) > TOP_GROUPS + 1 else ""),
        events=_events(results),
        band_label=_band_label(results),
    )
    return "<h2>Members</h2>\n" + _chart(total, "members") + _chart(groups, "groups")


def _band_words(low) -> str:
    return "; shaded: 5 %-95 % of the runs" if low is not None else " (the runs agree: no band)"


def _group_lines(plan, members: np.ndarray) -> list[tuple[str, tuple]]:
    """The largest groups at the end (ensemble mean), then the rest summed as one line."""
    names = plan.names
    order = np.argsort(-members[-1].mean(axis=1), kind="stable")
    if len(names) <= TOP_GROUPS + 1:
        return [(names[i], _band_of(members[:, i])) for i in order]
    lines = [(names[i], _band_of(members[:, i])) for i in order[:TOP_GROUPS]]
    rest = order[TOP_GROUPS:]
    lines.append((f"other groups ({len(rest)})", _band_of(members[:, rest].sum(axis=1))))
    return lines


# --- 4. weekly flows ------------------------------------------------------------------------

#: National weekly variables of the flows charts: (variable, title, unit).
FLOW_PANELS = (
    ("member_deaths_by_rivals", "Members killed by other groups", "members killed per week"),
    ("member_deaths_by_state", "Members killed by state forces", "members killed per week"),
    ("recruits", "Recruits", "recruits per week"),
    ("incapacitated", "Arrests and other incapacitations", "members per week"),
)


def _flows_section(results: Results) -> str:
    plan, weekly = results.plan, results.weekly
    starts = plan.dates()[:-1]
    parts = ["<h2>Weekly flows</h2>"]
    for variable, title, unit in FLOW_PANELS:
        mean, low, high = _band_of(weekly[variable])
        chart = charts.TimeChart(
            title,
            unit,
            [charts.Line(title.split(" (")[0], starts, mean, low, high, color="#c0392b")],
            subtitle="national total during each week, dated at its start" + _band_words(low),
            events=_events(results),
            band_label=_band_label(results),
        )
        parts.append(_chart(chart, variable))
    return "\n".join(parts)


# --- 5. observed against simulated ----------------------------------------------------------


def _months(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first)


def _period_words(year: int, months: str) -> str:
    first, last = _months(months)
    n = last - first + 1
    if n == 12:
        return f"{year} (full year)"
    if n == 1:
        return f"{MONTHS[first - 1]} {year} (1 month)"
    return f"{year}, {MONTHS[first - 1]}-{MONTHS[last - 1]} ({n} months)"


def _series_info(results: Results, name: str):
    for series in results.plan.scenario.observation.series:
        if series.name == name:
            return series
    return None


def _series_words(results: Results, name: str) -> tuple[str, str]:
    """(title, unit of the monthly averages) of an observed series."""
    if name in SERIES_TITLES:
        return SERIES_TITLES[name]
    series = _series_info(results, name)
    title, unit = SERIES_WORDS.get(series.variable if series else "", ("", "per month"))
    return f"{name.replace('_', ' ').capitalize()}" + (f" ({title.lower()})" if title else ""), unit


def _series_title(results: Results, name: str) -> str:
    return _series_words(results, name)[0]


def _fit_rows(results: Results, rows: list[dict]) -> list[dict]:
    """The summary's rows with the fit band and a misfit flag: the observation lies outside
    the simulated 5 %-95 % range widened by MISFIT_ERRORS relative errors of the series."""
    out = []
    for r in rows:
        series = _series_info(results, r["series"])
        error = series.relative_error if series is not None else 0.0
        low = r.get("simulated_q05", r["simulated"]) * (1 - MISFIT_ERRORS * error)
        high = r.get("simulated_q95", r["simulated"]) * (1 + MISFIT_ERRORS * error)
        out.append(
            {**r, "band_low": low, "band_high": high, "misfit": not low <= r["observed"] <= high}
        )
    return out


def _observed_section(results: Results, fits: list[dict]) -> str:
    head = "<h2>Observed against simulated</h2>"
    if not fits:
        return f"{head}\n<p>This scenario compares no observed series with the model.</p>"
    parts = [
        head,
        "<p>Each bar is the model's monthly average over the months the observation covers "
        "(a partial year is drawn over its months only); the dot is the observation; the "
        f"bracket is the fit band (the simulated 5 %-95 % range widened by {MISFIT_ERRORS:g} "
        "times the series' stated relative error). A red diamond marks an observation outside "
        "the band.</p>",
    ]
    for name in dict.fromkeys(r["series"] for r in fits):
        parts.append(_chart(_periods(results, [r for r in fits if r["series"] == name]), name))
    parts += [_observed_table(results, fits), _sources(results, fits)]
    return "\n".join(parts)


def _periods(results: Results, rows: list[dict]):
    series = _series_info(results, rows[0]["series"])
    title, unit = _series_words(results, rows[0]["series"])
    periods = []
    for r in rows:
        first, last = _months(r["months"])
        n = last - first + 1
        begin = dt.date(r["year"], first, 1)
        end = dt.date(r["year"] + (last == 12), last % 12 + 1, 1)
        detail = (
            f"observed {_count(r['observed'])}, simulated {_count(r['simulated'])} in "
            f"{n} month(s); error {r['relative_error']:+.1%}"
        )
        periods.append(
            charts.Period(
                begin,
                end,
                _period_words(r["year"], r["months"]),
                r["observed"] / n,
                r["simulated"] / n,
                r["band_low"] / n,
                r["band_high"] / n,
                r["misfit"],
                detail,
            )
        )
    subtitle = f"series {rows[0]['series']}" + (
        f" (model variable {series.variable}); fitted: {'yes' if series.fit else 'no'}"
        if series
        else ""
    )
    return charts.periods_chart(title, unit, periods, _events(results), subtitle=subtitle)


def _observed_table(results: Results, fits: list[dict]) -> str:
    headers = ["series", "period", "observed", "simulated"]
    headers += ["simulated 5 %-95 %"] * (results.runs > 1)
    headers += ["relative error", "fit band", "outside the band", "fitted"]
    body, flagged = [], []
    for r in fits:
        cells = [r["series"], _period_words(r["year"], r["months"])]
        cells += [_count(r["observed"]), _count(r["simulated"])]
        if results.runs > 1:
            cells.append(f"{_count(r['simulated_q05'])} - {_count(r['simulated_q95'])}")
        cells.append(f"{r['relative_error']:+.1%}")
        cells.append(f"{_count(r['band_low'])} - {_count(r['band_high'])}")
        cells += ["MISFIT" if r["misfit"] else "", "yes" if r["fit"] else "no"]
        body.append(cells)
        flagged.append(r["misfit"])
    return page.table(headers, body, flagged, flag_class="misfit")


def _sources(results: Results, fits: list[dict]) -> str:
    """Each observed series' sources, deduplicated, with the years of this run each supports;
    primary publications first, news and web pages marked secondary."""
    parts = ["<h3>Sources of the observed series</h3>"]
    for name in dict.fromkeys(r["series"] for r in fits):
        supported: dict[str, list[int]] = {}
        for r in (r for r in fits if r["series"] == name):
            for source in page.split_sources(r["source"]):
                supported.setdefault(source, []).append(r["year"])
        parts.append(f"<p><b>{page.esc(_series_title(results, name))}</b> ({page.esc(name)})</p>")
        parts.append(page.references_html(page.reference_list(supported)))
    return "\n".join(parts)


# --- 5. claims in the news reports ----------------------------------------------------------


@dataclass(frozen=True)
class _ClaimCheck:
    """How the model measures one claim: `measure` gives per-run values, or None when the
    run cannot speak to it (dates outside the simulation, groups absent)."""

    what: Callable[[dt.date], str]
    measure: Callable[[Results, dt.date], np.ndarray | None]


def _members_at(results: Results, day: dt.date) -> np.ndarray | None:
    return claims.members_at(results.plan, results.traj.members, day)


def _killings_between(results: Results, first: dt.date, end: dt.date) -> np.ndarray | None:
    return claims.between(results.plan, results.weekly["killings"], first, end)


def _killings_year_before(results: Results, day: dt.date) -> np.ndarray | None:
    """The 12 calendar months before the claim's month."""
    end = day.replace(day=1)
    return _killings_between(results, end.replace(year=end.year - 1), end)


#: The claims the report checks, by the `claim` column of the fact file.
CLAIM_CHECKS = {
    "foot_soldiers_sinaloa_gulf_zetas": _ClaimCheck(
        lambda d: f"members of {' + '.join(claims.CLAIM_GROUPS)} on {d}", _members_at
    ),
    "deaths_past_year": _ClaimCheck(
        lambda d: f"killings in the 12 months before {d:%B %Y}", _killings_year_before
    ),
    "deaths_january_2009": _ClaimCheck(
        lambda d: "killings in January 2009",
        lambda r, d: _killings_between(r, dt.date(2009, 1, 1), dt.date(2009, 2, 1)),
    ),
}


def _claims_section(results: Results) -> str:
    """Empty when the fact file is missing or no claim falls inside this run."""
    checked = [cells for row in _claim_rows() if (cells := _check_claim(results, row))]
    if not checked:
        return ""
    headers = ["claim", "date", "claimed", "model", "model / claim", "verdict", "source"]
    return (
        "<h2>Claims in the news reports</h2>\n<p>Each claim is set against the same quantity "
        "in the model. The model supports a claim when its 5 %-95 % range lies on the claimed "
        f"side (for 'about', within {claims.APPROX_TOLERANCE:.0%} of the claim); it partly "
        "supports it when only part of that range does.</p>\n" + page.table(headers, checked)
    )


def _claim_rows() -> list[dict[str, str]]:
    """The fact file's rows; none if it is missing or being written (no header yet)."""
    try:
        rows = datasets.fact_rows(CLAIMS_FILE)
    except (OSError, UnicodeDecodeError):  # missing (FileNotFoundError) or half-written
        return []
    return [r for r in rows if r.get("claim") in CLAIM_CHECKS]


def _check_claim(results: Results, row: dict[str, str]) -> list[str] | None:
    check = CLAIM_CHECKS[row["claim"]]
    try:
        day, value = _parse_date(row["date"]), float(row["value"])
    except (KeyError, TypeError, ValueError):
        return None
    model = check.measure(results, day)
    if model is None or value <= 0:
        return None
    kind = claims.kind_of(row.get("comparison") or "")
    claimed = f"{KIND_WORDS[kind]} {_count(value)} {row.get('unit') or ''}".strip()
    verdict = _verdict(check.what(day), kind, claimed, value, model)
    ratio = f"{model.mean() / value:.2f}"
    return [
        row["claim"],
        row["date"],
        claimed,
        _spread(model),
        ratio,
        verdict,
        row.get("source", ""),
    ]


def _parse_date(text: str) -> dt.date:
    """YYYY-MM-DD, YYYY-MM (first of the month) or YYYY (1 January)."""
    parts = [int(p) for p in text.strip().split("-")]
    return dt.date(*(parts + [1] * (3 - len(parts))))


#: How each kind of comparison reads in a sentence.
KIND_WORDS = {"above": "more than", "below": "fewer than", "about": "about"}


def _verdict(what: str, kind: str, claimed: str, value: float, model: np.ndarray) -> str:
    """One sentence: does the model's 5 %-95 % range support the claim, and by what factor
    does its mean differ?"""
    low, high = np.quantile(model, BAND)
    return (
        f"The model {_support(kind, low, high, value)} the claim ({claimed}): it gives "
        f"{_spread(model)} for {what}, {_factor(model.mean() / value)}."
    )


def _support(kind: str, low: float, high: float, value: float) -> str:
    """'supports' when the whole range agrees, 'partly supports' when part of it does."""
    if kind == "about":
        near = high >= value * (1 - claims.APPROX_TOLERANCE) and low <= value * (
            1 + claims.APPROX_TOLERANCE
        )
        return "supports" if near else "does not support"
    inside = (low > value, high > value) if kind == "above" else (high < value, low < value)
    return "supports" if inside[0] else "partly supports" if inside[1] else "does not support"


def _factor(ratio: float) -> str:
    """'14 % below the claim (a factor of 1.16)'."""
    if ratio <= 0:  # the model has none of what the claim counts (e.g. a tiny test world)
        return "none, where the claim says some"
    side = "above" if ratio >= 1 else "below"
    return f"{abs(ratio - 1):.0%} {side} the claim (a factor of {max(ratio, 1 / ratio):.2f})"


# --- 6. inputs ------------------------------------------------------------------------------


def _inputs_section(results: Results) -> str:
    scenario = results.plan.scenario
    parts = [
        "<h2>Inputs</h2>\n<p>Rows marked <span class='flag'>assumption</span> hold values nobody "
        "measured.</p>",
        "<h3>Parameters</h3>",
        _param_table(scenario.parameters),
        "<h3>Observation</h3>",
        _param_table(scenario.observation, ("cartel_share", "other_homicides_per_year")),
        _series_table(scenario.observation.series),
        "<h3>Groups</h3>",
        _groups_table(results),
        "<h3>Deployments</h3>",
        _deployments_table(scenario.deployments),
        "<h3>Events</h3>",
        _events_table(results),
    ]
    if scenario.policies:
        parts += ["<h3>Policies</h3>", _policies_table(scenario.policies)]
    return "\n".join(parts)


def _param_table(model, names: tuple[str, ...] | None = None) -> str:
    """One row per parameter: value, unit, source, and a visible flag for assumptions."""
    rows, flagged = [], []
    for name in names or type(model).model_fields:
        param = getattr(model, name)
        if param is None or isinstance(param, str):
            rows.append([name, "not set" if param is None else param, "", "", ""])
            flagged.append(False)
            continue
        flag = "assumption" if param.assumption else ""
        rows.append([name, f"{param.value:.6g}", param.unit, param.source, flag])
        flagged.append(param.assumption)
    return page.table(["parameter", "value", "unit", "source", ""], rows, flagged)


def _series_table(series: list) -> str:
    if not series:
        return ""
    headers = ["observed series", "model variable", "data", "relative error", "fitted"]
    rows = [
        [s.name, s.variable, s.data, f"{s.relative_error:g}", "yes" if s.fit else "no"]
        for s in series
    ]
    return page.table(headers, rows)


def _groups_table(results: Results) -> str:
    plan, scenario = results.plan, results.plan.scenario
    headers = ["name", "short", "initial members", "source", ""]
    if scenario.groups:
        rows = [
            [
                g.name,
                g.short,
                _count(g.initial_members),
                g.source,
                "assumption" if g.assumption else "",
            ]
            for g in scenario.groups
        ]
        return page.table(headers, rows, [g.assumption for g in scenario.groups])
    source = _dataset_group_source(results)
    members = zip(plan.names, plan.shorts, plan.initial, strict=True)
    rows = [[name, short, _count(c), source, ""] for name, short, c in members]
    return page.table(headers, rows)


def _dataset_group_source(results: Results) -> str:
    scenario = results.plan.scenario
    base = scenario.simulation.start_from
    if base is not None:
        return f"dataset {scenario.network.dataset}; members: final state of {base} (run 1)"
    return f"dataset {scenario.network.dataset}; members: initial_members_total split by rank"


def _deployments_table(deployments: list) -> str:
    rows = [
        [str(d.date), _count(d.troops), _count(d.federal_police), d.source] for d in deployments
    ]
    return page.table(["date", "troops", "federal police", "source"], rows)


def _events_table(results: Results) -> str:
    plan = results.plan
    names = dict(zip(plan.shorts, plan.names, strict=True))
    rows = []
    for e in plan.scenario.events:
        what, changed = _event_text(e, names)
        rows.append([str(e.date), what, changed, e.source])
    return page.table(["date", "event", "what changed in the model", "source"], rows)


def _event_text(e, names: dict[str, str]) -> tuple[str, str]:
    """(what happened, in words with full group names; what the model changes, with weights)."""

    def name(short: str) -> str:
        return names.get(short, short)

    if e.type == "split":
        return (
            f"{name(e.new_group)} splits from {name(e.group)}",
            f"{e.fraction:.0%} of {name(e.group)}'s members form {name(e.new_group)}; rivalry "
            f"between them, weight {e.rivalry_weight:g}",
        )
    if e.type == "leader_removed":
        return (
            f"leader of {name(e.group)} removed",
            f"{name(e.group)}'s violence +{e.violence_boost:.1%} for {e.duration_weeks} weeks",
        )
    if e.type in ("alliance", "rivalry"):
        a, b = (name(g) for g in e.groups)
        if e.weight == 0:
            return f"{e.type} of {a} and {b} ends", f"{e.type} weight set to 0 (tie removed)"
        return f"{e.type}: {a} and {b}", f"{e.type} weight set to {e.weight:g}"
    if e.type == "truce":
        a, b = (name(g) for g in e.groups)
        until = f" until {e.end}" if e.end else " for good"
        return f"truce between {a} and {b}", f"they stop fighting each other{until}"
    if e.type == "merge":
        a, b = (name(g) for g in e.groups)
        return f"{b} merges into {a}", f"{b}'s members join {a}; their rivalry ends"
    if e.type == "new_group":
        return f"{name(e.group)} appears", f"starts with {_count(e.members)} members"
    return e.type, ""


def _policies_table(policies: list) -> str:
    rows = []
    for p in policies:
        change = f"x {p.multiply:g}" if p.multiply is not None else f"= {p.set:g}"
        rows.append([str(p.date), p.parameter, change, p.note])
    return page.table(["date", "parameter", "change", "note"], rows)


# --- 7. footer ------------------------------------------------------------------------------


def _command(results: Results) -> str:
    """The command line that computes this result again: the runs and seed (or the seed
    list), the mode when it is not the built-in scenario's, the engine when not the default."""
    scenario = results.plan.scenario
    words = ["cartelsim", "run", scenario.name]
    if not isinstance(results.seed, tuple):
        words += ["--runs", str(results.runs)]
    words.append(rng.option(results.seed))
    mode = scenario.simulation.mode
    if scenario.name in builtin_names() and load_scenario(scenario.name).simulation.mode != mode:
        words += ["--mode", mode]
    if results.engine != "aggregate":
        words += ["--engine", results.engine]
        options = results.summary().get("engine_options", {})
        if options.get("scale") not in (None, 1, 1.0):
            words += ["--scale", f"{options['scale']:g}"]
        if options.get("regions") not in (None, "states"):
            words += ["--regions", str(options["regions"])]
    return " ".join(words)


def _footer(results: Results) -> str:
    scenario = results.plan.scenario
    command = _command(results)
    text = f"<h2>How to reproduce</h2>\n<pre><code>{page.esc(command)}</code></pre>"
    # load_scenario keeps each built-in once per process, so this reads no file again.
    builtin = scenario.name in builtin_names()
    if builtin and with_mode(load_scenario(scenario.name), scenario.simulation.mode) != scenario:
        text += (
            f"<p>This run used a changed copy of the built-in scenario {page.esc(scenario.name)}: "
            "save it as a TOML file (with <code>extends</code>) and run that file instead. "
            "The scenario sha256 above identifies the exact scenario.</p>"
        )
    return text + "\n<p class='note'>Written by cartelsim's report module.</p>"


# --- figure and table helpers ---------------------------------------------------------------


def _spread(values: np.ndarray) -> str:
    """Mean, and the 5 %-95 % range when the runs differ."""
    low, high = np.quantile(values, BAND)
    text = _count(values.mean())
    return text if np.isclose(low, high) else f"{text} (90 %: {_count(low)} - {_count(high)})"


def _count(x: float) -> str:
    return f"{x:,.0f}"


def _short_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
