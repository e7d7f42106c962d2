"""The Gantt renderer and the critical-path rule."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from coordinator.dashboard.svg_gantt import Bar, critical_tasks, render_gantt_svg, tick_step

SVG = "{http://www.w3.org/2000/svg}"


def test_critical_path_follows_the_longest_chain() -> None:
    # a (0-60) -> c (60-100); b (0-20) -> c; d (0-30) alone
    durations = {"a": 60, "b": 20, "c": 40, "d": 30}
    starts = {"a": 0, "b": 0, "c": 60, "d": 0}
    depends = {"c": ["a", "b"]}
    assert critical_tasks(durations, starts, depends) == {"a", "c"}


def test_no_tasks_no_critical_path() -> None:
    assert critical_tasks({}, {}, {}) == set()


def test_chart_has_planned_and_actual_bars_and_marks_critical_ones() -> None:
    bars = [
        Bar("fab:a", "Bracket", planned=(0, 60), actual=(5, 70), critical=True),
        Bar("fab:b", "Knob", planned=(0, 20)),
        Bar("asm:c", "Frame", planned=(70, 110), critical=True),
    ]
    root = ET.fromstring(render_gantt_svg(bars, now_min=30))
    rows = [g for g in root.iter(f"{SVG}g") if "data-task" in g.attrib]
    assert [g.attrib["data-task"] for g in rows] == ["fab:a", "fab:b", "asm:c"]
    classes = [[r.attrib["class"] for r in g.iter(f"{SVG}rect")] for g in rows]
    assert classes == [["plan crit", "act"], ["plan"], ["plan crit"]]
    labels = [next(g.iter(f"{SVG}text")).text for g in rows]
    assert labels == ["◆ Bracket", "Knob", "◆ Frame"]


def test_bars_are_placed_in_time_order() -> None:
    bars = [Bar("x", "early", planned=(0, 10)), Bar("y", "late", planned=(100, 120))]
    root = ET.fromstring(render_gantt_svg(bars))
    rects = [
        r
        for r in root.iter(f"{SVG}rect")
        if r.attrib.get("class") == "plan" and r.find(f"{SVG}title") is not None
    ]
    early, late = (float(r.attrib["x"]) for r in rects)
    assert late > early
    widths = [float(r.attrib["width"]) for r in rects]
    assert abs(widths[1] - 2 * widths[0]) < 0.2  # 20 minutes against 10


def test_ticks_are_round() -> None:
    assert tick_step(100) == 15
    assert tick_step(600) == 60
    assert tick_step(5 * 1440) == 720
