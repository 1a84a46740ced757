"""The calibration report: posterior-predictive checks against the data, the posterior's
pairs, and the tables that say where every prior and target comes from.

One self-contained HTML file, like the run report (run_report.py): its charts are the
Vega-Lite specs of report/charts.py, drawn by the Vega script inlined once in the page (no
CDN: the file works offline), with hover values in units, zoom and legend toggles.

The page is a list of sections (SECTIONS), each a function of one `Calibration` (the
calibration's problem, posterior table, predictive ensemble and summary, with the derived
numbers every section may need computed once) that returns HTML. A new section is a new
function added to the list, or passed to `write(..., sections=...)`; the order of the list is
the order on the page.

Every band says what it spans: the middle 50 % and 90 % of the simulated values over the
posterior-predictive draws (model-averaged over the models (forms); each draw with its
own stochastic run when the scenario is stochastic). An observation outside the 90 % band (for
a one-sided claim: on its wrong side) is a misfit, flagged in the chart (red) and the table.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cartelsim import observe
from cartelsim.analysis import targets
from cartelsim.report import calibration_sections, charts, page
from cartelsim.results import atomic_write

#: At most this many parameters in the pair matrix (it grows as the square).
PAIR_LIMIT = 8
#: PC2023's symbols for the parameters (DESIGN.md 3.1), shown next to our names.
SYMBOLS = {
    "recruitment_rate": "\u03c1",
    "incapacitation": "\u03b7 (count) or \u03bc (rate)",
    "conflict_lethality": "\u03b8",
    "saturation": "\u03c9",
    "initial_members_total": "C0",
    "cartel_share": "s",
}
#: Quantiles of the draws shown: the 90 % band, the 50 % band and the median.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Titles of the built-in scenarios' targets, in words (else the target's name is used).
TARGET_TITLES = {
    "oc_killings": "Killings attributed to organized crime (government database)",
    "inegi_homicides": "All intentional homicides (INEGI death records)",
    "homicides_and_missing": "Homicides and missing persons",
    "incarcerations": "Prison admissions",
    "foot_soldiers_early_2009": "Foot soldiers of Sinaloa, Gulf and Zetas (a news claim)",
}
#: What a weekly variable counts, for the axis titles.
VARIABLE_WORDS = {
    "killings": "killings",
    "homicides": "homicides",
    "member_deaths": "members killed",
    "member_deaths_by_rivals": "members killed by rivals",
    "member_deaths_by_state": "members killed by state forces",
    "state_forces_killed": "soldiers and police killed",
    "missing_persons": "missing persons",
    "group_killings": "killings by groups",
    "incarcerations": "prison admissions",
    "incapacitated": "incapacitations",
    "recruits": "recruits",
    "members_total": "members",
    "members": "members",
}
COMPARISON_SIGNS = {"equal": "=", "at_least": ">=", "at_most": "<="}
MONTHS = [dt.date(2000, m, 1).strftime("%B") for m in range(1, 13)]


@dataclass(frozen=True)
class Calibration:
    """What the sections read: the calibration as `calibrate` hands it to the report."""

    problem: object  # analysis.calibrate.Setup
    table: pd.DataFrame  # the posterior: one row per particle, per form
    predictive: dict  # {"traj": Trajectories, "weekly": {variable: (weeks, draws)}}
    summary: dict

    @functools.cached_property
    def simulated(self) -> np.ndarray:
        """Every target point's simulated value at every predictive draw: (points, draws)."""
        return targets.simulated(
            self.problem.points, self.predictive["traj"], self.predictive["weekly"]
        )

    @functools.cached_property
    def quantiles(self) -> np.ndarray:
        """QUANTILES of `simulated` per point: (5, points)."""
        return np.quantile(self.simulated, QUANTILES, axis=1)

    @property
    def draws(self) -> int:
        return int(self.simulated.shape[1])

    @functools.cached_property
    def band_label(self) -> str:
        """What the bands span, in words (the chart's legend and the tables say it)."""
        forms = len(self.summary.get("model_probabilities", {}))
        text = f"{self.draws:,} posterior draws"
        if forms > 1:
            text += " (model-averaged over the models (forms))"
        if self.problem.scenario.simulation.mode == "stochastic":
            text += ", each with its own stochastic run"
        return text

    @functools.cached_property
    def outside(self) -> list[bool]:
        """Per point: whether the observation lies outside the 90 % band (a one-sided
        claim: on its wrong side of it), i.e. the model does not reproduce it."""
        q05, q95 = self.quantiles[0], self.quantiles[4]
        flags = []
        for k, p in enumerate(self.problem.points):
            inside = {
                "equal": q05[k] <= p.observed <= q95[k],
                "at_least": q95[k] >= p.observed,
                "at_most": q05[k] <= p.observed,
            }[p.comparison]
            flags.append(not bool(inside))
        return flags

    @property
    def targets(self) -> list[str]:
        """The target names, in the order of the scenario."""
        return list(dict.fromkeys(p.target for p in self.problem.points))


#: A section of the page: HTML from the calibration ("" leaves it out).
Section = Callable[[Calibration], str]


def write(
    path: Path,
    problem,
    table: pd.DataFrame,
    pred: dict,
    summary: dict,
    sections: Sequence[Section] | None = None,
) -> Path:
    """Write OUT/report.html atomically: `sections` (default SECTIONS) in order."""
    calibration = Calibration(problem, table, pred, summary)
    parts = [section(calibration) for section in (SECTIONS if sections is None else sections)]
    title = f"cartelsim calibration: {summary['scenario']}"
    text = page.document(title, parts, charts.html_script())
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


# --- 1. what was done ------------------------------------------------------------------------


def overview_section(c: Calibration) -> str:
    summary = c.summary
    probs = ", ".join(f"{k}: {v:.2f}" for k, v in summary["model_probabilities"].items())
    eps = ", ".join(f"{e:.3g}" for e in summary["epsilon"])
    fixed = ", ".join(f"{k} = {v:g}" for k, v in summary["fixed"].items()) or "none"
    rows = [
        [name, f"{d['median']:,.1f}", f"{d['q05']:,.1f}", f"{d['q95']:,.1f}"]
        for name, d in summary["derived"].items()
    ]
    return (
        f"<h1>Calibration of {page.esc(summary['scenario'])}</h1>\n"
        f"<p>pyabc ABC-SMC: {summary['populations']} populations of {summary['particles']} "
        f"particles, {summary['simulations']:,} simulations. Acceptance thresholds (weighted "
        f"log misfit): {eps}. Models (forms) and their posterior probabilities: {probs}"
        f" (posterior table and pair matrix below: "
        f"{page.esc(summary.get('model', summary['incapacitation_form']))}; predictions and "
        "the quantities at the "
        f"end date: model-averaged). Fixed: {page.esc(fixed)}.</p>"
        "<h3>At the end date (median and 90 % interval, weighted over every particle of the "
        "final population)</h3>" + page.table(["quantity", "median", "5 %", "95 %"], rows)
    )


# --- 2. posterior-predictive check ---------------------------------------------------------


def predictive_section(c: Calibration) -> str:
    misfits = [
        f"{_title_of(p.target)} {_period(c, k)[0]}"
        for k, p in enumerate(c.problem.points)
        if c.outside[k]
    ]
    if misfits:
        verdict = (
            f"<p class='flag'>{len(misfits)} of {len(c.outside)} observations lie outside the "
            f"90 % band (red in the charts and the table): {page.esc('; '.join(misfits))}. "
            "The calibrated model does not reproduce them.</p>"
        )
    else:
        verdict = f"<p>All {len(c.outside)} observations lie inside the 90 % band.</p>"
    intro = (
        "<h2>Posterior predictive check</h2>\n"
        f"<p>Each target's simulated values over {page.esc(c.band_label)}: the light bar holds "
        "the middle 90 % of the draws, the dark bar the middle 50 %, the tick is their median. "
        "Dots are the data; a one-sided target (a claim) is a triangle pointing the way it "
        "constrains. Flows are drawn as monthly averages over the weeks each observation "
        "covers, so a partial year is comparable with a full one; hover for the totals. "
        "Drag or scroll on a chart to zoom (double-click resets); click a legend entry to hide "
        "it.</p>"
    )
    figures = [_target_chart(c, name, k) for k, name in enumerate(c.targets)]
    return intro + verdict + "\n".join(figures) + _points_table(c)


def _target_chart(c: Calibration, name: str, index: int) -> str:
    ks = [k for k, p in enumerate(c.problem.points) if p.target == name]
    stock = _is_stock(c.problem.points[ks[0]])
    what = VARIABLE_WORDS.get(c.problem.points[ks[0]].variable, c.problem.points[ks[0]].variable)
    unit = what if stock else f"{what} per month"
    q = c.quantiles
    checks = []
    for k in ks:
        p = c.problem.points[k]
        label, first, end, weeks = _period(c, k)
        scale = 1.0 if stock else 52.0 / 12.0 / max(weeks, 1)
        detail = f"observed {p.observed:,.0f}, median of the draws {q[2][k]:,.0f}"
        detail += "" if stock else f" over {weeks} weeks"
        checks.append(
            charts.Check(
                label=label,
                first=first,
                end=end,
                observed=p.observed * scale,
                median=q[2][k] * scale,
                q25=q[1][k] * scale,
                q75=q[3][k] * scale,
                q05=q[0][k] * scale,
                q95=q[4][k] * scale,
                comparison=p.comparison,
                outside=c.outside[k],
                detail=detail + f"; source: {p.source}",
            )
        )
    chart = charts.predictive_chart(
        _title_of(name),
        unit,
        checks,
        c.band_label,
        subtitle=f"target {name}: {len(ks)} observation(s), relative error "
        f"{c.problem.points[ks[0]].relative_error:g}",
    )
    return charts.html_div(chart, f"chart-target-{index}")


def _title_of(target: str) -> str:
    return TARGET_TITLES.get(target, target.replace("_", " "))


def _is_stock(point) -> bool:
    return point.variable == "members" or point.variable in observe.STOCKS


def _period(c: Calibration, k: int) -> tuple[str, dt.date, dt.date, int]:
    """A point's period in words, its first day, the day after its end, and its weeks."""
    point = c.problem.points[k]
    dates = c.problem.plans[0].dates()
    if point.mask is None:  # a stock at a date (a claim)
        day = dt.date.fromisoformat(point.label) if len(point.label) > 4 else dates[point.week]
        return day.strftime("%d %b %Y").lstrip("0"), day, day + dt.timedelta(days=1), 1
    weeks = np.flatnonzero(point.mask)
    first, end = dates[weeks[0]], dates[min(weeks[-1] + 1, len(dates) - 1)]
    label = point.label
    if len(weeks) < 52 and len(label) == 4:  # a partial year: say which months
        last = end - dt.timedelta(days=1)
        label = f"{label}, {MONTHS[first.month - 1]}-{MONTHS[last.month - 1]} ({len(weeks)} weeks)"
    return label, first, end, len(weeks)


def _points_table(c: Calibration) -> str:
    q = c.quantiles
    references, numbers = _references(c)
    rows = []
    for k, p in enumerate(c.problem.points):
        rows.append(
            [
                p.target,
                _period(c, k)[0],
                COMPARISON_SIGNS[p.comparison],
                f"{p.observed:,.0f}",
                f"{q[2][k]:,.0f}",
                f"{q[1][k]:,.0f} - {q[3][k]:,.0f}",
                f"{q[0][k]:,.0f} - {q[4][k]:,.0f}",
                "NO: outside the 90 % band (a misfit)" if c.outside[k] else "yes",
                f"{p.relative_error:g}",
                " ".join(f"[{n}]" for n in numbers[k]),
            ]
        )
    headers = ["target", "when", "", "observed (total)", "median", "50 %", "90 %"]
    headers += ["inside the 90 % band", "rel. error", "sources"]
    caption = (
        f"<h3>Every observation against the draws</h3><p class='note'>Totals over each "
        f"period; the bands are over {page.esc(c.band_label)}.</p>"
    )
    return (
        caption
        + page.table(headers, rows, c.outside, flag_class="misfit")
        + "<h3>Sources of the observations</h3>"
        + page.references_html(references)
    )


def _references(c: Calibration) -> tuple[list[dict], list[list[int]]]:
    """The targets' sources, deduplicated (page.reference_list: primary publications first),
    and for each point the numbers of its sources in that list."""
    supported: dict[str, list[int]] = {}
    for p in c.problem.points:
        year = int(p.label[:4])
        for source in page.split_sources(p.source):
            supported.setdefault(source, []).append(year)
    references = page.reference_list(supported)
    number = {page.source_key(e["source"]): k + 1 for k, e in enumerate(references)}
    numbers = [
        sorted({number[page.source_key(s)] for s in page.split_sources(p.source)})
        for p in c.problem.points
    ]
    return references, numbers


# --- 3. the posterior --------------------------------------------------------------------


def _best_model(c: Calibration) -> tuple[int, str]:
    """The most probable model: its index in the problem and its label."""
    labels = [c.problem.label(m) for m in range(len(c.problem.forms))]
    best = c.summary.get("model", c.summary["incapacitation_form"])
    return (labels.index(best) if best in labels else 0), best


def _rows_of(c: Calibration, label: str) -> pd.DataFrame:
    key = "model" if "model" in c.table.columns else "incapacitation_form"
    return c.table[c.table[key] == label]


def posterior_section(c: Calibration) -> str:
    index, form = _best_model(c)
    priors = c.problem.priors[index]
    rows = []
    for name, q in c.summary["posterior"].items():
        prior = priors.get(name)
        if prior is None:  # fixed by the model's forms
            rows.append([name, SYMBOLS.get(name, ""), f"{q['median']:.4g}", "", "",
                         "fixed by the form", ""])  # fmt: skip
            continue
        shape = (
            f"normal({prior.mean:g}, {prior.sd:g})"
            if prior.distribution == "normal"
            else f"{prior.distribution}({prior.low:g}, {prior.high:g})"
        )
        note = prior.source + (" (assumption)" if prior.assumption else "")
        cells = [f"{q['median']:.4g}", f"{q['q05']:.4g}", f"{q['q95']:.4g}", shape, note]
        rows.append([name, SYMBOLS.get(name, ""), *cells])
    headers = ["parameter", "symbol", "median", "5 %", "95 %", "prior", "prior source"]
    return (
        "<h2>Posterior</h2>\n"
        f"<p>Weighted quantiles of the final population ({page.esc(form)}).</p>"
        + page.table(headers, rows)
    )


def pairs_section(c: Calibration) -> str:
    index, form = _best_model(c)
    rows = _rows_of(c, form)
    priors = c.problem.priors[index]
    shown = {}
    for name in list(priors)[:PAIR_LIMIT]:
        values = rows[name].to_numpy(dtype=float)
        if priors[name].distribution == "log_uniform":
            shown[f"log10 {name}"] = np.log10(values)
        else:
            shown[name] = values
    if len(shown) < 2:
        return ""
    chart = charts.pair_matrix(
        shown,
        rows.weight.to_numpy(dtype=float),
        f"Posterior pairs ({form}): {len(rows):,} particles of the final population",
        subtitle="diagonal: each parameter's weighted histogram; below it: every pair, "
        "darker where the posterior puts more weight",
    )
    return "<h3>Pair matrix (weighted histograms of the final population)</h3>" + charts.html_div(
        chart, "chart-pairs"
    )


#: The page's sections, in order. Add a section by adding its function here.
SECTIONS: list[Section] = [
    overview_section,
    lambda c: calibration_sections.forms_section(c.summary),
    lambda c: calibration_sections.members_section(c.summary),
    lambda c: calibration_sections.baseline_section(c.summary),
    lambda c: calibration_sections.claims_section(c.summary),
    predictive_section,
    posterior_section,
    pairs_section,
]
