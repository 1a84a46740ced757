"""What every HTML report shares: the inline style sheet, escaped tables, embedded figures.

Public so that the run report, the calibration report and the agent map build pages the same
way; matplotlib is set to a non-interactive backend here, before any figure is drawn.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

# A report is written from scripts, servers and CI without a display: never pick a GUI backend.
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: Figure resolution: sharp on screen while pc2023 (4 figures) stays well under 2 MB.
DPI = 100

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       max-width: 1040px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.assumption td { background: #fff4d6; }
.flag { color: #8a5a00; font-weight: bold; }
img { max-width: 100%; } code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; }
li { overflow-wrap: anywhere; } .meta td:first-child { font-weight: bold; }
.note { color: #555; font-size: 0.9em; }
"""


def save_png(fig, path: str | Path) -> Path:
    """Write the figure as a PNG file (for the compare and sensitivity commands); it is
    closed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI)
    plt.close(fig)
    return path


def png(fig) -> str:
    """The figure as an embedded PNG <img>; the figure is closed."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def table(headers: list[str], rows: list[list[str]], flagged: list[bool] | None = None) -> str:
    """An HTML table; every cell is escaped. Flagged rows are highlighted as assumptions."""
    if not rows:
        return "<p>None.</p>"
    flagged = flagged or [False] * len(rows)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for cells, flag in zip(rows, flagged, strict=True):
        tds = "".join(cell(c) for c in cells)
        body.append(f"<tr class='assumption'>{tds}</tr>" if flag else f"<tr>{tds}</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


def cell(text: str) -> str:
    if text == "assumption":
        return "<td class='flag'>assumption</td>"
    kind = " class='num'" if is_number(text) else ""
    return f"<td{kind}>{esc(text)}</td>"


def is_number(text: str) -> bool:
    """Numbers are right-aligned: '1,234', '-9.0%', '2.5e-08'."""
    try:
        float(text.replace(",", "").removesuffix("%"))
    except ValueError:
        return False
    return True


def esc(text: str) -> str:
    return html.escape(str(text))
