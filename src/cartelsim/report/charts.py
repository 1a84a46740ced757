"""Every chart of cartelsim, defined once as a Vega-Lite spec.

The same spec is drawn three ways: in the HTML report (the Vega JavaScript inlined, so the file
works offline: `html_script`, `html_div`), in the dashboard (dashboard/vega.py: the browser
draws it, the server only sends the spec) and as a PNG for the CLI (`png`: vl-convert draws it
without a browser). Interaction is part of the spec: hovering shows values with their units,
dragging or scrolling on a time axis zooms it (double-click resets), and clicking a legend
entry hides or shows its series.

Specs are built as plain dicts (Vega-Lite's JSON) rather than through Altair's classes:
Altair checks every object against the schema as it is built, 0.1-0.3 s a chart, which was
most of a report's time and of a dashboard session's. The tests compile every chart with
Vega-Lite (vl-convert) instead, once.

Inputs are plain numbers and dates already computed by the caller; nothing here knows about
engines or results files.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
#: Series colours (Tableau 10).
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]
OBSERVED_COLOR, MISFIT_COLOR, EVENT_COLOR = "#222222", "#d62728", "#7a7a7a"
#: Default chart size in CSS pixels (the report is 1,040 px wide; the legend goes below).
WIDTH, HEIGHT = 860, 260
FONT = "system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif"
CONFIG = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 12, "titleFontSize": 13, "gridOpacity": 0.5},
    "title": {"fontSize": 15, "anchor": "start", "subtitleFontSize": 12, "subtitleColor": "#555"},
    "legend": {
        "labelFontSize": 12,
        "titleFontSize": 12,
        "orient": "bottom",
        "columns": 2,
        "labelLimit": 0,
        "symbolOpacity": 1,
        "symbolStrokeWidth": 3,
    },
}
YEAR_AXIS = {"format": "%Y", "tickCount": "year", "labelOverlap": True}


def spec(chart) -> dict:
    """The chart's complete Vega-Lite spec (a dict, JSON-ready) with cartelsim's style."""
    if isinstance(chart, TimeChart):
        chart = time_chart(chart)
    datasets: dict[str, list] = {}
    body = _lift_datasets(chart, datasets)
    out = {"$schema": SCHEMA, "config": CONFIG, **body}
    if datasets:
        out["datasets"] = datasets
    return out


def _lift_datasets(view: dict, datasets: dict) -> dict:
    """Vega-Lite takes named datasets at the top only: lift those of concatenated views."""
    view = dict(view)
    datasets.update(view.pop("datasets", {}))
    for key in ("hconcat", "vconcat", "concat"):
        if key in view:
            view[key] = [_lift_datasets(v, datasets) for v in view[key]]
    return view


def prefixed(chart: dict, prefix: str) -> dict:
    """The chart with its dataset names prefixed, so that it can be concatenated with others."""
    text = json.dumps(chart)
    for name in chart.get("datasets", {}):
        text = text.replace(f'{{"name": "{name}"}}', f'{{"name": "{prefix}{name}"}}')
    out = json.loads(text)
    out["datasets"] = {prefix + k: v for k, v in chart.get("datasets", {}).items()}
    return out


def _iso(day) -> str:
    if type(day) is dt.date:  # the common case (Plan.dates): 40x faster than pandas
        return day.isoformat()
    if isinstance(day, str) and len(day) == 10:
        return day
    return pd.Timestamp(day).strftime("%Y-%m-%d")


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    # Six significant digits: exact to the unit below a million, and a third of the bytes.
    return float(f"{x:.6g}") if np.isfinite(x) else None


def _nums(values) -> list[float | None]:
    """_num of every value of a sequence, at once (a chart's series: thousands of values)."""
    x = np.asarray(values, dtype=float)
    text = np.char.mod("%.6g", x).tolist()
    return [float(t) if f else None for t, f in zip(text, np.isfinite(x).tolist(), strict=True)]


def _middle(first, end) -> str:
    first, end = pd.Timestamp(first), pd.Timestamp(end)
    return _iso(first + (end - first) / 2)


def _shown(param: str, on, off=0) -> dict:
    """An opacity that is `on` while the legend selection holds the datum, else `off`."""
    return {"condition": {"param": param, "value": on, "empty": False}, "value": off}


def _legend_param(name: str, field_name: str, values: list[str]) -> dict:
    """Click a legend entry to hide its series, click again to show it (all shown at first)."""
    return {
        "name": name,
        "select": {"type": "point", "fields": [field_name], "toggle": "true"},
        "bind": "legend",
        "value": [{field_name: v} for v in values],
    }


def _zoom_param(name: str = "zoom") -> dict:
    return {"name": name, "select": {"type": "interval", "encodings": ["x"]}, "bind": "scales"}


def _title(title: str, subtitle: str = "") -> dict:
    return {"text": title, **({"subtitle": subtitle} if subtitle else {})}


# --- time series with bands ----------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One series of a time-series chart: centre and optional band, by date."""

    name: str  # full name, shown in the legend and the tooltip
    dates: Sequence  # dates (datetime.date, pandas Timestamps or ISO strings)
    value: Sequence[float]
    low: Sequence[float] | None = None  # band, e.g. the 5 % quantile across runs
    high: Sequence[float] | None = None
    color: str | None = None
    dash: bool = False
    low50: Sequence[float] | None = None  # an inner band, e.g. the 25 %-75 % quantiles
    high50: Sequence[float] | None = None


@dataclass(frozen=True)
class Event:
    """A dated event drawn as a marker at the top of a chart; its text shows on hover."""

    date: dt.date
    text: str


@dataclass(frozen=True)
class Span:
    """An observed value that covers a period (a calendar year, or the months given)."""

    name: str
    first: dt.date
    end: dt.date  # first day after the period
    value: float  # in the chart's unit (e.g. per week over the period)
    label: str = ""  # hover text: the original figure, months covered


@dataclass(frozen=True)
class TimeChart:
    title: str
    unit: str  # the y axis title, e.g. "members" or "killings per week"
    lines: list[Line]
    subtitle: str = ""
    events: list[Event] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    band_label: str = "90 % band"
    inner_band_label: str = "50 % band"  # what Line.low50-high50 spans
    zero_line: bool = False  # a difference chart: draw y = 0 and do not force the axis to 0
    y_domain: tuple[float, float] | None = None  # a shared axis (comparisons)
    width: int | str | None = None  # CSS pixels (default WIDTH) or "container"


def time_chart(c: TimeChart, width: int | str | None = None, height: int = HEIGHT) -> dict:
    """Lines (with bands) over time, observed spans, event markers; hover on the plot shows
    every series at the nearest date; the x axis zooms; the legend hides series."""
    width = width or c.width or WIDTH
    names = [line.name for line in c.lines] + list(dict.fromkeys(s.name for s in c.spans))
    colors = [line.color or PALETTE[k % len(PALETTE)] for k, line in enumerate(c.lines)]
    colors += [OBSERVED_COLOR] * (len(names) - len(c.lines))
    color = {
        "field": "series",
        "type": "nominal",
        "title": None,
        "sort": names,
        "scale": {"domain": names, "range": colors},
    }
    if isinstance(width, int) and width < 600:  # a narrow chart: one legend entry a line
        color["legend"] = {"columns": 1}
    x = {"field": "date", "type": "temporal", "title": None, "axis": YEAR_AXIS}
    y_scale = {"zero": not c.zero_line, "nice": True}
    if c.y_domain is not None:
        y_scale["domain"] = [_num(v) for v in c.y_domain]
    y = {"field": "value", "type": "quantitative", "title": c.unit, "scale": y_scale}
    y["axis"] = {"format": "~s"}
    rows = []
    iso: dict[int, list[str]] = {}  # the lines of a chart share one list of dates
    for line in c.lines:
        key = id(line.dates)
        if key not in iso:
            iso[key] = [_iso(day) for day in line.dates]
        days = iso[key]
        values = _nums(line.value)
        if line.low is None:
            rows += [{"date": d, "series": line.name, "value": v} for d, v in zip(days, values,
                     strict=True)]  # fmt: skip
            continue
        lows, highs = _nums(line.low), _nums(line.high)
        for d, v, lo, hi in zip(days, values, lows, highs, strict=True):
            rows.append({"date": d, "series": line.name, "value": v, "low": lo, "high": hi})
        if line.low50 is not None:
            inner = zip(rows[-len(days) :], _nums(line.low50), _nums(line.high50), strict=True)
            for row, lo, hi in inner:
                row["low50"], row["high50"] = lo, hi
    layers = []
    if any(line.low is not None for line in c.lines):
        layers.append(
            {
                "data": {"name": "lines"},
                "transform": [{"filter": "isValid(datum.low)"}],
                "mark": {"type": "area", "opacity": 0.18},
                "encoding": {
                    "x": x,
                    "y": {"field": "low", "type": "quantitative", "scale": y_scale},
                    "y2": {"field": "high"},
                    "color": color,
                    "opacity": _shown("legend", 0.18),
                },
            }
        )
    if any(line.low50 is not None for line in c.lines):
        layers.append(
            {
                "data": {"name": "lines"},
                "transform": [{"filter": "isValid(datum.low50)"}],
                "mark": {"type": "area", "opacity": 0.3},
                "encoding": {
                    "x": x,
                    "y": {"field": "low50", "type": "quantitative", "scale": y_scale},
                    "y2": {"field": "high50"},
                    "color": color,
                    "opacity": _shown("legend", 0.3),
                },
            }
        )
    dashed = [line.name for line in c.lines if line.dash]
    line_layer = {
        "data": {"name": "lines"},
        "mark": {"type": "line", "strokeWidth": 2},
        "encoding": {"x": x, "y": y, "color": color, "opacity": _shown("legend", 1)},
        "params": [_legend_param("legend", "series", names), _zoom_param()],
    }
    if dashed:
        line_layer["encoding"]["strokeDash"] = {
            "condition": {"test": {"field": "series", "oneOf": dashed}, "value": [6, 3]},
            "value": [1, 0],
        }
    layers.append(line_layer)
    datasets = {"lines": rows}
    if c.spans:
        datasets["spans"] = [
            {
                "series": s.name,
                "date": _iso(s.first),
                "end": _iso(s.end),
                "middle": _middle(s.first, s.end),
                "value": _num(s.value),
                "label": s.label,
            }
            for s in c.spans
        ]
        tip = [
            {"field": "series", "type": "nominal", "title": "observed"},
            {"field": "label", "type": "nominal", "title": "value"},
        ]
        layers.append(
            {
                "data": {"name": "spans"},
                "mark": {"type": "rule", "strokeWidth": 3},
                "encoding": {
                    "x": x,
                    "x2": {"field": "end"},
                    "y": {"field": "value", "type": "quantitative"},
                    "color": color,
                    "opacity": _shown("legend", 1),
                    "tooltip": tip,
                },
            }
        )
    hover, datasets["hover"] = _hover_layer(c, rows, x)
    layers.append(hover)
    if c.zero_line:
        layers.append(
            {
                "data": {"values": [{"zero": 0}]},
                "mark": {"type": "rule", "color": "#333", "strokeWidth": 1},
                "encoding": {"y": {"field": "zero", "type": "quantitative"}},
            }
        )
    if c.events:
        event_layers, datasets["events"] = _event_layers(c.events)
        layers += event_layers
    return {
        "title": _title(c.title, c.subtitle),
        "width": width,
        "height": height,
        "datasets": datasets,
        "layer": layers,
    }


def _hover_layer(c: TimeChart, rows: list[dict], x: dict) -> tuple[dict, list[dict]]:
    """A vertical rule at the nearest date; its tooltip lists every line's value there."""
    by_date: dict[str, dict] = {}
    keys = {line.name: f"s{k}" for k, line in enumerate(c.lines)}
    # Bands in the tooltip only for a few lines (two numbers each). Numbers, not text: Vega-Lite
    # 6.4's nearest-point tooltip reads text fields from the wrong object ("undefined").
    banded = len(c.lines) <= 3
    for row in rows:
        entry = by_date.setdefault(row["date"], {"date": row["date"]})
        key = keys[row["series"]]
        entry[key] = row["value"]
        if banded and row.get("low") is not None:
            entry[key + "_low"], entry[key + "_high"] = row["low"], row["high"]
        if banded and row.get("low50") is not None:
            entry[key + "_low50"], entry[key + "_high50"] = row["low50"], row["high50"]
    tips = [{"field": "date", "type": "temporal", "title": "week of", "format": "%d %b %Y"}]
    for line in c.lines:
        key = keys[line.name]
        unit = f" ({c.unit})"
        tips.append({"field": key, "type": "quantitative", "title": line.name + unit,
                     "format": ",.0f"})  # fmt: skip
        bands = (("", c.band_label), ("50", c.inner_band_label))
        for suffix, label in bands if banded else ():
            if not any(f"{key}_low{suffix}" in e for e in by_date.values()):
                continue
            for end, word in (("_low", "low"), ("_high", "high")):
                title = f"{line.name}: {label}, {word}"
                tips.append({"field": key + end + suffix, "type": "quantitative",
                             "format": ",.0f", "title": title})  # fmt: skip
    layer = {
        "data": {"name": "hover"},
        "mark": {"type": "rule", "color": "#888", "strokeWidth": 6},
        "encoding": {
            "x": x,
            "opacity": {"condition": {"param": "nearest", "value": 0.35, "empty": False},
                        "value": 0},
            "tooltip": tips,
        },
        "params": [
            {
                "name": "nearest",
                "select": {
                    "type": "point",
                    "nearest": True,
                    "on": "pointermove",
                    "fields": ["date"],
                    "clear": "pointerout",
                },
            }
        ],
    }  # fmt: skip
    return layer, list(by_date.values())


def _event_layers(events: list[Event]) -> tuple[list[dict], list[dict]]:
    """A dotted rule and a triangle at the top for each day with events; hover shows them."""
    days: dict[str, list[str]] = {}
    for e in events:
        days.setdefault(_iso(e.date), []).append(e.text)
    rows = [{"date": d, "events": "; ".join(texts)} for d, texts in days.items()]
    x = {"field": "date", "type": "temporal"}
    rule = {
        "data": {"name": "events"},
        "mark": {"type": "rule", "color": EVENT_COLOR, "strokeDash": [2, 3], "opacity": 0.7},
        "encoding": {"x": x},
    }
    marker = {
        "data": {"name": "events"},
        "mark": {
            "type": "point",
            "shape": "triangle-down",
            "filled": True,
            "size": 110,
            "color": EVENT_COLOR,
            "opacity": 1,
        },
        "encoding": {
            "x": x,
            "y": {"value": 0},
            "tooltip": [
                {"field": "date", "type": "temporal", "title": "event on", "format": "%d %b %Y"},
                {"field": "events", "type": "nominal", "title": "what happened"},
            ],
        },
    }
    return [rule, marker], rows


# --- bars: observed against simulated ------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One observed value against the simulated one over the same period, both as monthly
    averages (so a 9-month year is comparable with a full one)."""

    first: dt.date
    end: dt.date  # first day after the period
    label: str  # "2011, January-September (9 months)"
    observed: float
    simulated: float
    low: float  # the fit band (run_report: simulated range widened by observation error)
    high: float
    misfit: bool
    detail: str  # hover text: totals, relative error


def periods_chart(
    title: str,
    unit: str,
    periods: list[Period],
    events: list[Event],
    subtitle: str = "",
    width: int | str = WIDTH,
    height: int = HEIGHT,
) -> dict:
    """Simulated as a bar over each period (its width is the months covered: a partial year is
    drawn partial), the fit band as a bracket, observed as a dot (red diamond: outside)."""
    rows = [
        {
            "date": _iso(p.first),
            "end": _iso(p.end),
            "middle": _middle(p.first, p.end),
            "period": p.label,
            "observed": _num(p.observed),
            "simulated": _num(p.simulated),
            "low": _num(p.low),
            "high": _num(p.high),
            "fit": "outside the band" if p.misfit else "inside the band",
            "detail": p.detail,
        }
        for p in periods
    ]
    names = ["simulated", "fit band", "observed", "observed outside the band"]
    color = {
        "field": "kind",
        "type": "nominal",
        "title": None,
        "sort": names,
        "scale": {"domain": names, "range": [PALETTE[0], "#6b6b6b", OBSERVED_COLOR, MISFIT_COLOR]},
    }
    tips = [
        {"field": "period", "type": "nominal", "title": "period"},
        {"field": "observed", "type": "quantitative", "title": f"observed ({unit})",
         "format": ",.0f"},
        {"field": "simulated", "type": "quantitative", "title": f"simulated ({unit})",
         "format": ",.0f"},
        {"field": "detail", "type": "nominal", "title": "totals"},
        {"field": "fit", "type": "nominal", "title": "fit"},
    ]  # fmt: skip
    x = {"field": "date", "type": "temporal", "title": None, "axis": YEAR_AXIS}
    mid = {"field": "middle", "type": "temporal"}
    misfit = "datum.fit == 'outside the band'"
    layers = [
        {
            "data": {"name": "periods"},
            "transform": [{"calculate": "'simulated'", "as": "kind"}],
            "mark": {"type": "rect", "stroke": "white", "strokeWidth": 2},
            "encoding": {
                "x": x,
                "x2": {"field": "end"},
                "y": {"field": "simulated", "type": "quantitative", "title": unit,
                      "axis": {"format": "~s"}},
                "y2": {"datum": 0},
                "color": color,
                "opacity": _shown("legend", 0.55),
                "tooltip": tips,
            },
            "params": [_legend_param("legend", "kind", names), _zoom_param()],
        },
        {
            "data": {"name": "periods"},
            "transform": [{"calculate": "'fit band'", "as": "kind"}],
            "mark": {"type": "errorbar", "ticks": True, "thickness": 2},
            "encoding": {
                "x": mid,
                "y": {"field": "low", "type": "quantitative", "title": unit},
                "y2": {"field": "high"},
                "color": color,
                "opacity": _shown("legend", 1),
                "tooltip": tips,
            },
        },
        {
            "data": {"name": "periods"},
            "transform": [
                {"calculate": f"{misfit} ? 'observed outside the band' : 'observed'",
                 "as": "kind"}
            ],
            "mark": {"type": "point", "filled": True, "size": 120, "opacity": 1},
            "encoding": {
                "x": mid,
                "y": {"field": "observed", "type": "quantitative"},
                "color": color,
                "shape": {"condition": {"test": misfit, "value": "diamond"}, "value": "circle"},
                "opacity": _shown("legend", 1),
                "tooltip": tips,
            },
        },
    ]  # fmt: skip
    datasets = {"periods": rows}
    if events:
        event_layers, datasets["events"] = _event_layers(events)
        layers += event_layers
    return {
        "title": _title(title, subtitle),
        "width": width,
        "height": height,
        "datasets": datasets,
        "layer": layers,
    }


# --- posterior-predictive check: calibration -----------------------------------------------


@dataclass(frozen=True)
class Check:
    """One observation against the simulated values of the posterior draws over the same
    period (or at the same date)."""

    label: str  # "2007", "2011, January-September (9 months)", "1 Feb 2009"
    first: dt.date
    end: dt.date  # first day after the period (first + 1 day for a value at a date)
    observed: float
    median: float
    q25: float
    q75: float
    q05: float
    q95: float
    comparison: str = "equal"  # equal, at_least (a claim of "more than"), at_most
    outside: bool = False  # the observation contradicts the 90 % band (a misfit)
    detail: str = ""  # hover text: totals, source


#: How each comparison is drawn and said: marker shape, words.
COMPARISONS = {
    "equal": ("circle", "observed"),
    "at_least": ("triangle-up", "at least (a claim)"),
    "at_most": ("triangle-down", "at most (a claim)"),
}


def predictive_chart(
    title: str,
    unit: str,
    checks: list[Check],
    band_label: str,
    subtitle: str = "",
    width: int | str = WIDTH,
    height: int = HEIGHT,
) -> dict:
    """Each observation (a dot; a triangle for a one-sided claim, pointing the way it
    constrains; red when outside the band) over the middle 90 % and 50 % of the simulated
    values (bars) and their median (a tick), at the middle of its period. `band_label` says
    what the bands span (e.g. "200 posterior draws"). Hover gives every number with its
    unit; the legend hides layers; the x axis zooms."""
    rows = []
    for c in checks:
        rows.append(
            {
                "date": _iso(c.first),
                "middle": _middle(c.first, c.end),
                "period": c.label,
                "observed": _num(c.observed),
                "median": _num(c.median),
                "q25": _num(c.q25),
                "q75": _num(c.q75),
                "q05": _num(c.q05),
                "q95": _num(c.q95),
                "band90": f"{c.q05:,.0f} to {c.q95:,.0f}",
                "band50": f"{c.q25:,.0f} to {c.q75:,.0f}",
                "comparison": COMPARISONS[c.comparison][1],
                "fit": "outside the 90 % band: a misfit" if c.outside else "inside the 90 % band",
                "shape": COMPARISONS[c.comparison][0],
                "detail": c.detail,
            }
        )
    names = [
        f"middle 90 % of {band_label}",
        "middle 50 %",
        "median of the draws",
        "observed",
        "observed outside the 90 % band",
    ]
    color = {
        "field": "kind",
        "type": "nominal",
        "title": None,
        "sort": names,
        "scale": {
            "domain": names,
            "range": ["#a8c6e5", PALETTE[0], "#1f3b5a", OBSERVED_COLOR, MISFIT_COLOR],
        },
    }
    tips = [
        {"field": "period", "type": "nominal", "title": "period"},
        {"field": "observed", "type": "quantitative", "title": f"observed ({unit})",
         "format": ",.0f"},
        {"field": "comparison", "type": "nominal", "title": "the observation is"},
        {"field": "median", "type": "quantitative", "title": f"median of the draws ({unit})",
         "format": ",.0f"},
        {"field": "band50", "type": "nominal", "title": f"middle 50 % ({unit})"},
        {"field": "band90", "type": "nominal", "title": f"middle 90 % of {band_label} ({unit})"},
        {"field": "fit", "type": "nominal", "title": "fit"},
        {"field": "detail", "type": "nominal", "title": "detail"},
    ]  # fmt: skip
    # Whole calendar years around the periods, so that the first and last bars show whole.
    first = min(c.first for c in checks)
    end = max(c.end for c in checks)
    last_year = end.year if (end.month, end.day) == (1, 1) else end.year + 1
    domain = [{"year": first.year, "month": 1, "date": 1}, {"year": last_year, "month": 1,
              "date": 1}]  # fmt: skip
    x = {"field": "middle", "type": "temporal", "title": None, "axis": YEAR_AXIS,
         "scale": {"domain": domain}}  # fmt: skip
    y_scale = {"zero": True, "nice": True}
    misfit = "datum.fit != 'inside the 90 % band'"

    def kind(name: str) -> list[dict]:
        return [{"calculate": json.dumps(name), "as": "kind"}]

    layers = [
        {
            "data": {"name": "checks"},
            "transform": kind(names[0]),
            "mark": {"type": "rule", "strokeWidth": 12, "strokeCap": "butt"},
            "encoding": {
                "x": x,
                "y": {"field": "q05", "type": "quantitative", "title": unit, "scale": y_scale,
                      "axis": {"format": "~s"}},
                "y2": {"field": "q95"},
                "color": color,
                "opacity": _shown("legend", 1),
                "tooltip": tips,
            },
            "params": [_legend_param("legend", "kind", names), _zoom_param()],
        },
        {
            "data": {"name": "checks"},
            "transform": kind(names[1]),
            "mark": {"type": "rule", "strokeWidth": 12, "strokeCap": "butt"},
            "encoding": {
                "x": x,
                "y": {"field": "q25", "type": "quantitative"},
                "y2": {"field": "q75"},
                "color": color,
                "opacity": _shown("legend", 1),
                "tooltip": tips,
            },
        },
        {
            "data": {"name": "checks"},
            "transform": kind(names[2]),
            "mark": {"type": "tick", "orient": "horizontal", "thickness": 3, "size": 20},
            "encoding": {
                "x": x,
                "y": {"field": "median", "type": "quantitative"},
                "color": color,
                "opacity": _shown("legend", 1),
                "tooltip": tips,
            },
        },
        {
            "data": {"name": "checks"},
            "transform": [
                {"calculate": f"{misfit} ? {json.dumps(names[4])} : {json.dumps(names[3])}",
                 "as": "kind"}
            ],
            "mark": {"type": "point", "filled": True, "size": 130, "opacity": 1},
            "encoding": {
                "x": x,
                "y": {"field": "observed", "type": "quantitative"},
                "color": color,
                "shape": {"field": "shape", "type": "nominal", "scale": None},
                "opacity": _shown("legend", 1),
                "tooltip": tips,
            },
        },
    ]  # fmt: skip
    return {
        "title": _title(title, subtitle),
        "width": width,
        "height": height,
        "datasets": {"checks": rows},
        "layer": layers,
    }


# --- posterior pairs: calibration --------------------------------------------------------


def pair_matrix(
    columns: dict[str, Sequence[float]],
    weights: Sequence[float],
    title: str,
    subtitle: str = "",
    cell: int = 128,
    bins: int = 20,
) -> dict:
    """The weighted posterior sample as a matrix: on the diagonal each parameter's weighted
    histogram, below it the weighted 2-D histogram of every pair (darker: more posterior
    weight). `columns` maps each axis title (e.g. "log10 recruitment_rate") to the values,
    one per particle. Hover gives the bin's range and its share of the weight."""
    titles = list(columns)
    keys = {name: f"p{k}" for k, name in enumerate(titles)}
    total = float(np.sum(weights)) or 1.0
    rows = []
    for k, w in enumerate(weights):
        row = {key: _num(columns[name][k]) for name, key in keys.items()}
        row["weight"] = _num(float(w) / total)
        rows.append(row)
    weight_tip = {"aggregate": "sum", "field": "weight", "type": "quantitative",
                  "title": "share of the posterior weight", "format": ".1%"}  # fmt: skip

    def binned(name: str, axis: bool = True) -> dict:
        return {
            "field": keys[name],
            "bin": {"maxbins": bins},
            "type": "quantitative",
            "title": name if axis else None,
        }

    grid = []
    for i, row_name in enumerate(titles):
        cells = []
        for col_name in titles[: i + 1]:
            if col_name == row_name:
                view = {
                    "mark": {"type": "bar", "color": PALETTE[0]},
                    "encoding": {
                        "x": binned(row_name),
                        "y": {**weight_tip, "title": "weight", "axis": {"format": "~%"}},
                        "tooltip": [binned(row_name), weight_tip],
                    },
                }
            else:
                view = {
                    "mark": "rect",
                    "encoding": {
                        "x": binned(col_name),
                        "y": binned(row_name),
                        "color": {**weight_tip, "legend": None,
                                  "scale": {"scheme": "blues"}},
                        "tooltip": [binned(col_name), binned(row_name), weight_tip],
                    },
                }  # fmt: skip
            cells.append({"data": {"name": "particles"}, "width": cell, "height": cell, **view})
        grid.append({"hconcat": cells})
    return {
        "title": _title(title, subtitle),
        "datasets": {"particles": rows},
        "vconcat": grid,
        "spacing": 8,
    }


# --- intervals: compare ------------------------------------------------------------------


def interval_chart(
    rows: list[dict], title: str, unit: str, band_label: str, width: int = 380
) -> dict:
    """One row per item: median dot and interval bar (`name`, `median`, `low`, `high`), with a
    zero line; hover gives the numbers with units."""
    names = [r["name"] for r in rows]
    values = [
        {**r, "label": f"{r['low']:+.1f} to {r['high']:+.1f}"}
        for r in ({k: (_num(v) if k != "name" else v) for k, v in r.items()} for r in rows)
    ]
    y = {"field": "name", "type": "nominal", "title": None, "sort": names,
         "axis": {"labelLimit": 460}}  # fmt: skip
    tips = [
        {"field": "name", "type": "nominal", "title": "policy"},
        {"field": "median", "type": "quantitative", "title": f"median ({unit})", "format": "+.1f"},
        {"field": "label", "type": "nominal", "title": f"{band_label} ({unit})"},
    ]
    return {
        "title": title,
        "width": width,
        "height": 30 * len(rows) + 10,
        "data": {"values": values},
        "layer": [
            {
                "mark": {"type": "rule", "strokeWidth": 6, "color": PALETTE[0], "opacity": 0.7},
                "encoding": {
                    "x": {"field": "low", "type": "quantitative", "title": unit},
                    "x2": {"field": "high"},
                    "y": y,
                    "tooltip": tips,
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 90, "color": "black"},
                "encoding": {
                    "x": {"field": "median", "type": "quantitative"},
                    "y": y,
                    "tooltip": tips,
                },
            },
            {
                "data": {"values": [{"zero": 0}]},
                "mark": {"type": "rule", "color": "#555"},
                "encoding": {"x": {"field": "zero", "type": "quantitative"}},
            },
        ],
    }


def compare_chart(result: dict) -> dict:
    """Each policy's change against the base: median and interval, one panel per outcome
    (members, deaths per week, and the killings of the policy's first year where the
    comparison has them). With competing forms, each form's row follows its policy's
    averaged one ("policy: under FORM", its share of the draws or weight in the label), so
    the chart says what the text table says: the answer under each form and averaged."""
    span = f"90 % interval: {result['interval']}" if "interval" in result else "90 % interval"
    outcomes = [("members_total", "members"), ("deaths_per_week", "deaths per week")]
    first = next(iter(result["policies"].values()), {}).get("change_vs_base_pct", {})
    if "killings_first_year" in first:
        outcomes.append(("killings_first_year", "killings in the policy's first year"))
    panels = []
    for key, what in outcomes:
        rows = []
        for name, policy in result["policies"].items():
            q = policy["change_vs_base_pct"][key]
            averaged = " (averaged)" if "change_vs_base_pct_by_model" in policy else ""
            rows.append(_interval_row(f"{name}{averaged}", q))
            for model, change in policy.get("change_vs_base_pct_by_model", {}).items():
                if _finite(change[key]):  # a form with no draws has no interval
                    label = f"{name}: under {model}{_form_note(result, model)}"
                    rows.append(_interval_row(label, change[key]))
        at = "" if key == "killings_first_year" else f" at {result['horizon']}"
        panels.append(interval_chart(rows, f"Change in {what}{at}", "% against the base", span))
    return {"vconcat": panels} if len(panels) > 2 else {"hconcat": panels}


def _finite(q: dict) -> bool:
    return all(
        isinstance(q.get(k), int | float) and np.isfinite(q[k]) for k in ("median", "q05", "q95")
    )


def _interval_row(name: str, q: dict) -> dict:
    return {"name": name, "median": q.get("median"), "low": q.get("q05"), "high": q.get("q95")}


def _form_note(result: dict, model: str) -> str:
    """' (12% of draws)' or ' (weight 0.50)' for a form's row, '' when neither is known."""
    share = result.get("model_share_of_draws", {}).get(model)
    weight = result.get("model_weights", {}).get(model)
    if share is not None:
        return f" ({share:.0%} of draws)"
    return f" (weight {weight:.2f})" if weight is not None else ""


def sobol_chart(result: dict, table: pd.DataFrame) -> dict:
    """First-order and total Sobol indices of every parameter, one panel per output, with
    their confidence intervals; hover gives the numbers."""
    rows = []
    for r in table.itertuples(index=False):
        for kind, value, conf in (
            ("first order (S1)", r.S1, r.S1_conf),
            ("total (ST)", r.ST, r.ST_conf),
        ):
            rows.append(
                {
                    "output": r.output,
                    "parameter": r.parameter,
                    "index": kind,
                    "value": _num(value),
                    "low": _num(value - conf),
                    "high": _num(value + conf),
                }
            )
    enc = {
        "x": {"field": "parameter", "type": "nominal", "title": None,
              "axis": {"labelAngle": -20, "labelLimit": 200}},
        "xOffset": {"field": "index", "type": "nominal"},
        "color": {"field": "index", "type": "nominal", "title": None},
        "tooltip": [
            {"field": "parameter", "type": "nominal"},
            {"field": "index", "type": "nominal"},
            {"field": "value", "type": "quantitative", "format": ".3f",
             "title": "index (share of output variance)"},
            {"field": "low", "type": "quantitative", "format": ".3f", "title": "confidence low"},
            {"field": "high", "type": "quantitative", "format": ".3f", "title": "confidence high"},
        ],
    }  # fmt: skip
    panels = []
    for k, output in enumerate(dict.fromkeys(table.output)):
        bars = {
            "mark": "bar",
            "encoding": {
                **enc,
                "y": {"field": "value", "type": "quantitative", "title": "share of variance"},
                "opacity": _shown(f"legend{k}", 1, 0.15),
            },
            "params": [_legend_param(f"legend{k}", "index", ["first order (S1)", "total (ST)"])],
        }
        whiskers = {
            "mark": {"type": "rule", "color": "black"},
            "encoding": {**enc, "y": {"field": "low", "type": "quantitative"},
                         "y2": {"field": "high"}},
        }  # fmt: skip
        panels.append(
            {
                "title": f"Output: {output}",
                "width": WIDTH - 120,
                "height": 200,
                "transform": [{"filter": {"field": "output", "equal": output}}],
                "layer": [bars, whiskers],
            }
        )
    return {
        "title": f"Sobol indices: {result['scenario']} ({result['runs']} runs)",
        "data": {"values": rows},
        "vconcat": panels,
    }


# --- tile map ------------------------------------------------------------------------------


def tile_map(
    tiles: list[dict],
    title: str,
    unit: str,
    vmax: float,
    control: bool = False,
    width: int = 560,
    sqrt: bool = False,
) -> dict:
    """States as tiles at their geographic position. `tiles`: dicts with abbr, name, row, col,
    value (None: no data) and, with `control`, group (the group with most members)."""
    rows = []
    for t in tiles:
        value = _num(t["value"])
        text = f"{value:,.0f}" if value is not None else "-"
        rows.append({**t, "value": value, "shown": text, "group": t.get("group") or "none"})
    cols = max(r["col"] for r in rows)
    n_rows = max(r["row"] for r in rows)
    cell = width / cols
    x = {
        "field": "col",
        "type": "ordinal",
        "axis": None,
        "scale": {"domain": list(range(1, cols + 1)), "paddingInner": 0.06},
    }
    y = {"field": "row", "type": "ordinal", "axis": None,
         "scale": {"domain": list(range(1, n_rows + 1)), "paddingInner": 0.06}}  # fmt: skip
    tips = [
        {"field": "name", "type": "nominal", "title": "state"},
        {"field": "value", "type": "quantitative", "title": unit, "format": ",.1f"},
    ]
    if control:
        tips.append({"field": "group", "type": "nominal", "title": "most members"})
        color = {"field": "group", "type": "nominal", "title": "group with most members",
                 "legend": {"orient": "right", "columns": 1}}  # fmt: skip
    else:
        color = {
            "field": "value",
            "type": "quantitative",
            "title": unit,
            "scale": {
                "scheme": "reds",
                "domain": [0, max(float(vmax), 1e-9)],
                **({"type": "sqrt"} if sqrt else {}),
            },
            "legend": {"orient": "right", "gradientLength": 220},
        }
    size = max(10, int(cell / 4.2))
    return {
        "title": title,
        "width": width,
        "height": int(cell * n_rows),
        "data": {"values": rows},
        "encoding": {"x": x, "y": y, "tooltip": tips},
        "layer": [
            {"mark": {"type": "rect", "cornerRadius": 3}, "encoding": {"color": color}},
            {
                "mark": {"type": "text", "fontSize": size, "dy": -size * 0.55},
                "encoding": {"text": {"field": "abbr"}},
            },
            {
                "mark": {"type": "text", "fontSize": size - 1, "dy": size * 0.6},
                "encoding": {"text": {"field": "shown"}},
            },
        ],
    }


# --- output: HTML and PNG ------------------------------------------------------------------


def png(chart, path: str | Path, scale: float = 2.0) -> Path:
    """Write the chart as a PNG file (vl-convert draws it without a browser)."""
    import vl_convert

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(vl_convert.vegalite_to_png(spec(chart), scale=scale))
    return path


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "cartelsim"


@functools.cache
def javascript() -> str:
    """Vega, Vega-Lite and Vega-Embed in one script (it sets window.vegaEmbed), from the
    vl-convert package: no CDN. Bundling takes seconds, so the bundle is kept in the user's
    cache folder, one file per vl-convert version."""
    import vl_convert

    path = _cache_dir() / f"vega-bundle-vl-convert-{vl_convert.__version__}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    text = vl_convert.javascript_bundle()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: bundle again next time
    return text


@functools.cache
def html_script() -> str:
    """The <script> that must come once, before any `html_div`, in a self-contained page
    (made once per process: the bundle is 0.9 MB)."""
    code = javascript().replace("</script", "<\\/script")
    return f"<script>{code}</script>"


def html_div(chart, element_id: str) -> str:
    """A chart placeholder and the script that draws it (vegaEmbed, no action menu)."""
    text = json.dumps(spec(chart), separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div class="chart" id="{element_id}"></div>\n'
        f"<script>vegaEmbed('#{element_id}', {text}, {{actions: false, renderer: 'svg'}})"
        f".catch(e => document.getElementById('{element_id}').textContent = "
        f"'chart not drawn: ' + e);</script>"
    )
