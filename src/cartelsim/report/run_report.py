"""The HTML report of a run: one self-contained file.

Why one file: a report is mailed, attached to an issue or opened years later from an archive,
often offline. Figures are base64-embedded PNGs and the style is inline, so the file needs no
network, no companion folder and no server, and cannot break when a web font or a script host
goes away. Every number in it is computed from the Results object; nothing is typed in.

Sections, in order: provenance, members by group, weekly flows, observed against simulated,
the news reports' claims (Mexico scenarios only), the scenario's inputs, how to reproduce.
Plotting lives here and only here: the engine never imports matplotlib (STYLE.md 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import StrMethodFormatter

from cartelsim import datasets
from cartelsim.report import agent_map, page
from cartelsim.results import Results, atomic_write
from cartelsim.scenario import builtin_names, load_scenario

#: Figure width in inches (1,000 px at DPI).
WIDTH = 10.0
#: Quantiles of the ensemble shown as the band around the mean.
BAND = (0.05, 0.95)
#: With more groups than this (+1), the smaller ones are summed into "other groups".
TOP_GROUPS = 8
#: Event labels longer than this are cut on the figures; the events table has them in full.
LABEL_CHARS = 28
#: Style of the event labels: vertical, small, on a light box so curves behind stay visible.
EVENT_TEXT = {
    "rotation": 90,
    "fontsize": 6.5,
    "va": "top",
    "ha": "right",
    "color": "dimgrey",
    "bbox": {"facecolor": "white", "alpha": 0.7, "linewidth": 0, "pad": 0.5},
}
#: The news reports' fact file (DESIGN 3.3: the reports' own claims are targets too).
CLAIMS_FILE = "mexico_claims.csv"
#: Groups the "100,000 foot soldiers" claim counts: Sinaloa, Gulf and Zetas.
CLAIM_GROUPS = ("SIN", "GOL", "ZET")
#: "About V" in a news report is a rounded figure: read it as V +/- 25 %.
APPROX_TOLERANCE = 0.25


def write_report(results: Results, path: str | Path) -> Path:
    """Write the HTML report of `results` to `path` (atomically) and return the path."""
    path = Path(path)
    text = _page(results, results.summary())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def _page(results: Results, summary: dict) -> str:
    sections = [
        _header(results, summary),
        _members_section(results),
        _flows_section(results),
        _observed_section(results, summary["observed_vs_simulated"]),
        _claims_section(results),
        agent_map.section(results),  # agent engine only: map, ranking
        _inputs_section(results),
        _footer(results),
    ]
    title = page.esc(f"cartelsim report: {results.plan.scenario.name}")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}'
        f"</title>\n<style>{page.STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


# --- 1. header ------------------------------------------------------------------------------


def _header(results: Results, summary: dict) -> str:
    scenario, prov = results.plan.scenario, summary["provenance"]
    meta = [
        ("Dates", f"{summary['start']} to {summary['end']} ({results.plan.weeks} weeks)"),
        ("Runs", f"{results.runs} ({scenario.simulation.mode})"),
        ("Seed", str(results.seed)),
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
        f'<table class="meta">{rows}</table>'
    )


# --- 2. members -----------------------------------------------------------------------------


def _members_section(results: Results) -> str:
    plan, members = results.plan, results.traj.members  # (weeks + 1, groups, runs)
    dates = plan.dates()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(WIDTH, 7.5), sharex=True)
    _plot_band(top, dates, members.sum(axis=1), "all groups", "black")
    top.set_title("Members, all groups")
    for label, values in _group_lines(plan.names, members):
        bottom.plot(dates, values, label=label, linewidth=1.3)
    bottom.set_title("Members by group (ensemble mean)")
    bottom.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    for ax in (top, bottom):
        _finish_axis(ax, "members")
    _mark_events([top, bottom], plan.event_marks)
    note = "Members at the start of each week." + _band_note(results.runs)
    return f"<h2>Members</h2>\n{page.png(fig)}\n<p class='note'>{note}</p>"


def _group_lines(names: list[str], members: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The largest groups at the end (ensemble mean), then the rest summed as one line."""
    mean = members.mean(axis=2)  # (weeks + 1, groups)
    order = np.argsort(-mean[-1], kind="stable")
    if len(names) <= TOP_GROUPS + 1:
        return [(_short_text(names[i], 32), mean[:, i]) for i in order]
    lines = [(_short_text(names[i], 32), mean[:, i]) for i in order[:TOP_GROUPS]]
    rest = order[TOP_GROUPS:]
    lines.append((f"other groups ({len(rest)})", mean[:, rest].sum(axis=1)))
    return lines


# --- 3. weekly flows ------------------------------------------------------------------------

#: National weekly variables of the flows figure: (variable, title).
FLOW_PANELS = (
    ("deaths", "Members killed per week (conflict + state)"),
    ("recruits", "Recruits per week"),
    ("incapacitated", "Incapacitated per week"),
)


def _flows_section(results: Results) -> str:
    plan, weekly = results.plan, results.weekly
    starts = plan.dates()[:-1]
    fig, axes = plt.subplots(len(FLOW_PANELS), 1, figsize=(WIDTH, 8.5), sharex=True)
    for ax, (variable, title) in zip(axes, FLOW_PANELS, strict=True):
        _plot_band(ax, starts, weekly[variable], variable, "tab:red")
        ax.set_title(title)
        _finish_axis(ax, "per week")
    _mark_events(axes, plan.event_marks)
    note = "National totals during each week, dated at the week's start." + _band_note(results.runs)
    return f"<h2>Weekly flows</h2>\n{page.png(fig)}\n<p class='note'>{note}</p>"


# --- 4. observed against simulated ----------------------------------------------------------


def _observed_section(results: Results, rows: list[dict]) -> str:
    head = "<h2>Observed against simulated</h2>"
    if not rows:
        return f"{head}\n<p>This scenario compares no observed series with the model.</p>"
    series = list(dict.fromkeys(r["series"] for r in rows))
    fig, axes = plt.subplots(len(series), 1, figsize=(WIDTH, 3.2 * len(series)), squeeze=False)
    for ax, name in zip(axes[:, 0], series, strict=True):
        _plot_observed(ax, [r for r in rows if r["series"] == name], results.runs > 1)
        ax.set_title(name)
        ax.set_xlim(results.plan.dates()[0], results.plan.dates()[-1])
        _finish_axis(ax, "per year (or months shown)")
    _mark_events(axes[:, 0], results.plan.event_marks)
    return "\n".join([head, page.png(fig), _observed_table(rows, results.runs), _sources(rows)])


def _plot_observed(ax, rows: list[dict], band: bool) -> None:
    """Observed as points, simulated as a line, each at the middle of its months."""
    x = [_window_middle(r["year"], r["months"]) for r in rows]
    ax.plot(x, [r["simulated"] for r in rows], "-", color="tab:blue", label="simulated (mean)")
    if band:
        low, high = [r["simulated_q05"] for r in rows], [r["simulated_q95"] for r in rows]
        ax.fill_between(x, low, high, color="tab:blue", alpha=0.2, label="simulated 90 %")
    ax.plot(x, [r["observed"] for r in rows], "o", color="black", label="observed")
    ax.legend(fontsize=8, loc="best")


def _window_middle(year: int, months: str) -> dt.date:
    first, _, last = months.partition("-")
    start = dt.date(year, int(first), 1)
    end = dt.date(year + (int(last) == 12), int(last) % 12 + 1, 1)
    return start + (end - start) / 2


def _observed_table(rows: list[dict], runs: int) -> str:
    headers = ["series", "year", "months", "observed", "simulated"]
    headers += ["simulated 5 %-95 %"] * (runs > 1) + ["relative error", "fitted"]
    body = []
    for r in rows:
        cells = [r["series"], str(r["year"]), r["months"], _count(r["observed"])]
        cells.append(_count(r["simulated"]))
        if runs > 1:
            cells.append(f"{_count(r['simulated_q05'])} - {_count(r['simulated_q95'])}")
        cells += [f"{r['relative_error']:+.1%}", "yes" if r["fit"] else "no"]
        body.append(cells)
    return page.table(headers, body)


def _sources(rows: list[dict]) -> str:
    """Each observed series' sources in full, with the years each supports. A row's source
    may name several (' ; '-separated); each is listed once."""
    items = []
    for name in dict.fromkeys(r["series"] for r in rows):
        years: dict[str, list[str]] = {}
        for r in (r for r in rows if r["series"] == name):
            for source in filter(None, (part.strip() for part in r["source"].split(";"))):
                years.setdefault(source, []).append(str(r["year"]))
        listed = "".join(f"<li>{page.esc(s)} ({', '.join(y)})</li>" for s, y in years.items())
        items.append(f"<li><b>{page.esc(name)}</b><ul>{listed}</ul></li>")
    return "<p>Sources of the observed series:</p>\n<ul>" + "".join(items) + "</ul>"


# --- 5. claims in the news reports ----------------------------------------------------------


@dataclass(frozen=True)
class _ClaimCheck:
    """How the model measures one claim: `measure` gives per-run values, or None when the
    run cannot speak to it (dates outside the simulation, groups absent)."""

    what: Callable[[dt.date], str]
    measure: Callable[[Results, dt.date], np.ndarray | None]


def _members_at(results: Results, day: dt.date) -> np.ndarray | None:
    plan = results.plan
    week = plan.week_of(day)
    present = [plan.shorts.index(s) for s in CLAIM_GROUPS if s in plan.shorts]
    if not present or not 0 <= week <= plan.weeks:
        return None
    return results.traj.members[week, present, :].sum(axis=0)


def _killings_between(results: Results, first: dt.date, end: dt.date) -> np.ndarray | None:
    """Killings from day `first` up to `end`, per run. Weeks straddling either day count in
    proportion to their days inside: a month is 4.4 model weeks, not 4 or 5."""
    dates = np.array(results.plan.dates(), dtype="datetime64[D]")
    start, stop = np.datetime64(first), np.datetime64(end)
    if dates[0] > start or dates[-1] < stop:
        return None
    inside = np.minimum(dates[1:], stop) - np.maximum(dates[:-1], start)
    share = np.clip(inside.astype(float), 0, None) / np.diff(dates).astype(float)
    return share @ results.weekly["killings"]


def _killings_year_before(results: Results, day: dt.date) -> np.ndarray | None:
    """The 12 calendar months before the claim's month."""
    end = day.replace(day=1)
    return _killings_between(results, end.replace(year=end.year - 1), end)


#: The claims the report checks, by the `claim` column of the fact file.
CLAIM_CHECKS = {
    "foot_soldiers_sinaloa_gulf_zetas": _ClaimCheck(
        lambda d: f"members of {' + '.join(CLAIM_GROUPS)} on {d}", _members_at
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
        f"side (for 'about', within {APPROX_TOLERANCE:.0%} of the claim); it partly supports "
        "it when only part of that range does.</p>\n" + page.table(headers, checked)
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
    kind = _kind(row.get("comparison") or "")
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


def _kind(comparison: str) -> str:
    """'above', 'below' or 'about', from the fact file's comparison column ('greater_than',
    '>', 'at least', 'approx', ...); anything not a bound reads as 'about'."""
    text = comparison.strip().lower().replace("_", " ")
    if text in ("gt", "ge") or text.startswith((">", "greater", "more", "over", "at least")):
        return "above"
    if text in ("lt", "le") or text.startswith(("<", "less", "fewer", "under", "at most")):
        return "below"
    return "about"


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
        near = high >= value * (1 - APPROX_TOLERANCE) and low <= value * (1 + APPROX_TOLERANCE)
        return "supports" if near else "does not support"
    inside = (low > value, high > value) if kind == "above" else (high < value, low < value)
    return "supports" if inside[0] else "partly supports" if inside[1] else "does not support"


def _factor(ratio: float) -> str:
    """'14 % below the claim (a factor of 1.16)'."""
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
        _events_table(scenario.events),
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


def _events_table(events: list) -> str:
    rows = []
    for e in events:
        groups = [getattr(e, "group", None), getattr(e, "new_group", None)]
        groups = [g for g in groups if g] + list(getattr(e, "groups", ()))
        rows.append([str(e.date), e.type, ", ".join(groups), e.source])
    return page.table(["date", "type", "groups", "source"], rows)


def _policies_table(policies: list) -> str:
    rows = []
    for p in policies:
        change = f"x {p.multiply:g}" if p.multiply is not None else f"= {p.set:g}"
        rows.append([str(p.date), p.parameter, change, p.note])
    return page.table(["date", "parameter", "change", "note"], rows)


# --- 7. footer ------------------------------------------------------------------------------


def _footer(results: Results) -> str:
    scenario = results.plan.scenario
    command = f"cartelsim run {scenario.name} --runs {results.runs} --seed {results.seed}"
    text = f"<h2>How to reproduce</h2>\n<pre><code>{page.esc(command)}</code></pre>"
    # load_scenario keeps each built-in once per process, so this reads no file again.
    if scenario.name in builtin_names() and load_scenario(scenario.name) != scenario:
        text += (
            f"<p>This run used a changed copy of the built-in scenario {page.esc(scenario.name)}: "
            "save it as a TOML file (with <code>extends</code>) and run that file instead. "
            "The scenario sha256 above identifies the exact scenario.</p>"
        )
    return text + "\n<p class='note'>Written by cartelsim's report module.</p>"


# --- figure and table helpers ---------------------------------------------------------------


def _plot_band(ax, dates: list[dt.date], values: np.ndarray, label: str, color: str) -> None:
    """Ensemble mean of `values` (time, runs), with the 5 %-95 % band when runs > 1."""
    ax.plot(dates, values.mean(axis=1), color=color, linewidth=1.5, label=f"{label} (mean)")
    if values.shape[1] > 1:
        low, high = np.quantile(values, BAND, axis=1)
        ax.fill_between(dates, low, high, color=color, alpha=0.2, label="90 % band")
        ax.legend(fontsize=8, loc="best")


def _finish_axis(ax, ylabel: str) -> None:
    ax.set_ylabel(ylabel)
    top = ax.dataLim.y1  # counts: a zero baseline keeps small changes in proportion, and
    ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)  # headroom keeps a flat line off the frame
    ax.grid(alpha=0.3)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _mark_events(axes, marks: list[tuple[dt.date, str]]) -> None:
    """Dotted vertical lines at the scenario's events on every panel, labelled once, on the
    panel above the time axis. Events of one day share a line and a label."""
    by_day: dict[dt.date, list[str]] = {}
    for day, label in marks:
        by_day.setdefault(day, []).append(label)
    for day, labels in by_day.items():
        for ax in axes:
            ax.axvline(day, color="grey", linestyle=":", linewidth=1)
        where = axes[-1].get_xaxis_transform()  # x in dates, y in axis fractions
        axes[-1].text(day, 0.97, _event_label(labels), transform=where, **EVENT_TEXT)


def _event_label(labels: list[str]) -> str:
    """The day's most telling event (a split or new group, then a leader removed, then a tie
    change), with '(+n)' for the others."""
    first = min(labels, key=_event_rank)
    more = f" (+{len(labels) - 1})" if len(labels) > 1 else ""
    return _short_text(first, LABEL_CHARS) + more


def _event_rank(label: str) -> int:
    if label.startswith(("alliance:", "rivalry:", "truce:")):
        return 2
    return 1 if label.endswith("leader removed") else 0


def _band_note(runs: int) -> str:
    return f" Shaded: 5 %-95 % of {runs} runs." if runs > 1 else ""


def _spread(values: np.ndarray) -> str:
    """Mean, and the 5 %-95 % range when the runs differ."""
    low, high = np.quantile(values, BAND)
    text = _count(values.mean())
    return text if np.isclose(low, high) else f"{text} (90 %: {_count(low)} - {_count(high)})"


def _count(x: float) -> str:
    return f"{x:,.0f}"


def _short_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
