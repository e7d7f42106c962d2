"""G-code for cutting machines on Grbl: laser (M4 dynamic power), plasma (M3/M5 torch), router (tabs).

Coordinates are millimetres, absolute. A writer keeps the position to total cut and travel lengths,
from which the time estimate follows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from fablab_agents.prepare.drawing import Point
from fablab_agents.prepare.model import Estimates
from fablab_agents.prepare.options import LASER, PLASMA, CutSetting, PrepareOptions
from fablab_agents.prepare.toolpath import Cut


@dataclass(frozen=True)
class CutJob:
    """Everything one cutting file is made from."""

    cuts: list[Cut]
    setting: CutSetting
    options: PrepareOptions
    process: str
    title: str


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass
class _Writer:
    """Accumulates G-code lines and the lengths and waits that the estimate is made of."""

    rapid_mm_min: float
    lines: list[str] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    seconds: float = 0.0
    cut_mm: float = 0.0
    pierces: int = 0
    last_feed: float | None = None

    def say(self, *lines: str) -> None:
        self.lines.extend(lines)

    def rapid(self, point: Point) -> None:
        self.seconds += math.dist((self.x, self.y), point) / self.rapid_mm_min * 60
        self.x, self.y = point
        self.say(f"G0 X{_num(point[0])} Y{_num(point[1])}")

    def feed(self, point: Point, feed: float) -> None:
        length = math.dist((self.x, self.y), point)
        self.seconds += length / feed * 60
        self.cut_mm += length
        self.x, self.y = point
        self.say(f"G1 X{_num(point[0])} Y{_num(point[1])}{self._feed_word(feed)}")

    def _feed_word(self, feed: float) -> str:
        """F is modal: written only when it changes."""
        if feed == self.last_feed:
            return ""
        self.last_feed = feed
        return f" F{_num(feed)}"

    def z_move(self, z: float, feed: float | None = None) -> None:
        self.seconds += abs(self.z - z) / (feed or self.rapid_mm_min) * 60
        self.z = z
        self.say(f"G1 Z{_num(z)}{self._feed_word(feed)}" if feed else f"G0 Z{_num(z)}")

    def dwell(self, seconds: float) -> None:
        if seconds > 0:
            self.seconds += seconds
            self.say(f"G4 P{_num(seconds)}")  # Grbl reads P as seconds

    def estimates(self) -> Estimates:
        return Estimates(
            time_s=round(self.seconds, 1), cut_length_mm=round(self.cut_mm, 1), pierces=self.pierces
        )


def write_cut_gcode(job: CutJob) -> tuple[list[str], Estimates]:
    """The whole file for the job's process, header comments first."""
    writer = _Writer(job.options.rapid_mm_min)
    writer.say("G21 ; millimetres", "G90 ; absolute coordinates", "M5 ; beam, torch and spindle off")
    _BODIES.get(job.process, _router_body)(job, writer)
    writer.say("M5", "M2 ; end of program")
    estimates = writer.estimates()
    return _header(job, estimates) + writer.lines, estimates


def _header(job: CutJob, estimates: Estimates) -> list[str]:
    row = job.setting
    return [
        f"; {job.title}",
        f"; {job.process}: {row.describe()}, feed {_num(row.feed_mm_min)} mm/min, kerf {_num(row.kerf_mm)}",
        f"; contours = {len(job.cuts)}",
        f"; cut length [mm] = {_num(estimates.cut_length_mm or 0)}",
        f"; estimated time [s] = {_num(estimates.time_s or 0)}",
    ]


def _trace(writer: _Writer, cut: Cut, feed: float) -> None:
    """Lead-in to the start, then round the contour and back to the start."""
    if cut.pierce is not None:
        writer.feed(cut.path[0], feed)
    for point in (*cut.path[1:], cut.path[0]):
        writer.feed(point, feed)


def _laser_body(job: CutJob, writer: _Writer) -> None:
    options, row = job.options, job.setting
    power = f"S{_num(row.power * options.laser_s_max)}"
    if options.air_assist:
        writer.say("M8 ; air assist on")
    for cut in job.cuts:
        writer.rapid(cut.entry)
        for _ in range(row.passes):
            writer.pierces += 1
            # M4: Grbl's laser mode scales power with speed and keeps the beam off during G0
            writer.say(f"M4 {power}")
            _trace(writer, cut, row.feed_mm_min)
            writer.say("M5")
            if cut.pierce is not None and row.passes > 1:
                writer.rapid(cut.entry)
    if options.air_assist:
        writer.say("M9 ; air assist off")
    writer.rapid((0.0, 0.0))


def _plasma_body(job: CutJob, writer: _Writer) -> None:
    options, row = job.options, job.setting
    heights = options.pierce_height_mm is not None and options.cut_height_mm is not None
    travel_z = max(options.safe_z_mm, options.pierce_height_mm or 0.0)
    if heights:
        writer.z_move(travel_z)
    for cut in job.cuts:
        writer.rapid(cut.entry)
        if heights:
            writer.z_move(options.pierce_height_mm or 0.0)
        writer.say("M3 ; torch on")
        writer.pierces += 1
        writer.dwell(row.pierce_delay_s)
        if heights:
            writer.z_move(options.cut_height_mm or 0.0, row.feed_mm_min)
        _trace(writer, cut, row.feed_mm_min)
        writer.say("M5 ; torch off")
        if heights:
            writer.z_move(travel_z)
    writer.rapid((0.0, 0.0))


def _router_body(job: CutJob, writer: _Writer) -> None:
    options, row = job.options, job.setting
    safe = row.thickness_mm + options.safe_z_mm  # Z0 is the spoilboard: through cuts end at Z0
    plunge = row.plunge_mm_min or row.feed_mm_min / 3
    writer.z_move(safe)
    writer.say(f"M3 S{_num(row.spindle_rpm)} ; spindle on")
    writer.dwell(options.spindle_spinup_s)
    for cut in job.cuts:
        writer.rapid(cut.path[0])
        writer.pierces += 1
        for depth in pass_depths(row.thickness_mm, row.depth_per_pass_mm):
            writer.z_move(depth, plunge)
            _trace_with_tabs(writer, cut, depth, options.tab_height_mm, row.feed_mm_min)
        writer.z_move(safe)
    writer.say("M5 ; spindle off")
    writer.rapid((0.0, 0.0))


def pass_depths(thickness: float, per_pass: float) -> list[float]:
    """Z of each pass from the top of the sheet down to Z0 (the spoilboard)."""
    if per_pass <= 0 or per_pass >= thickness:
        return [0.0]
    count = math.ceil(thickness / per_pass - 1e-9)
    return [max(thickness - per_pass * k, 0.0) for k in range(1, count + 1)]


def _trace_with_tabs(writer: _Writer, cut: Cut, depth: float, tab_height: float, feed: float) -> None:
    """Round the contour at `depth`, rising to the tab top over each tab the pass would cut through."""
    if not cut.tabs or depth >= tab_height:
        _trace(writer, cut, feed)
        return
    travelled = 0.0
    ring = (*cut.path, cut.path[0])
    for a, b in zip(ring, ring[1:], strict=False):
        for point, z in _split_at_tabs(a, b, travelled, cut.tabs, depth, tab_height):
            if z != writer.z:
                writer.z_move(z, feed)
            writer.feed(point, feed)
        travelled += math.dist(a, b)


def _split_at_tabs(
    a: Point,
    b: Point,
    start: float,
    tabs: tuple[tuple[float, float], ...],
    depth: float,
    tab_height: float,
) -> list[tuple[Point, float]]:
    """The segment a-b cut at every tab edge, each part with the Z to cut it at."""
    length = math.dist(a, b)
    if length == 0:
        return []
    edges = sorted({start, start + length, *(e for tab in tabs for e in tab if start < e < start + length)})
    pieces = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        middle = (lo + hi) / 2
        z = tab_height if any(t0 <= middle <= t1 for t0, t1 in tabs) else depth
        t = (hi - start) / length
        pieces.append(((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t), z))
    return pieces


_BODIES: dict[str, Callable[[CutJob, _Writer], None]] = {LASER: _laser_body, PLASMA: _plasma_body}
