"""The figures the compare and sensitivity commands write as PNG files: the chart module's
Vega-Lite specs (charts.compare_chart, charts.sobol_chart) drawn by vl-convert, no browser."""

from __future__ import annotations

from pathlib import Path

from cartelsim.analysis import sensitivity
from cartelsim.report import charts


def compare_figure(result: dict, path: str | Path) -> Path:
    """Each policy's change against the base: median and 90 % interval, two panels."""
    return charts.png(charts.compare_chart(result), path)


def sobol_figure(result: dict, path: str | Path) -> Path:
    """Bar chart: S1 and ST of every parameter, one panel per output."""
    return charts.png(charts.sobol_chart(result, sensitivity.frame(result)), path)
