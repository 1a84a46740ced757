"""The calibration report: posterior-predictive bands against the data, pair plots of the
posterior, and the tables that say where every prior and target comes from.

One self-contained HTML file, like the run report (report.py), whose page helpers it uses.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyabc.visualization  # noqa: E402

from cartelsim.analysis import targets  # noqa: E402
from cartelsim.report import page  # noqa: E402
from cartelsim.results import atomic_write  # noqa: E402

#: At most this many parameters in the pair plot (it grows as the square).
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


def write(path: Path, problem, table: pd.DataFrame, pred: dict, summary: dict) -> Path:
    """Write OUT/report.html atomically."""
    sections = [
        f"<h1>Calibration of {page.esc(summary['scenario'])}</h1>",
        _overview(summary),
        "<h2>Posterior predictive check</h2>",
        "<p>Simulated yearly values at draws from the posterior, averaged over the "
        "incapacitation forms by their probabilities: dark band 50 %, light band 90 %, line "
        "the median; dots are the data. A one-sided target (a claim) is drawn as a triangle "
        "pointing the way it constrains.</p>",
        _bands(problem, pred),
        _points_table(problem, pred),
        "<h2>Posterior</h2>",
        _posterior_table(problem, summary),
        _pairs(problem, table, summary),
    ]
    text = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>cartelsim calibration: {page.esc(summary['scenario'])}</title>\n"
        f"<style>{page.STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def _overview(summary: dict) -> str:
    probs = ", ".join(f"{k}: {v:.2f}" for k, v in summary["model_probabilities"].items())
    eps = ", ".join(f"{e:.3g}" for e in summary["epsilon"])
    fixed = ", ".join(f"{k} = {v:g}" for k, v in summary["fixed"].items()) or "none"
    derived = summary["derived"]
    rows = [
        [name, f"{d['median']:,.1f}", f"{d['q05']:,.1f}", f"{d['q95']:,.1f}"]
        for name, d in derived.items()
    ]
    return (
        f"<p>pyabc ABC-SMC: {summary['populations']} populations of {summary['particles']} "
        f"particles, {summary['simulations']:,} simulations. Acceptance thresholds (weighted "
        f"log misfit): {eps}. Incapacitation forms and their posterior probabilities: {probs}"
        f" (posterior table and pair plot below: {page.esc(summary['incapacitation_form'])}; "
        "predictions and the quantities at the end date: model-averaged). "
        f"Fixed: {page.esc(fixed)}.</p>"
        + "<h3>At the end date</h3>"
        + page.table(["quantity", "median", "5 %", "95 %"], rows)
    )


def _simulated(problem, pred) -> np.ndarray:
    return targets.simulated(problem.points, pred["traj"], pred["weekly"])


def _bands(problem, pred) -> str:
    sims = _simulated(problem, pred)
    names = list(dict.fromkeys(p.target for p in problem.points))
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 3.2 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        ks = [k for k, p in enumerate(problem.points) if p.target == name]
        x = [_x(problem.points[k].label) for k in ks]
        q = np.quantile(sims[ks], [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
        ax.fill_between(x, q[0], q[4], color="tab:blue", alpha=0.2, label="90 %")
        ax.fill_between(x, q[1], q[3], color="tab:blue", alpha=0.4, label="50 %")
        ax.plot(x, q[2], color="tab:blue", label="median")
        for k, xi in zip(ks, x, strict=True):
            point = problem.points[k]
            marker = {"equal": "o", "at_least": "^", "at_most": "v"}[point.comparison]
            ax.plot([xi], [point.observed], marker, color="black")
        ax.set_title(name)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", fontsize=8)
    return page.png(fig)


def _x(label: str) -> float:
    if len(label) == 4:
        return int(label) + 0.5
    day = dt.date.fromisoformat(label)
    return day.year + (day.timetuple().tm_yday - 1) / 365.25


def _points_table(problem, pred) -> str:
    sims = _simulated(problem, pred)
    rows = []
    for k, p in enumerate(problem.points):
        q = np.quantile(sims[k], [0.05, 0.5, 0.95])
        inside = {
            "equal": q[0] <= p.observed <= q[2],
            "at_least": q[2] >= p.observed,
            "at_most": q[0] <= p.observed,
        }[p.comparison]
        rows.append(
            [
                p.target,
                p.label,
                p.comparison.replace("equal", "=")
                .replace("at_least", ">=")
                .replace("at_most", "<="),
                f"{p.observed:,.0f}",
                f"{q[1]:,.0f}",
                f"{q[0]:,.0f} - {q[2]:,.0f}",
                "yes" if inside else "NO: the model does not support it",
                f"{p.relative_error:g}",
                p.source,
            ]
        )
    headers = ["target", "when", "", "observed", "median", "90 %", "consistent", "rel. error"]
    return page.table([*headers, "source"], rows)


def _best_model(problem, summary) -> int:
    """The index of the summary's most probable model."""
    labels = [problem.label(m) for m in range(len(problem.forms))]
    return labels.index(summary["model"]) if summary.get("model") in labels else 0


def _posterior_table(problem, summary) -> str:
    priors = problem.priors[_best_model(problem, summary)]
    rows = []
    for name, q in summary["posterior"].items():
        prior = priors.get(name)
        if prior is None:  # fixed by the model's form
            rows.append([name, SYMBOLS.get(name, ""), f"{q['median']:.4g}", "", "", "fixed", ""])
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
    return page.table(headers, rows)


def _pairs(problem, table: pd.DataFrame, summary: dict) -> str:
    key = "model" if "model" in table.columns else "incapacitation_form"
    rows = table[table[key] == summary.get(key, summary["incapacitation_form"])]
    priors = problem.priors[_best_model(problem, summary)]
    shown = {}
    for name in list(priors)[:PAIR_LIMIT]:
        if priors[name].distribution == "log_uniform":
            shown[f"log10 {name}"] = np.log10(rows[name].to_numpy())
        else:
            shown[name] = rows[name].to_numpy()
    if len(shown) < 2:
        return ""
    df = pd.DataFrame(shown)
    grid = pyabc.visualization.plot_kde_matrix(df, rows.weight.to_numpy())
    fig = grid.flat[0].figure
    fig.set_size_inches(2.2 * len(shown), 2.2 * len(shown))
    return "<h3>Pair plot (weighted kernel density of the final population)</h3>" + page.png(fig)
