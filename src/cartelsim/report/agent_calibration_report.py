"""The agent calibration's report: priors and posterior of the agent assumptions, the
posterior-predictive check of every target, and the members beside PC2023's figure.

One self-contained HTML page (report/page.py's style), written from the summary that
analysis/agent_calibrate.py computed; tables only, so it needs no chart script.
"""

from __future__ import annotations

from pathlib import Path

from cartelsim.report import page
from cartelsim.results import atomic_write


def write(path: Path, summary: dict) -> Path:
    """OUT/report.html, atomically."""

    def n(x: float) -> str:
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.4g}"

    intro = (
        f"<h1>Agent calibration: {page.esc(summary['scenario'])}</h1>"
        f"<p>ABC-SMC (pyabc) over {len(summary['priors'])} agent assumptions, each particle one "
        f"agent run at scale {summary['scale']:g} (agent counts divided by the scale): "
        f"{summary['populations']} populations of {summary['particles']} particles, "
        f"{summary['simulations']:,} agent runs, final misfit "
        f"{summary['epsilon'][-1] if summary['epsilon'] else float('nan'):.3g}, effective "
        f"sample size {summary['effective_sample_size']:g}. The aggregate rates stay at the "
        "scenario's values. Every prior is an assumption: log-uniform over a factor either "
        "side of the built-in value.</p>"
    )
    rows = [
        [name, n(r["value"]), r["unit"], f"{n(r['low'])} - {n(r['high'])}",
         n(summary["posterior"][name]["median"]),
         f"{n(summary['posterior'][name]['q05'])} - {n(summary['posterior'][name]['q95'])}",
         n(summary["closest"][name]), "assumption"]
        for name, r in summary["priors"].items()
    ]  # fmt: skip
    posterior = "<h2>Posterior</h2>" + page.table(
        ["parameter", "built-in", "unit", "prior range", "median", "90 %", "closest", "source"],
        rows,
    )
    check = summary["predictive_check"]
    check_rows = [
        [r["target"], r["label"], n(r["observed"]), n(r["median"]),
         f"{n(r['q05'])} - {n(r['q95'])}", "yes" if r["inside_90"] else "no"]
        for r in check
    ]  # fmt: skip
    predictive = (
        f"<h2>Posterior predictive ({summary['predictive_draws']} agent runs)</h2>"
        f"<p>{summary['inside_90']} of {len(check)} target points inside the 90 % band "
        "(fitted: these are the calibration's own targets).</p>"
        + page.table(
            ["target", "year", "observed", "median", "90 %", "inside"],
            check_rows,
            flagged=[not r["inside_90"] for r in check],
            flag_class="misfit",
        )
    )
    member_rows = [
        [day, n(q["median"]), f"{n(q['q05'])} - {n(q['q95'])}",
         n(q["pc2023"]) if q.get("pc2023") else ""]
        for day, q in summary["members"].items()
    ]  # fmt: skip
    members = "<h2>Members</h2><p>Not a target: a check against PC2023's estimate.</p>" + (
        page.table(["date", "median", "90 %", "PC2023 (share 0.10)"], member_rows)
    )
    text = page.document(
        f"cartelsim agent calibration: {summary['scenario']}",
        [intro, posterior, predictive, members],
        "",
    )
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path
