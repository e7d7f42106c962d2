"""Horizontal bar charts as SVG: one bar per row, a value label on each, drawn without inline style.

Pure: rows of (label, value, text) in, SVG text out. Presentation attributes only, as in the Gantt
chart, so the dashboard's Content-Security-Policy holds and the chart looks the same on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

LABEL_W = 190
ROW_H = 24
TOP = 8
TONES = {"ok": "#145a2c", "warn": "#8a5a00", "bad": "#9a1b1b", "info": "#0b4a8f"}


@dataclass(frozen=True)
class Row:
    label: str
    value: float | None  # None: no figure (drawn as "no data")
    text: str  # what the bar's end says, e.g. "92 % of 13"
    tone: str = "info"


def render_bars(rows: Sequence[Row], *, title: str, maximum: float | None = None, mark: float | None = None,
                width: int = 720) -> str:  # fmt: skip
    """A chart of `rows`; `maximum` fixes the scale (1.0 for rates), `mark` draws a reference line."""
    values = [r.value for r in rows if r.value is not None]
    top = maximum or max([*values, mark or 0.0, 1e-9])
    chart_w = width - LABEL_W - 130
    height = TOP * 2 + ROW_H * max(1, len(rows))
    label_id = "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())[:40]
    parts = [f'<title id="{label_id}">{escape(title)}</title>']
    for i, row in enumerate(rows):
        parts.append(_row(row, TOP + i * ROW_H, chart_w, top))
    if mark is not None:
        x = LABEL_W + chart_w * mark / top
        parts.append(f'<line class="mark" x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{height - 2}" '
                     'stroke="#734600" stroke-width="2" stroke-dasharray="4 3"/>')  # fmt: skip
    if not rows:
        parts.append(f'<text x="4" y="{TOP + 16}">no data yet</text>')
    return (
        # as wide as its panel (the viewBox keeps the proportions): a phone shows the whole chart
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{label_id}" font-size="12" fill="#1c2330" '
        f'font-family="system-ui,sans-serif">{"".join(parts)}</svg>'
    )


def _row(row: Row, y: float, chart_w: float, top: float) -> str:
    label = f'<text x="4" y="{y + 16}">{escape(row.label[:30])}</text>'
    if row.value is None:
        empty = f'<text x="{LABEL_W + 4}" y="{y + 16}" fill="#5a6473">{escape(row.text or "no data")}</text>'
        return f'<g data-row="{escape(row.label)}">{label}{empty}</g>'
    w = max(1.0, chart_w * max(0.0, row.value) / top)
    colour = TONES.get(row.tone, TONES["info"])
    return (
        f'<g data-row="{escape(row.label)}">{label}'
        f'<rect class="bar" x="{LABEL_W}" y="{y + 4}" width="{w:.1f}" height="{ROW_H - 8}" fill="{colour}">'
        f"<title>{escape(row.label)}: {escape(row.text)}</title></rect>"
        f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 16}">{escape(row.text)}</text></g>'
    )
