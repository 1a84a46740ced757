"""The report's per-mechanism sections for agent runs: one chart and one sentence each.

Each mechanism of the agent engine (agents/mechanisms/) gets a short section: what it did in
this run, with the number, and a chart of its weekly record (ensemble mean, with the 5-95 %
band across runs when there are several). The numbers are the ones the summary's yearly rows
carry (agents/output.py: national_mechanisms), so the report and summary.json agree. Charts
are charts.py's Vega-Lite time charts. Called by run_report.py for agent runs only.
"""

from __future__ import annotations

import numpy as np

from cartelsim.agents.output import national_mechanisms, regional_weekly
from cartelsim.report import charts, page

#: Sourced counts shown beside the model's (docs/EVIDENCE.md section 5): federal forces
#: killed Dec 2006-2012, and local police killed Dec 2006-2011.
FEDERAL_FORCES_KILLED = 779
LOCAL_POLICE_KILLED_2011 = 2986


def section(results) -> str:
    """HTML of the mechanisms' sections, or "" for results of the aggregate engine."""
    if results.extra is None:
        return ""
    series = national_mechanisms(results)
    ends = results.plan.dates()[1:]
    parts = ["<h2>Mechanisms in this run</h2>"]
    for key, title, sentence, chart in _sections(results, series, ends):
        parts.append(f"<h3>{page.esc(title)}</h3><p>{sentence}</p>")
        parts.append(charts.html_div(chart, f"chart-mechanism-{key}"))
    return "\n".join(parts)


def _total(values: np.ndarray) -> float:
    """Ensemble mean of a weekly series summed over the run."""
    return float(values.sum(axis=0).mean())


def _lines(ends, named: dict[str, np.ndarray], cumulative: bool) -> list[charts.Line]:
    out = []
    for name, values in named.items():
        v = np.cumsum(values, axis=0) if cumulative else values
        low = high = None
        if v.shape[-1] > 1:
            low, high = np.quantile(v, 0.05, axis=-1), np.quantile(v, 0.95, axis=-1)
        out.append(charts.Line(name, ends, v.mean(axis=-1), low, high))
    return out


def _chart(title: str, unit: str, ends, named: dict, cumulative: bool, subtitle: str = ""):
    lines = _lines(ends, named, cumulative)
    return charts.time_chart(charts.TimeChart(title, unit, lines, subtitle=subtitle))


def _n(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or x == round(x) else f"{x:,.1f}"


def _sections(results, s: dict[str, np.ndarray], ends) -> list[tuple[str, str, str, dict]]:
    runs = results.runs
    mean = "" if runs == 1 else f" (mean of {runs} runs)"
    out = []

    captured, removed = _total(s["leaders_captured"]), _total(s["leaders_removed"])
    out.append((
        "captures", "Leader captures",
        f"Raids captured {_n(captured)} group leaders{mean} ({_n(removed)} leaders removed in "
        f"all, scheduled removals included); each capture raised clashes by 80 % in its "
        f"region for a year and by 30 % in the neighbouring regions for six months (Lindo & "
        f"Padilla-Romo 2018), once per region.",
        _chart("Leaders captured and removed", "leaders (cumulative)", ends,
               {"captured in raids": s["leaders_captured"], "removed in all": s["leaders_removed"]},
               True),
    ))  # fmt: skip

    splits = _total(s["splits"])
    active = s["active_groups"]
    first, last = float(active[0].mean()), float(active[-1].mean())
    out.append((
        "splits", "Splits and active groups",
        f"Groups split {_n(splits)} times{mean}; the active groups (with free members) went "
        f"from {_n(first)} to {_n(last)} (observed: 5 visible groups in 2007, about 80 in "
        f"2011, Atuesta & Pérez-Dávila 2018).",
        _chart("Active groups", "groups", ends, {"active groups": active}, False),
    ))  # fmt: skip

    truces, broken = _total(s["truces_decided"]), _total(s["truces_broken"])
    mergers = _total(s["mergers_decided"])
    out.append((
        "truces", "Truces and mergers decided by groups",
        f"Groups decided {_n(truces)} truces ({_n(broken)} broke) and {_n(mergers)} mergers"
        f"{mean}.",
        _chart("Truces and mergers decided", "decisions (cumulative)", ends,
               {"truces decided": s["truces_decided"], "truces broken": s["truces_broken"],
                "mergers decided": s["mergers_decided"]}, True),
    ))  # fmt: skip

    raids, leaked = _total(s["raids"]), _total(s["raids_leaked"])
    share = leaked / raids if raids else 0.0
    out.append((
        "raids", "Raids and leaks",
        f"The state ran {_n(raids)} raids{mean}; {_n(leaked)} ({share:.1%}) leaked to the "
        f"target through officials and police on its payroll, and failed.",
        _chart("Raids and leaked raids", "raids per week", ends,
               {"raids": s["raids"], "leaked": s["raids_leaked"]}, False),
    ))  # fmt: skip

    levels = {
        "municipal officials": "payroll_share_municipal",
        "state officials": "payroll_share_state",
        "federal officials": "payroll_share_federal",
        "local police": "payroll_share_local_police",
        "army and federal police": "payroll_share_forces",
    }
    end_shares = {name: float(s[key][-1].mean()) for name, key in levels.items()}
    words = ", ".join(f"{name} {v:.1%}" for name, v in end_shares.items())
    out.append((
        "payroll", "Payrolls by level of government",
        f"At the end of the run the share on a group's payroll was: {words}.",
        _chart("Share on a payroll, by level", "share", ends,
               {name: s[key] for name, key in levels.items()}, False),
    ))  # fmt: skip

    federal, local = _total(s["forces_killed"]), _total(s["local_police_killed"])
    out.append((
        "forces", "State forces killed",
        f"{_n(federal)} soldiers and federal police were killed{mean} (sourced: "
        f"{FEDERAL_FORCES_KILLED} = 395 soldiers and marines + 384 federal police, Dec "
        f"2006-2012), and {_n(local)} local police (sourced: {LOCAL_POLICE_KILLED_2011:,} to "
        f"the end of 2011, CENAPI; docs/EVIDENCE.md 5).",
        _chart("State forces killed", "killed (cumulative)", ends,
               {"army and federal police": s["forces_killed"],
                "local police": s["local_police_killed"]}, True),
    ))  # fmt: skip

    closed = s["businesses_closed"]
    regional = regional_weekly(results)["businesses_closed"].mean(axis=-1)  # (weeks, R)
    worst = int(np.argmax(regional.max(axis=0)))
    name = results.extra.regions.names[worst]
    peak = float(regional[:, worst].max())
    out.append((
        "economy", "Business closures",
        f"Violence closed {float(closed[-1].mean()):.1%} of businesses nationally by the end "
        f"of the run (population-weighted); the most in {page.esc(name)}, {peak:.1%} at its "
        f"peak. Closed businesses raise recruitment there.",
        _chart("Share of businesses closed", "share", ends,
               {"national": closed, name: regional_weekly(results)["businesses_closed"][:, worst]},
               False),
    ))  # fmt: skip
    return out
