"""Sections of the calibration report about what the calibration concluded: the competing
forms' probabilities, members against PC2023's figures (overall and per form, with the
targets the posterior misses most), and the reports' claims as probabilities.

Each function takes the calibration's summary (analysis.calibrate.summarize) and returns
an HTML fragment, empty when the summary has nothing for it; calibration_report.write puts
them in order.
"""

from __future__ import annotations

from cartelsim.report import page
from cartelsim.report.run_report import KIND_WORDS

#: PC2023's figures (Prieto-Curiel, Campedelli & Hope 2023, Science 381:1312), at their 10 %
#: share: members at 2012.0 (their fitted C0), at 2022.0 (the range they give) and the
#: recruits a week they need at 2022 to keep the groups' size.
PC2023_FIGURES = {
    "members_2012-01-01": (115_000, 115_000, "115,000 (fitted C0)"),
    "members_2022-01-01": (160_000, 185_000, "160,000-185,000"),
    "recruits_per_week_2022-01-01": (350, 370, "350-370 a week"),
}


def forms_section(summary: dict) -> str:
    """The posterior probability of each form of each competing hypothesis."""
    forms = summary.get("form_probabilities") or {}
    if not forms:
        return ""
    rows = [
        [hypothesis, form, f"{p:.2f}"]
        for hypothesis, options in forms.items()
        for form, p in sorted(options.items(), key=lambda kv: -kv[1])
    ]
    models = [[m, f"{p:.2f}"] for m, p in summary["model_probabilities"].items()]
    return (
        "<h2>Competing forms</h2>\n<p>pyabc's model selection: the posterior probability of "
        "each form, summed over the models that use it, and of each model (a combination of "
        "forms). Probabilities near the prior's (equal shares) mean the data do not tell the "
        "forms apart; an ABC model probability also depends on the tolerance reached, so "
        "read a ratio below about 3 as undecided.</p>\n"
        + page.table(["hypothesis", "form", "probability"], rows)
        + page.table(["model", "probability"], models)
    )


def members_section(summary: dict) -> str:
    """Members and recruits at the reported dates, model-averaged and per model, beside
    PC2023's figures where they give one."""
    derived = summary.get("derived") or {}
    keys = [k for k in derived if k.startswith(("members_", "recruits_per_week_")) and "-" in k]
    if not keys:
        return ""
    by_model = summary.get("derived_by_model") or {}
    headers = ["quantity", "posterior, median [90 %]", *by_model, "PC2023"]
    rows = []
    for key in keys:
        cells = [key.replace("_", " "), _interval(derived[key])]
        cells += [_interval(v[key]) if key in v else "" for v in by_model.values()]
        figure = PC2023_FIGURES.get(key)
        cells.append("" if figure is None else figure[2] + _verdict(derived[key], figure))
        rows.append(cells)
    return (
        "<h2>Members against PC2023</h2>\n<p>Members of all groups and recruits per week "
        "at each date (every particle of the final population run once and weighted by its "
        "posterior weight, model-averaged, then per model). PC2023's "
        "figures hold at their 10 % share; with the share free the members move with it "
        "(DESIGN 3.1's invariance), so the comparison is fair only at a share near 0.10."
        f"{_pulls(summary)}</p>\n" + page.table(headers, rows)
    )


def _pulls(summary: dict) -> str:
    """Which targets the posterior misses most (median error), in one sentence."""
    points = [p for p in summary.get("predictive_check") or [] if p["comparison"] == "equal"]
    if not points:
        return ""
    worst = sorted(points, key=lambda p: -abs(p["median_error"]))[:3]
    text = "; ".join(f"{p['target']} {p['label']} {p['median_error']:+.0%}" for p in worst)
    return f" The targets the posterior misses most (median against observed): {page.esc(text)}."


def baseline_section(summary: dict) -> str:
    """The fit beside the naive baseline "this year = last year's observation"."""
    rows = [
        [target, b["years"], f"{b['model_mean_abs_log_error']:.3f}",
         f"{b['persistence_mean_abs_log_error']:.3f}",
         "model" if b["model_mean_abs_log_error"] < b["persistence_mean_abs_log_error"]
         else "persistence"]
        for target, b in (summary.get("baseline") or {}).items()
    ]  # fmt: skip
    if not rows:
        return ""
    return (
        "<h2>Against a naive baseline</h2>\n<p>Mean absolute log error of the posterior-"
        "predictive median and of persistence (each year = the year before, observed), over "
        "the years with a year before. The model was fitted to these points and persistence "
        "was not, so this flatters the model.</p>\n"
        + page.table(["target", "years", "model", "persistence", "closer"], rows)
    )


def claims_section(summary: dict) -> str:
    """The news reports' claims with the posterior probability of each."""
    claims = summary.get("claims") or []
    if not claims:
        return ""
    rows = []
    for c in claims:
        claimed = f"{KIND_WORDS[c['kind']]} {c['claimed']:,.0f} {c['unit']}"
        if c["role"] == "input":
            rows.append([c["claim"], c["date"], claimed, f"{c['scenario_value']:,.0f}",
                         "an input", c["what"], c["source"]])  # fmt: skip
            continue
        model = f"{c['median']:,.0f} [{c['q05']:,.0f}, {c['q95']:,.0f}]"
        rows.append([c["claim"], c["date"], claimed, model, f"{c['probability']:.2f}",
                     f"{c['what']}; {c['role']}", c["source"]])  # fmt: skip
    return (
        "<h2>The reports' claims</h2>\n<p>The probability of each claim over the posterior-"
        "predictive draws ('about' means within 25 %). A claim that was a calibration "
        "target is marked fitted: its probability is a check of the fit, not a prediction. "
        "Claims about the deployed forces are inputs of the scenario.</p>\n"
        + page.table(
            ["claim", "date", "claimed", "model, median [90 %]", "probability", "what", "source"],
            rows,
        )
    )


def _interval(q: dict) -> str:
    return f"{q['median']:,.0f} [{q['q05']:,.0f}, {q['q95']:,.0f}]"


def _verdict(q: dict, figure: tuple) -> str:
    low, high, _ = figure
    if q["q05"] <= high and q["q95"] >= low:
        return " (within the 90 %)"
    return " (outside the 90 %)"
