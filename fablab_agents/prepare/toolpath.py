"""Tool paths for cutting: kerf compensation, cut direction, start point, lead-in, holding tabs, order.

Offsetting is Clipper's (pyclipper); containment and lengths are shapely's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pyclipper
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon

from fablab_agents.prepare.contours import Contour
from fablab_agents.prepare.drawing import Point
from fablab_agents.prepare.model import PreparationError

_SCALE = 1000.0  # Clipper works on integers: micrometres
_LEAD_IN_TRIES = 4


@dataclass(frozen=True)
class Cut:
    """One closed cut: the path (first point = start, closed back to it), where to pierce, and tabs."""

    path: tuple[Point, ...]
    hole: bool
    depth: int
    label: str
    pierce: Point | None = None
    tabs: tuple[tuple[float, float], ...] = ()  # (from, to) arc lengths along the path

    @property
    def entry(self) -> Point:
        return self.pierce or self.path[0]

    def length(self) -> float:
        ring = self.path + (self.path[0],)
        return sum(math.dist(a, b) for a, b in zip(ring, ring[1:], strict=False))

    def moved(self, dx: float, dy: float) -> Cut:
        pierce = (self.pierce[0] + dx, self.pierce[1] + dy) if self.pierce else None
        return replace(self, path=tuple((x + dx, y + dy) for x, y in self.path), pierce=pierce)


@dataclass(frozen=True)
class PathRules:
    """How contours become cuts on one machine for one material."""

    kerf_mm: float
    tolerance_mm: float
    lead_in_mm: float = 0.0
    tab_width_mm: float = 0.0
    tab_spacing_mm: float = 0.0


def plan_cuts(contours: list[Contour], rules: PathRules) -> tuple[list[Cut], list[str]]:
    """One cut per contour, kerf-compensated, outer contours clockwise and holes counter-clockwise."""
    cuts: list[Cut] = []
    warnings: list[str] = []
    for contour in contours:
        path, lost = _offset(contour, rules)
        if lost:
            warnings.append(f"{contour.describe()}: details narrower than the kerf are not cut")
        path = _start_on_longest_side(_oriented(path, clockwise=not contour.is_hole))
        cut = Cut(tuple(path), contour.is_hole, contour.depth, contour.describe())
        if rules.lead_in_mm > 0:
            cut, warning = _with_lead_in(cut, rules)
            warnings.extend(warning)
        if rules.tab_width_mm > 0 and not contour.is_hole:
            cut = replace(cut, tabs=_tabs(cut.length(), rules))
        cuts.append(cut)
    return cuts, warnings


def _offset(contour: Contour, rules: PathRules) -> tuple[list[Point], bool]:
    """Half the kerf outward for outer contours, inward for holes; True when detail was lost."""
    ring = list(contour.polygon.exterior.coords)[:-1]
    if rules.kerf_mm <= 0:
        return ring, False
    offset = pyclipper.PyclipperOffset(arc_tolerance=max(rules.tolerance_mm, 0.001) * _SCALE)
    offset.AddPath(pyclipper.scale_to_clipper(ring, _SCALE), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    delta = rules.kerf_mm / 2 * (-1 if contour.is_hole else 1)
    paths = [pyclipper.scale_from_clipper(p, _SCALE) for p in offset.Execute(delta * _SCALE)]
    outer = [p for p in paths if pyclipper.Orientation(pyclipper.scale_to_clipper(p, _SCALE))]
    if not outer:
        raise PreparationError(
            f"{contour.describe()} is smaller than the kerf {rules.kerf_mm:g} mm: it cannot be cut"
        )
    if contour.is_hole and len(outer) > 1:
        raise PreparationError(
            f"{contour.describe()} is narrower than the kerf {rules.kerf_mm:g} mm in places: "
            f"it would be cut as {len(outer)} separate pieces"
        )
    largest = max(outer, key=lambda p: abs(Polygon(p).area))
    return [(float(x), float(y)) for x, y in largest], len(paths) > 1


def _oriented(points: list[Point], clockwise: bool) -> list[Point]:
    ccw = Polygon(points).exterior.is_ccw
    return list(reversed(points)) if ccw == clockwise else points


def _start_on_longest_side(points: list[Point]) -> list[Point]:
    """Start in the middle of the longest side: a pierce mark or a lead-in sits best on a straight edge."""
    count = len(points)
    longest = max(range(count), key=lambda i: math.dist(points[i], points[(i + 1) % count]))
    a, b = points[longest], points[(longest + 1) % count]
    middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    return [middle, *points[longest + 1 :], *points[: longest + 1]]


def _with_lead_in(cut: Cut, rules: PathRules) -> tuple[Cut, list[str]]:
    """Pierce in the scrap, on the left of the cut direction: outside an outline, inside a hole."""
    start, following = cut.path[0], cut.path[1]
    length = math.dist(start, following) or 1.0
    normal = (-(following[1] - start[1]) / length, (following[0] - start[0]) / length)
    shape = Polygon(cut.path)
    distance = rules.lead_in_mm
    for _ in range(_LEAD_IN_TRIES):
        pierce = (start[0] + normal[0] * distance, start[1] + normal[1] * distance)
        if _in_scrap(pierce, shape, cut.hole, rules.kerf_mm):
            return replace(cut, pierce=pierce), []
        distance /= 2
    return cut, [f"{cut.label}: no room for a lead-in; pierced on the contour"]


def _in_scrap(point: Point, shape: Polygon, hole: bool, kerf: float) -> bool:
    clearance = max(kerf, 0.1)
    spot = ShapelyPoint(point)
    if hole:
        return bool(shape.contains(spot)) and shape.exterior.distance(spot) >= clearance
    return not shape.contains(spot) and shape.exterior.distance(spot) >= clearance * 0.5


def _tabs(perimeter: float, rules: PathRules) -> tuple[tuple[float, float], ...]:
    """Tabs spread evenly, at least two, none over the start of the path where the tool plunges."""
    if perimeter < 4 * rules.tab_width_mm:
        return ()
    count = max(2, math.ceil(perimeter / rules.tab_spacing_mm))
    half = rules.tab_width_mm / 2
    centres = [(i + 0.5) * perimeter / count for i in range(count)]
    return tuple((c - half, c + half) for c in centres)


def order_cuts(cuts: list[Cut]) -> list[Cut]:
    """Innermost first (holes before the outline around them), nearest entry next within a depth."""
    ordered: list[Cut] = []
    position: Point = (0.0, 0.0)
    for depth in sorted({c.depth for c in cuts}, reverse=True):
        remaining = [c for c in cuts if c.depth == depth]
        while remaining:
            nearest = min(remaining, key=lambda c: math.dist(position, c.entry))
            remaining.remove(nearest)
            ordered.append(nearest)
            position = nearest.path[0]
    return ordered


def bounds(cuts: list[Cut]) -> tuple[float, float, float, float]:
    """min x, min y, max x, max y over every path point and pierce point."""
    xs = [x for c in cuts for x, _ in (*c.path, c.entry)]
    ys = [y for c in cuts for _, y in (*c.path, c.entry)]
    return min(xs), min(ys), max(xs), max(ys)
