"""What every HTML report shares: the inline style sheet, escaped tables, deduplicated
sources.

Public so that the run report, the calibration report and the agent map build pages the same
way. Their figures are the Vega-Lite specs of report/charts.py.
"""

from __future__ import annotations

import html

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       max-width: 1040px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.assumption td { background: #fff4d6; } tr.misfit td { background: #fde2e1; }
.chart { margin: 0.8em 0 1.4em; } ol.findings li { margin-bottom: 0.6em; }
#vg-tooltip-element { font-size: 13px; }
.flag { color: #8a5a00; font-weight: bold; }
img { max-width: 100%; } code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; }
li { overflow-wrap: anywhere; } .meta td:first-child { font-weight: bold; }
.note { color: #555; font-size: 0.9em; }
"""


def document(title: str, parts: list[str], script: str) -> str:
    """A whole self-contained page: `title` (escaped here), the style sheet, `script` (the
    inlined chart bundle, charts.html_script()) and the non-empty `parts` in order."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n{script}\n</head>\n<body>\n"
        + "\n".join(part for part in parts if part)
        + "\n</body>\n</html>\n"
    )


def table(
    headers: list[str],
    rows: list[list[str]],
    flagged: list[bool] | None = None,
    flag_class: str = "assumption",
) -> str:
    """An HTML table; every cell is escaped. Flagged rows are highlighted (as assumptions, or
    with `flag_class`)."""
    if not rows:
        return "<p>None.</p>"
    flagged = flagged or [False] * len(rows)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for cells, flag in zip(rows, flagged, strict=True):
        tds = "".join(cell(c) for c in cells)
        body.append(f"<tr class='{flag_class}'>{tds}</tr>" if flag else f"<tr>{tds}</tr>")
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


# --- sources ---------------------------------------------------------------------------------

#: Hosts of primary publications: statistics offices, government releases, journals, archives.
PRIMARY_HOSTS = (
    "inegi.org.mx",
    "gob.mx",
    "sesnsp",
    "presidencia.gob.mx",
    "doi.org",
    "datadryad.org",
    "nature.com",
    "science.org",
    "pnas.org",
    "springer.com",
    "wiley.com",
    "sciencedirect.com",
    "jstor.org",
    "unodc.org",
    "worldbank.org",
)


def split_sources(text: str) -> list[str]:
    """A fact row's source field: several sources separated by ' ; '."""
    return [part.strip() for part in str(text).split(";") if part.strip()]


def source_key(source: str) -> str:
    """Two spellings of one address are one source: scheme, 'www.', an '/amp' page and a
    trailing slash do not count."""
    text = source.strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    text = text.removeprefix("www.").rstrip("/")
    return text.removesuffix("/amp").rstrip("/")


def is_primary(source: str) -> bool:
    """True for the statistics offices', governments' and journals' own publications."""
    host = source_key(source).split("/")[0]
    return any(h in host for h in PRIMARY_HOSTS)


def is_address(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def reference_list(supported: dict[str, list[int]]) -> list[dict]:
    """Deduplicated references: {source: years it supports} -> one entry per source (by
    `source_key`), with its years merged and whether it is a primary publication; primary
    first, then by first year supported."""
    merged: dict[str, dict] = {}
    for source, years in supported.items():
        entry = merged.setdefault(source_key(source), {"source": source, "years": set()})
        entry["years"].update(years)
        if source.startswith("https://"):
            entry["source"] = source  # prefer the secure spelling
    out = [
        {"source": e["source"], "years": sorted(e["years"]), "primary": is_primary(e["source"])}
        for e in merged.values()
    ]
    return sorted(out, key=lambda e: (not e["primary"], e["years"][:1], e["source"]))


def year_ranges(years: list[int]) -> str:
    """[2007, 2008, 2009, 2011] -> '2007-2009, 2011'."""
    parts, start = [], None
    for k, year in enumerate(years):
        if start is None:
            start = year
        if k + 1 == len(years) or years[k + 1] != year + 1:
            parts.append(str(start) if start == year else f"{start}-{year}")
            start = None
    return ", ".join(parts)


def references_html(entries: list[dict]) -> str:
    """An ordered list: link (or text), years supported, and a flag on secondary sources."""
    items = []
    for e in entries:
        s = e["source"]
        text = f'<a href="{esc(s)}">{esc(s)}</a>' if is_address(s) else esc(s)
        kind = "" if e["primary"] else " <span class='note'>(secondary: news or web page)</span>"
        items.append(f"<li>{text} &mdash; {esc(year_ranges(e['years']))}{kind}</li>")
    return "<ol class='refs'>" + "".join(items) + "</ol>"
