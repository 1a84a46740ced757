"""The dashboard's charts, as specs of the chart module (report/charts.py): time series with
bands, the state tile map, and the comparison. The server only builds the specs (a few
milliseconds); the browser draws them (dashboard/vega.py), so hover, zoom and the legend
work without a round trip and drawing costs the server nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartelsim.dashboard import views
from cartelsim.report import charts
from cartelsim.report.run_report import SERIES_TITLES

SIM_COLOR, ALT_COLOR = charts.PALETTE[0], charts.PALETTE[2]
#: Width of each comparison chart: two side by side in the results column at 1,280 px.
COMPARE_WIDTH = 380


def _line(band: pd.DataFrame, name: str, color: str | None = None) -> charts.Line:
    """Median with the 90 % and 50 % bands (no band where all runs agree)."""
    spread = bool((band["q95"] > band["q05"] + 1e-9 * band["q95"].abs().max()).any())
    if not spread:
        return charts.Line(name, band.index, band["q50"], color=color)
    return charts.Line(
        name, band.index, band["q50"], band["q05"], band["q95"], color=color,
        low50=band["q25"], high50=band["q75"],
    )  # fmt: skip


def _spans(observed: list[views.Observed], variable: str) -> list[charts.Span]:
    out = []
    for obs in (o for o in observed if o.variable == variable):
        title = SERIES_TITLES.get(obs.name, (obs.name.replace("_", " "),))[0]
        for begin, end, per_week in obs.spans:
            months = round((end - begin).days / 30.44)
            label = f"{per_week:,.0f} per week on average over {months} months from {begin:%b %Y}"
            out.append(charts.Span(f"observed: {title}", begin, end, per_week, label))
    return out


def band_words(runs: int, posterior: str | None, stochastic: bool = True) -> tuple[str, str]:
    """(subtitle, band label): what the bands span, in words: posterior draws, stochastic
    runs, or both (deterministic runs without a posterior are all the same: no band)."""
    if posterior is not None:
        what = f"{runs} posterior draws ({posterior})"
        what += ", each with its own stochastic run" if stochastic else ", deterministic runs"
        items = "draws"
    elif runs > 1 and stochastic:
        what, items = f"{runs} stochastic runs", "runs"
    elif runs > 1:
        return f"{runs} identical deterministic runs (no band)", f"{runs} identical runs"
    else:
        return "one run (no band)", "one run"
    shaded = f"shaded: 5 %-95 % (light) and 25 %-75 % (dark) of the {items}"
    return f"median of {what}; {shaded}", f"90 % of {what}"


def inner_label(band: str) -> str:
    """The 50 % band's label, from the 90 % band's (band_words)."""
    return band.replace("90 %", "50 %", 1) if band.startswith("90 %") else band


def time_series(
    table: pd.DataFrame,
    observed: list[views.Observed],
    runs: int,
    posterior: str | None = None,
    names: dict[str, str] | None = None,
    stochastic: bool = True,
) -> list[charts.TimeChart]:
    """Members by group, killings per week and arrests per week, with observed data; with
    `posterior` (its name), run r used posterior draw r, so the bands are posterior bands
    (and, if `stochastic`, each draw's run noise too)."""
    names = names or {}
    subtitle, band = band_words(runs, posterior, stochastic)
    inner = inner_label(band)
    groups = [
        _line(views.bands(views.by_run(table, "members", g)), names.get(g, g))
        for g in views.largest_groups(table)
    ]
    members = charts.TimeChart(
        "Members by group (the 8 largest)", "members", groups, subtitle=subtitle,
        spans=_spans(observed, "members_total"), band_label=band, inner_band_label=inner,
    )  # fmt: skip
    killings = charts.TimeChart(
        "Killings caused by the conflict",
        "killings per week",
        [_line(views.bands(views.by_run(table, "killings")), "simulated", SIM_COLOR)],
        subtitle=subtitle + "; black: observed, averaged over the months it covers",
        spans=_spans(observed, "killings"),
        band_label=band,
        inner_band_label=inner,
    )
    arrests = charts.TimeChart(
        "Arrests and other incapacitations",
        "members per week",
        [_line(views.bands(views.by_run(table, "incapacitated")), "simulated", SIM_COLOR)],
        subtitle=subtitle,
        spans=_spans(observed, "incapacitated"),
        band_label=band,
        inner_band_label=inner,
    )
    return [members, killings, arrests]


def tile_map(frame: views.MapFrame, states: views.States, vmax: float) -> list[dict]:
    """Mexico's states as tiles at their geographic position (geofacet grid), coloured by
    killings per 100,000; with regional results, a second map shows the controlling group."""
    rows = []
    for code, state in states.table.iterrows():
        value = frame.rate.get(code, np.nan)
        row = {"abbr": state["abbr"], "name": state["name"], "row": int(state["row"]),
               "col": int(state["col"]), "value": float(value)}  # fmt: skip
        if frame.control is not None:
            group = frame.control.get(code)
            row["group"] = group if isinstance(group, str) else None
        rows.append(row)
    out = [charts.tile_map(rows, f"Killings per 100,000 in {frame.year}", "per 100,000", vmax)]
    if frame.control is not None:
        title = f"Group with most members, end of {frame.year}"
        out.append(charts.tile_map(rows, title, "per 100,000", vmax, control=True))
    return out


def comparison(
    table_a: pd.DataFrame,
    table_b: pd.DataFrame,
    name_a: str,
    name_b: str,
    runs: int,
    posterior: str | None = None,
    stochastic: bool = True,
) -> list[charts.TimeChart]:
    """Killings and members of A and B on one axis each, and their run-by-run difference
    (with `posterior`, A and B used the same posterior draws: draw by draw)."""
    plural = "s" if runs > 1 else ""
    pairs = f"run by run, {runs} run{plural}"
    if posterior is not None:
        pairs = f"draw by draw, {runs} draw{plural}"
    subtitle, band = band_words(runs, posterior, stochastic)
    inner = inner_label(band)
    out = []
    for variable, title, unit in (
        ("killings", "Killings", "killings per week"),
        ("members_total", "Members, all groups", "members"),
    ):
        band_a = views.bands(views.by_run(table_a, variable))
        band_b = views.bands(views.by_run(table_b, variable))
        lines = [_line(band_a, f"A: {name_a}", SIM_COLOR), _line(band_b, f"B: {name_b}", ALT_COLOR)]
        out.append(charts.TimeChart(f"{title}: A and B", unit, lines, subtitle=subtitle,
                                    band_label=band, inner_band_label=inner,
                                    width=COMPARE_WIDTH))  # fmt: skip
        diff = views.difference(table_a, table_b, variable)
        scale = max(float(band_a["q50"].abs().max()), 1.0)
        diff = diff.where(diff.abs() > 1e-9 * scale, 0.0)  # float noise reads as 0, not 1e-17
        out.append(
            charts.TimeChart(
                f"{title}: A - B ({pairs})", f"{unit}, A - B", [_line(diff, "A - B", "#555555")],
                subtitle=f"median of the differences over {band.removeprefix('90 % of ')}; "
                "shaded: 5 %-95 % and 25 %-75 %" if runs > 1 else "",
                band_label=band, inner_band_label=inner, zero_line=True, width=COMPARE_WIDTH,
            )
        )  # fmt: skip
    return out
