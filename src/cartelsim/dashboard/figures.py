"""Matplotlib figures of the dashboard: time series with bands, the state tile map, and the
comparison. Figures are built with `matplotlib.figure.Figure` (not pyplot), so sessions in
different threads never share a global figure. Margins are set by hand: matplotlib's
constrained layout would triple the time a figure takes to draw (0.45 s instead of 0.15 s for
the time series), and a view must update in under a second."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from cartelsim.dashboard import views

COLORS = mpl.colormaps["tab10"].colors
SIM_COLOR, ALT_COLOR, OBS_COLOR = "#1f77b4", "#d62728", "black"


def _band(ax, band: pd.DataFrame, color, label: str) -> None:
    """Median line with the 50 % and 90 % bands (not drawn where all runs agree)."""
    x = band.index
    if (band["q95"] > band["q05"]).any():
        ax.fill_between(x, band["q05"], band["q95"], color=color, alpha=0.15, lw=0)
        ax.fill_between(x, band["q25"], band["q75"], color=color, alpha=0.3, lw=0)
    ax.plot(x, band["q50"], color=color, lw=1.5, label=label)


def _observed(ax, series: list[views.Observed], variable: str) -> None:
    for k, obs in enumerate(s for s in series if s.variable == variable):
        for i, (begin, end, per_week) in enumerate(obs.spans):
            ax.plot(
                [begin, end],
                [per_week, per_week],
                color=OBS_COLOR,
                lw=2.5,
                ls=("-", "--", ":")[k % 3],
                label=f"observed: {obs.name}" if i == 0 else None,
            )


def _finish(ax, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")


def time_series(
    table: pd.DataFrame, observed: list[views.Observed], runs: int, posterior: str | None = None
) -> Figure:
    """Members by group, killings per week and arrests per week, with observed data; with
    `posterior` (its name), run r used posterior draw r, so the bands are posterior bands."""
    fig = Figure(figsize=(9, 8.4))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.96, bottom=0.04, hspace=0.2)
    ax_members, ax_killings, ax_arrests = fig.subplots(3, 1, sharex=True)
    for k, group in enumerate(views.largest_groups(table)):
        _band(ax_members, views.bands(views.by_run(table, "members", group)), COLORS[k], group)
    _observed(ax_members, observed, "members_total")
    if posterior is not None:
        note = f"posterior {posterior}, {runs} draws: median, 50 % and 90 % posterior bands"
    else:
        note = f"{runs} runs: median, 50 % and 90 % bands" if runs > 1 else "1 run"
    _finish(ax_members, f"Members by group (largest 8; {note})", "members")
    _band(ax_killings, views.bands(views.by_run(table, "killings")), SIM_COLOR, "simulated")
    _observed(ax_killings, observed, "killings")
    _finish(ax_killings, "Killings caused by the conflict", "per week")
    _band(ax_arrests, views.bands(views.by_run(table, "incapacitated")), SIM_COLOR, "simulated")
    _observed(ax_arrests, observed, "incapacitated")
    _finish(ax_arrests, "Arrests and other incapacitations", "per week")
    return fig


def tile_map(frame: views.MapFrame, states: views.States, vmax: float) -> Figure:
    """Mexico's states as tiles in their geographic position (geofacet grid), coloured by
    killings per 100,000; with regional results, a second panel shows the controlling group."""
    panels = 2 if frame.control is not None else 1
    fig = Figure(figsize=(6.5 * panels, 4.6))
    fig.subplots_adjust(left=0.01, right=0.97, top=0.93, bottom=0.02, wspace=0.05)
    axes = np.atleast_1d(fig.subplots(1, panels))
    cmap, norm = mpl.colormaps["Reds"], mpl.colors.Normalize(0, max(vmax, 1e-9))
    colors = {
        code: cmap(norm(v)) if np.isfinite(v) else "#dddddd" for code, v in frame.rate.items()
    }
    _tiles(axes[0], states, colors, frame.rate)
    axes[0].set_title(f"Killings per 100,000 in {frame.year}", fontsize=10, loc="left")
    fig.colorbar(mpl.cm.ScalarMappable(norm, cmap), ax=axes[0], shrink=0.7, label="per 100,000")
    if frame.control is not None:
        groups = sorted(frame.control.dropna().unique())
        palette = {g: COLORS[k % len(COLORS)] for k, g in enumerate(groups)}
        colors = {code: palette.get(g, "#dddddd") for code, g in frame.control.items()}
        _tiles(axes[1], states, colors, None)
        axes[1].set_title(f"Group with most members, end of {frame.year}", fontsize=10, loc="left")
        handles = [Patch(color=palette[g], label=g) for g in groups]
        axes[1].legend(handles=handles, fontsize=7, loc="lower left", ncol=2)
    return fig


def _tiles(ax, states: views.States, colors: dict, values: pd.Series | None) -> None:
    for code, state in states.table.iterrows():
        x, y = state["col"], -state["row"]
        ax.add_patch(Rectangle((x, y), 0.94, 0.94, color=colors.get(code, "#dddddd")))
        text = state["abbr"]
        if values is not None:
            value = values.get(code, np.nan)
            text += f"\n{value:.0f}" if np.isfinite(value) else "\n-"
        ax.text(x + 0.47, y + 0.47, text, ha="center", va="center", fontsize=7)
    ax.set_xlim(0.8, states.table["col"].max() + 1.1)
    ax.set_ylim(-states.table["row"].max() - 0.2, 0.2)
    ax.set_aspect("equal")
    ax.axis("off")


def comparison(
    table_a: pd.DataFrame,
    table_b: pd.DataFrame,
    name_a: str,
    name_b: str,
    runs: int,
    posterior: str | None = None,
) -> Figure:
    """Killings and members of A and B side by side, and their run-by-run difference (with
    `posterior`, A and B used the same posterior draws: draw by draw)."""
    pairs = f"run by run, {runs} runs" if posterior is None else f"by draw, {runs} draws"
    fig = Figure(figsize=(12, 7))
    fig.subplots_adjust(left=0.07, right=0.99, top=0.95, bottom=0.06, wspace=0.3, hspace=0.15)
    axes = fig.subplots(2, 3, sharex=True)
    for row, (variable, label) in enumerate(
        (("killings", "killings per week"), ("members_total", "members"))
    ):
        band_a = views.bands(views.by_run(table_a, variable))
        band_b = views.bands(views.by_run(table_b, variable))
        top = max(band_a["q95"].max(), band_b["q95"].max()) * 1.05
        for col, (band, name, color) in enumerate(
            ((band_a, name_a, SIM_COLOR), (band_b, name_b, ALT_COLOR))
        ):
            _band(axes[row, col], band, color, name)
            _finish(axes[row, col], f"{'AB'[col]}: {label}", label)
            axes[row, col].set_ylim(0, top or 1)
        diff = views.difference(table_a, table_b, variable)
        _band(axes[row, 2], diff, "#555555", "A - B")
        axes[row, 2].axhline(0, color="black", lw=0.8)
        _finish(axes[row, 2], f"A - B: {label} ({pairs})", label)
        axes[row, 2].set_ylim(auto=True)
        axes[row, 2].relim()
        axes[row, 2].autoscale_view()
    return fig
