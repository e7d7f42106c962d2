"""Pieces of outline joined into closed contours, checked, and nested into outer contours and holes.

A drawing for cutting must be closed loops that neither cross themselves nor each other; anything
else is refused with the entity and the place, before any G-code is written.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from shapely import STRtree
from shapely.geometry import LinearRing, Polygon
from shapely.validation import explain_validity

from fablab_agents.prepare.drawing import Piece, Point
from fablab_agents.prepare.model import PreparationError

# Ends closer than this are joined: CAD exports leave gaps of a few micrometres between entities.
JOIN_TOLERANCE_MM = 0.05


@dataclass(frozen=True)
class Contour:
    """A closed outline; depth 0, 2, ... are outer contours of parts, odd depths are holes."""

    polygon: Polygon
    labels: tuple[str, ...]
    depth: int = 0

    @property
    def is_hole(self) -> bool:
        return self.depth % 2 == 1

    def describe(self) -> str:
        names = ", ".join(self.labels[:3]) + (
            f" and {len(self.labels) - 3} more" if len(self.labels) > 3 else ""
        )
        return f"{'hole' if self.is_hole else 'outline'} ({names})"


def build_contours(pieces: tuple[Piece, ...], source: str) -> list[Contour]:
    """Join, check and nest the pieces of a drawing; errors name the entity and the point."""
    if not pieces:
        raise PreparationError(f"{source}: the drawing has nothing to cut (no lines, arcs, circles or paths)")
    rings: list[tuple[list[Point], tuple[str, ...]]] = [
        (list(p.points), (p.label,)) for p in pieces if _is_loop(p)
    ]
    rings += _chain([p for p in pieces if not _is_loop(p)])
    contours = [_checked(points, labels) for points, labels in rings]
    _refuse_crossings(contours)
    return _nested(contours)


def _is_loop(piece: Piece) -> bool:
    ends_meet = len(piece.points) > 2 and math.dist(piece.points[0], piece.points[-1]) <= JOIN_TOLERANCE_MM
    return piece.closed or ends_meet


# ---- joining open pieces -----------------------------------------------------------------------


class _Ends:
    """Piece ends snapped to shared nodes within the join tolerance (a grid keeps the lookup local)."""

    def __init__(self) -> None:
        self.nodes: list[Point] = []
        self._grid: dict[tuple[int, int], list[int]] = defaultdict(list)

    def node(self, point: Point) -> int:
        cx, cy = (math.floor(c / JOIN_TOLERANCE_MM) for c in point)
        for key in ((cx + dx, cy + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)):
            for index in self._grid.get(key, ()):
                if math.dist(self.nodes[index], point) <= JOIN_TOLERANCE_MM:
                    return index
        self.nodes.append(point)
        self._grid[(cx, cy)].append(len(self.nodes) - 1)
        return len(self.nodes) - 1


def _chain(pieces: list[Piece]) -> list[tuple[list[Point], tuple[str, ...]]]:
    ends = _Ends()
    links = [(ends.node(p.points[0]), ends.node(p.points[-1])) for p in pieces]
    at_node: dict[int, list[int]] = defaultdict(list)
    for index, (start, end) in enumerate(links):
        at_node[start].append(index)
        at_node[end].append(index)
    for node, members in at_node.items():
        _check_node(node, members, pieces, ends)
    used: set[int] = set()
    loops = []
    for first in range(len(pieces)):
        if first not in used:
            loops.append(_walk(first, pieces, links, at_node, used))
    return loops


def _check_node(node: int, members: list[int], pieces: list[Piece], ends: _Ends) -> None:
    x, y = ends.nodes[node]
    if len(members) == 1:
        raise PreparationError(
            f"open contour: {pieces[members[0]].label} ends at ({x:.3f}, {y:.3f}) mm, joined to nothing"
        )
    if len(members) > 2:
        names = ", ".join(pieces[i].label for i in members[:4])
        raise PreparationError(
            f"contours branch at ({x:.3f}, {y:.3f}) mm: {len(members)} ends meet there ({names})"
        )


def _walk(
    first: int,
    pieces: list[Piece],
    links: list[tuple[int, int]],
    at_node: dict[int, list[int]],
    used: set[int],
) -> tuple[list[Point], tuple[str, ...]]:
    """Follow pieces end to end from `first` until the loop closes (every node joins two ends)."""
    points: list[Point] = list(pieces[first].points)
    labels = [pieces[first].label]
    used.add(first)
    start, node = links[first]
    current = first
    while node != start:
        current = next(i for i in at_node[node] if i != current and i not in used)
        used.add(current)
        labels.append(pieces[current].label)
        forward = links[current][0] == node
        following = pieces[current].points if forward else tuple(reversed(pieces[current].points))
        points.extend(following[1:])
        node = links[current][1] if forward else links[current][0]
    return points[:-1], tuple(labels)


# ---- checks and nesting ------------------------------------------------------------------------


def _checked(points: list[Point], labels: tuple[str, ...]) -> Contour:
    names = ", ".join(labels[:3])
    if len(points) < 3:
        raise PreparationError(f"degenerate contour ({names}): fewer than three distinct points")
    polygon = Polygon(points)
    if not polygon.is_valid:
        raise PreparationError(f"self-intersecting contour ({names}): {_where(explain_validity(polygon))}")
    if polygon.area <= 1e-9:
        raise PreparationError(f"degenerate contour ({names}): it encloses no area")
    return Contour(polygon, labels)


def _where(reason: str) -> str:
    """GEOS says `Self-intersection[12.5 30]`; say it in millimetres."""
    kind, _, rest = reason.partition("[")
    coords = rest.rstrip("]").split()
    if len(coords) >= 2:
        return f"{kind.lower()} at ({float(coords[0]):.3f}, {float(coords[1]):.3f}) mm"
    return reason


def _refuse_crossings(contours: list[Contour]) -> None:
    rings = [LinearRing(c.polygon.exterior.coords) for c in contours]
    tree = STRtree(rings)
    for index, ring in enumerate(rings):
        for other in tree.query(ring, predicate="intersects"):
            if other > index:
                spot = ring.intersection(rings[other]).representative_point()
                raise PreparationError(
                    f"contours cross or touch at ({spot.x:.3f}, {spot.y:.3f}) mm: "
                    f"{', '.join(contours[index].labels[:2])} and {', '.join(contours[other].labels[:2])}"
                )


def _nested(contours: list[Contour]) -> list[Contour]:
    """Depth = how many other contours enclose this one."""
    polygons = [c.polygon for c in contours]
    tree = STRtree(polygons)
    result = []
    for index, contour in enumerate(contours):
        around = [i for i in tree.query(contour.polygon, predicate="within") if i != index]
        result.append(Contour(contour.polygon, contour.labels, depth=len(around)))
    return result
