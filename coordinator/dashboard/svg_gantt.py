"""Gantt charts as SVG: planned against actual bars per task, critical tasks marked.

Pure: bars in minutes from an origin, SVG text out. Critical tasks are marked by a thick border
and a diamond before their label, not by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

LABEL_W = 200
ROW_H = 28
AXIS_H = 34
LEGEND_H = 26
# in minutes; a short build (the demo's two minutes) gets ticks of a quarter of a minute
_NICE_STEPS = (0.25, 0.5, 1, 2, 5, 15, 30, 60, 120, 240, 480, 720, 1440, 2880, 10080)


@dataclass(frozen=True)
class Bar:
    """One task: planned and actual (start, end) in minutes from the chart's origin."""

    task_id: str
    label: str
    planned: tuple[float, float] | None = None
    actual: tuple[float, float] | None = None
    critical: bool = False


def critical_tasks(
    durations: Mapping[str, float], starts: Mapping[str, float], depends_on: Mapping[str, Sequence[str]]
) -> set[str]:
    """Tasks with no slack: delaying any of them delays the end of the whole plan."""
    ends = {t: starts[t] + durations[t] for t in starts}
    if not ends:
        return set()
    finish = max(ends.values())
    successors: dict[str, list[str]] = {t: [] for t in starts}
    for task, before in depends_on.items():
        for pred in before:
            if pred in successors and task in starts:
                successors[pred].append(task)
    latest_end: dict[str, float] = {}
    for task in sorted(starts, key=lambda t: ends[t], reverse=True):
        later = [latest_end[s] - durations[s] for s in successors[task] if s in latest_end]
        latest_end[task] = min(later, default=finish)
    return {t for t in starts if latest_end[t] - ends[t] <= 1e-6}


def tick_step(span_min: float, max_ticks: int = 10) -> float:
    """A round tick interval (minutes) giving at most `max_ticks` ticks over the span."""
    return next((s for s in _NICE_STEPS if span_min / s <= max_ticks), _NICE_STEPS[-1])


def render_gantt_svg(bars: Sequence[Bar], *, width: int = 960, now_min: float | None = None) -> str:
    """A chart of `bars`: planned as outlined bars, actual as solid bars below them."""
    span = _span(bars, now_min)
    chart_w = width - LABEL_W - 10
    scale = chart_w / span
    height = LEGEND_H + AXIS_H + ROW_H * len(bars) + 6
    parts = [_legend(), _axis(span, scale, height)]
    for row, bar in enumerate(bars):
        parts.append(_row(bar, LEGEND_H + AXIS_H + row * ROW_H, scale))
    if now_min is not None:
        x = LABEL_W + now_min * scale
        parts.append(f'<line {_look("now")} x1="{x:.1f}" y1="{LEGEND_H}" x2="{x:.1f}" y2="{height}"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="gantt-title" font-size="12" '
        'fill="#1c2330" font-family="system-ui,sans-serif">'
        '<title id="gantt-title">Plan against what happened, per task</title>' + "".join(parts) + "</svg>"
    )


def _span(bars: Sequence[Bar], now_min: float | None) -> float:
    ends = [b.planned[1] for b in bars if b.planned] + [b.actual[1] for b in bars if b.actual]
    if now_min is not None:
        ends.append(now_min)
    return max([*ends, 0.5]) * 1.02


# Presentation attributes, not a <style> element: the dashboard's Content-Security-Policy allows no
# inline style, and the SVG stays the same picture inside a page and on its own.
_LOOKS = {
    "plan": 'fill="#dbe8f7" stroke="#0b4a8f" stroke-width="1"',
    "plan crit": 'fill="#dbe8f7" stroke="#9a1b1b" stroke-width="3"',
    "act": 'fill="#145a2c"',
    "grid": 'stroke="#d5dae2"',
    "now": 'stroke="#734600" stroke-width="2" stroke-dasharray="4 3"',
}


def _look(css: str) -> str:
    """The class (tests and scripts find elements by it) and how it is drawn."""
    return f'class="{css}" {_LOOKS[css]}'


def _legend() -> str:
    return (
        f'<rect {_look("plan")} x="4" y="6" width="26" height="10"/><text x="36" y="15">planned</text>'
        f'<rect {_look("act")} x="110" y="6" width="26" height="10"/><text x="142" y="15">actual</text>'
        f'<rect {_look("plan crit")} x="210" y="6" width="26" height="10"/>'
        '<text x="242" y="15">◆ critical path</text>'
    )


def _axis(span: float, scale: float, height: int) -> str:
    step = tick_step(span)
    out = []
    for i in range(math.floor(span / step) + 1):
        minutes = i * step
        x = LABEL_W + minutes * scale
        out.append(f'<line {_look("grid")} x1="{x:.1f}" y1="{LEGEND_H + 20}" x2="{x:.1f}" y2="{height}"/>')
        out.append(f'<text x="{x + 2:.1f}" y="{LEGEND_H + 16}">{_clock(minutes)}</text>')
    return "".join(out)


def _clock(minutes: float) -> str:
    hours = minutes / 60
    if minutes < 60 and minutes != 0:
        return f"{minutes * 60:g} s" if minutes < 1 else f"{minutes:g} min"
    return f"{hours / 24:g} d" if hours >= 48 else f"{hours:g} h"


def _row(bar: Bar, y: float, scale: float) -> str:
    label = ("◆ " if bar.critical else "") + bar.label
    out = [f'<g data-task="{escape(bar.task_id)}"><text x="4" y="{y + 18}">{escape(label[:32])}</text>']
    if bar.planned:
        css = "plan crit" if bar.critical else "plan"
        out.append(_rect(css, bar.planned, y + 4, 10, scale, f"{bar.label}: planned"))
    if bar.actual:
        out.append(_rect("act", bar.actual, y + 16, 8, scale, f"{bar.label}: actual"))
    out.append("</g>")
    return "".join(out)


def _rect(css: str, span: tuple[float, float], y: float, h: float, scale: float, title: str) -> str:
    x = LABEL_W + span[0] * scale
    w = max(2.0, (span[1] - span[0]) * scale)
    tip = f"{title} {_clock(span[0])} to {_clock(span[1])}"
    box = f'{_look(css)} x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h}"'
    return f"<rect {box}><title>{escape(tip)}</title></rect>"
