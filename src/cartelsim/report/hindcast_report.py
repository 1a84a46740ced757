"""The hindcast report: the skill table, a fan chart per origin and series, and how much of
the skill comes from knowing the later events.

One self-contained HTML file like the other reports (charts: report/charts.py's Vega-Lite
specs, the Vega script inlined once). Every number comes from the hindcast's summary
(analysis.hindcast): the report computes nothing the JSON does not hold.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cartelsim.analysis.hindcast import HISTORY_YEARS
from cartelsim.report import charts, page
from cartelsim.results import atomic_write

BASELINE_WORDS = {
    "persistence": "persistence (the last observed year or month)",
    "drift": "drift (the line through the last three years)",
    "nb_random_walk": "negative-binomial random walk (fitted to the last five years)",
}
COLORS = {
    ("model", "known-events"): "#1f77b4",
    ("model", "blind"): "#ff7f0e",
    ("anchored", "known-events"): "#2ca02c",
    ("anchored", "blind"): "#9467bd",
}
KINDS = {"model": "as simulated", "anchored": "anchored to the jump-off year"}


def write(path: Path, summary: dict) -> Path:
    """Write report.html atomically."""
    parts = [
        _overview(summary),
        _skill_section(summary),
        _events_section(summary),
        _fans_section(summary),
        _origins_section(summary),
        _sources_section(summary),
    ]
    title = f"cartelsim hindcast: {summary['scenario']}"
    text = page.document(title, parts, charts.html_script())
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def skill_text(summary: dict) -> str:
    """The mean skill table as plain text (what the command prints)."""
    lines = [f"{summary['scenario']}: CRPS skill = 1 - CRPS_model / CRPS_baseline (geometric "
             "mean of the ratios over the series; > 0: the model beats the baseline)"]  # fmt: skip
    horizons = list(range(1, summary["horizons"] + 1))
    heads = "".join(f"{'h=' + str(h):>9}" for h in horizons)
    lines.append(f"{'forecast':<10}{'variant':<14}{'baseline':<16}{heads}")
    for kind in KINDS:
        for variant in summary["variants"]:
            for baseline in summary["baselines"]:
                cells = [_mean_skill(summary, kind, variant, baseline, h) for h in horizons]
                lines.append(
                    f"{kind:<10}{variant:<14}{baseline:<16}"
                    + "".join(f"{'-' if c is None else f'{c:+.2f}':>9}" for c in cells)
                )
    return "\n".join(lines)


def _mean_skill(summary: dict, kind: str, variant: str, baseline: str, horizon: int):
    for row in summary["skill"]:
        if (row["forecast"], row["variant"], row["baseline"], row["horizon"], row["series"]) == (
            kind, variant, baseline, horizon, "mean",
        ):  # fmt: skip
            return row["skill"]
    return None


def _overview(summary: dict) -> str:
    origins = ", ".join(o["origin"] for o in summary["origins"])
    minutes = summary["seconds_total"] / 60
    fixed = ", ".join(f"{k} = {v:g}" for k, v in summary["fixed"].items()) or "none"
    rows = [
        [
            o["origin"], f"{o['calibration_points']}", ", ".join(o["calibration_targets"]),
            f"{o['calibration_simulations']:,}", f"{o['calibration_populations']}",
            "-" if o["calibration_epsilon"] is None else f"{o['calibration_epsilon']:.3g}",
            f"{o['calibration_ess']:.0f}" if o.get("calibration_ess") is not None else "-",
            _forms(o["form_probabilities"]), f"{o['seconds'] / 60:.1f}",
        ]
        for o in summary["origins"]
    ]  # fmt: skip
    return (
        f"<h1>Hindcast of {page.esc(summary['scenario'])}</h1>\n"
        f"<p>Forecasts made from origins {page.esc(origins)}, each from a calibration on the "
        "observations dated before it only (pyabc ABC-SMC, "
        f"{summary['particles']} particles, up to {summary['populations']} populations), "
        f"{summary['horizons']} calendar years ahead, with {summary['draws']:,} "
        "posterior-predictive draws per origin in stochastic mode plus observation noise. "
        "Every number below is <b>predicted, not fitted</b>: the years scored were not seen "
        f"by the calibration. Fixed: {page.esc(fixed)}. Time: {minutes:.1f} minutes in all "
        "(the origins' calibrations and forecasts).</p>"
        "<p class='note'>known-events: the scenario's dated events, deployments and policies "
        "after the origin are kept (a forecast conditional on them); blind: they are dropped. "
        "Both use the same draws and noise.</p>"
        + page.table(
            [
                "origin",
                "points fitted",
                "targets",
                "simulations",
                "populations",
                "final misfit",
                "effective particles",
                "forms (posterior probability)",
                "minutes",
            ],
            rows,
        )  # fmt: skip
    )


def _forms(probabilities: dict) -> str:
    return (
        "; ".join(
            f"{h}: " + ", ".join(f"{f} {p:.2f}" for f, p in forms.items())
            for h, forms in probabilities.items()
        )
        or "-"
    )


def _skill_section(summary: dict) -> str:
    horizons = list(range(1, summary["horizons"] + 1))
    rows, flags = [], []
    for kind in KINDS:
        for variant in summary["variants"]:
            for baseline in summary["baselines"]:
                cells = [_mean_skill(summary, kind, variant, baseline, h) for h in horizons]
                rows.append(
                    [KINDS[kind], variant, BASELINE_WORDS[baseline]]
                    + ["-" if c is None else f"{c:+.2f}" for c in cells]
                )
                flags.append(any(c is not None and c < 0 for c in cells))
    detail = [
        [r["forecast"], r["variant"], r["baseline"], str(r["horizon"]), r["series"],
         str(r["origins"]), f"{r['skill']:+.2f}"]
        for r in summary["skill"] if r["series"] != "mean"
    ]  # fmt: skip
    return (
        "<h2>Skill against the baselines</h2>\n"
        "<p>CRPS skill = 1 - CRPS of the model / CRPS of the baseline, per series summed over "
        "the origins, then averaged over the series (1 - the geometric mean of the ratios); "
        "above 0 the model forecasts better than the baseline, below 0 (highlighted) worse. "
        "A point baseline's CRPS is its absolute error. <i>As simulated</i>: the calibrated "
        "runs as they are; <i>anchored</i>: each run scaled so that it matches the year "
        "before the origin, so only its predicted change is scored.</p>"
        + page.table(["forecast", "variant", "baseline"]
                     + [f"{h} year(s) ahead" for h in horizons], rows, flags, "misfit")
        + "<h3>Per series</h3>"
        + page.table(
            ["forecast", "variant", "baseline", "horizon", "series", "origins", "skill"], detail
        )
    )  # fmt: skip


def _events_section(summary: dict) -> str:
    rows = [
        [e["origin"], e["series"], str(e["horizon"]), KINDS[e["forecast"]],
         _num(e["crps_known_events"]), _num(e["crps_blind"]), _num(e["crps_persistence"]),
         "-" if e["events_gain"] is None else f"{e['events_gain']:+.0%}"]
        for e in summary["events"]
    ]  # fmt: skip
    if not rows:
        return ""
    return (
        "<h2>Knowing the later events, or not</h2>\n"
        "<p>Per origin, the CRPS of the forecast that knows the events after the origin "
        "(splits, leader removals, the 2013 fragmentation, deployments) beside the blind one "
        "and persistence. Events' gain = 1 - CRPS known / CRPS blind: how much of the "
        "forecast's accuracy comes from the events rather than the dynamics (negative: "
        "knowing them made it worse).</p>"
        + page.table(
            [
                "origin",
                "series",
                "horizon",
                "forecast",
                "CRPS known events",
                "CRPS blind",
                "CRPS persistence",
                "events' gain",
            ],
            rows,
        )  # fmt: skip
    )


def _num(x) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _fans_section(summary: dict) -> str:
    parts = ["<h2>Forecasts and what happened</h2>"]
    names = [s["name"] for s in summary["series"]]
    k = 0
    for origin in summary["origins"]:
        for name in names:
            rows = [
                r for r in summary["forecasts"]
                if r["origin"] == origin["origin"] and r["series"] == name
            ]  # fmt: skip
            if not rows:
                continue
            chart = _fan(summary, origin["origin"], name, rows)
            parts.append(charts.html_div(chart, f"fan-{k}"))
            k += 1
    return "\n".join(parts)


def _fan(summary: dict, origin: str, name: str, rows: list[dict]) -> dict:
    monthly = rows[0]["monthly"]
    lines = []
    first, last = int(origin[:4]) - HISTORY_YEARS, int(origin[:4]) + summary["horizons"] - 1
    observed = {
        label: value
        for label, value in summary.get("observations", {}).get(name, {}).items()
        if first <= int(label[:4]) <= last
    }
    for row in rows:
        for label, value in zip(row["periods"], row["observed"], strict=True):
            observed[label] = value
    for kind in KINDS:
        for variant in summary["variants"]:
            chosen = sorted(
                (r for r in rows if r["variant"] == variant and r.get(kind)),
                key=lambda r: r["horizon"],
            )
            dates, q = [], {k: [] for k in ("q05", "q25", "q50", "q75", "q95")}
            for row in chosen:
                dates += [_date(p) for p in row["periods"]]
                for key in q:
                    q[key] += row[kind]["quantiles"][key]
            if dates:
                lines.append(
                    charts.Line(f"{kind}, {variant}", dates, q["q50"], q["q05"], q["q95"],
                                color=COLORS.get((kind, variant)), low50=q["q25"],
                                high50=q["q75"])
                )  # fmt: skip
    labels = sorted(observed)
    persistence = [
        (p, v) for r in rows if r["variant"] == rows[0]["variant"]
        and r["baselines"].get("persistence")
        for p, v in zip(r["periods"], r["baselines"]["persistence"]["quantiles"]["point"],
                        strict=True)
    ]  # fmt: skip
    if persistence:
        lines.append(
            charts.Line("persistence", [_date(p) for p, _ in persistence],
                        [v for _, v in persistence], color="#777777", dash=True)
        )  # fmt: skip
    lines.append(
        charts.Line("observed", [_date(p) for p in labels], [observed[p] for p in labels],
                    color="#000000")
    )  # fmt: skip
    unit = "homicides per month" if monthly else "per year"
    return charts.time_chart(
        charts.TimeChart(
            title=f"{name}: forecast from {origin}",
            unit=unit,
            lines=lines,
            subtitle=f"median, 50 % and 90 % bands of {summary['draws']:,} draws per variant",
        )
    )


def _date(label: str) -> dt.date:
    if "-" in label:
        year, month = label.split("-")
        return dt.date(int(year), int(month), 15)
    return dt.date(int(label), 7, 1)


def _origins_section(summary: dict) -> str:
    rows = []
    for r in summary["forecasts"]:
        model, anchored = r["model"], r.get("anchored") or {}
        observed = _num(sum(r["observed"])) if not r["monthly"] else f"{len(r['observed'])} months"
        cells = [
            r["origin"], r["variant"], r["series"], str(r["horizon"]), observed,
            _num(model["crps"]), _pct(model["coverage_50"]), _pct(model["coverage_90"]),
            _num(anchored.get("crps")), _pct(anchored.get("coverage_50")),
            _pct(anchored.get("coverage_90")),
        ]  # fmt: skip
        for b in summary["baselines"]:
            result = r["baselines"].get(b)
            cells.append("-" if result is None else _num(result["crps"]))
        rows.append(cells)
    heads = [
        "origin", "variant", "series", "horizon", "observed", "CRPS model", "in 50 %",
        "in 90 %", "CRPS anchored", "in 50 %", "in 90 %",
    ]  # fmt: skip
    return (
        "<h2>Every forecast</h2>\n<p>CRPS (mean over the months for a monthly series) and the "
        "share of periods inside the forecast's 50 % and 90 % intervals, as simulated and "
        "anchored to the year before the origin.</p>"
        + page.table(heads + [f"CRPS {b}" for b in summary["baselines"]], rows)
    )


def _pct(x) -> str:
    return "-" if x is None else f"{x:.0%}"


def _sources_section(summary: dict) -> str:
    rows = [
        [s["name"], "monthly" if s["monthly"] else "yearly", f"{s['relative_error']:g}",
         s["source"]]
        for s in summary["series"]
    ]  # fmt: skip
    return (
        "<h2>Series scored</h2>\n<p>The observation noise of each forecast is the series' "
        "relative error (log scale), as in the calibration.</p>"
        + page.table(["series", "resolution", "relative error", "source"], rows)
    )
