"""The figures the compare and sensitivity commands write as PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from cartelsim.analysis import sensitivity
from cartelsim.report import page


def compare_figure(result: dict, path: str | Path) -> Path:
    """Each policy's change against the base: median and 90 % interval, two panels."""
    names = list(result["policies"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(names) + 1.8), sharey=True)
    for ax, key, title in zip(
        axes, ("members_total", "deaths_per_week"), ("members", "deaths per week"), strict=True
    ):
        for y, name in enumerate(names):
            q = result["policies"][name]["change_vs_base_pct"][key]
            ax.plot([q["q05"], q["q95"]], [y, y], color="tab:blue", lw=3)
            ax.plot([q["median"]], [y], "o", color="black")
        ax.axvline(0, color="grey", lw=1)
        ax.set_title(f"change in {title} at {result['horizon']} (%)")
        ax.set_yticks(range(len(names)), names)
    return page.save_png(fig, path)


def sobol_figure(result: dict, path: str | Path) -> Path:
    """Bar chart: S1 and ST of every parameter, one panel per output."""
    table = sensitivity.frame(result)
    outputs = list(result["indices"])
    fig, axes = plt.subplots(len(outputs), 1, figsize=(9, 2.6 * len(outputs)), squeeze=False)
    for ax, output in zip(axes[:, 0], outputs, strict=True):
        rows = table[table.output == output]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, rows.S1, 0.4, yerr=rows.S1_conf, label="first order (S1)")
        ax.bar(x + 0.2, rows.ST, 0.4, yerr=rows.ST_conf, label="total (ST)")
        ax.set_xticks(x, rows.parameter, rotation=20, fontsize=8)
        ax.set_title(output)
        ax.set_ylim(0, 1.05)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Sobol indices: {result['scenario']} ({result['runs']} runs)")
    return page.save_png(fig, path)
