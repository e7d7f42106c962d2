"""2D drawings (DXF through ezdxf, SVG through svgelements) as flat pieces of outline in millimetres.

Curves are flattened to within the machine's curve tolerance; every piece keeps a label naming its
entity (DXF type, handle and layer; SVG element and id) so that later errors can point at it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fablab_agents.prepare.model import PreparationError

Point = tuple[float, float]

# DXF $INSUNITS codes to millimetres; 0 (unitless, and every R12 file) is read as millimetres.
_DXF_UNITS = {0: 1.0, 1: 25.4, 2: 304.8, 4: 1.0, 5: 10.0, 6: 1000.0}
_DXF_CUT_TYPES = frozenset({"LINE", "ARC", "CIRCLE", "ELLIPSE", "SPLINE", "LWPOLYLINE", "POLYLINE"})
_SVG_MM_PER_PX = 25.4 / 96.0
_CLOSE_MM = 1e-6


@dataclass(frozen=True)
class Piece:
    """A flattened outline piece from one entity; closed pieces are contours by themselves."""

    points: tuple[Point, ...]
    closed: bool
    label: str


@dataclass(frozen=True)
class Drawing:
    """The cuttable pieces of a drawing and what was left out of it."""

    pieces: tuple[Piece, ...]
    warnings: tuple[str, ...] = ()


def read_drawing(path: Path, tolerance_mm: float) -> Drawing:
    """Read a DXF or SVG file into pieces in millimetres."""
    suffix = path.suffix.lower()
    if suffix == ".dxf":
        return read_dxf(path, tolerance_mm)
    if suffix == ".svg":
        return read_svg(path, tolerance_mm)
    raise PreparationError(f"{path.name}: CAM reads DXF and SVG drawings, not {suffix or 'this file'}")


# ---- DXF ---------------------------------------------------------------------------------------


def read_dxf(path: Path, tolerance_mm: float) -> Drawing:
    """Every LINE, ARC, CIRCLE, ELLIPSE, SPLINE and polyline of the model space, blocks exploded."""
    doc = _open_dxf(path)
    scale = _dxf_scale(doc, path)
    pieces: list[Piece] = []
    skipped: Counter[str] = Counter()
    hidden = {layer.dxf.name for layer in doc.layers if layer.is_off() or layer.is_frozen()}
    for entity, label in _dxf_entities(doc.modelspace(), ""):
        kind = entity.dxftype()
        if entity.dxf.get("layer", "0") in hidden:
            skipped[f"{kind} on a hidden layer"] += 1
        elif kind in _DXF_CUT_TYPES:
            pieces.append(_dxf_piece(entity, label, scale, tolerance_mm))
        else:
            skipped[kind] += 1
    return Drawing(tuple(pieces), _skipped_warnings(path, skipped))


def _open_dxf(path: Path) -> Any:
    import ezdxf
    from ezdxf import recover

    try:
        doc, _auditor = recover.readfile(str(path))
    except (OSError, ezdxf.DXFStructureError) as exc:
        raise PreparationError(f"{path.name}: not a readable DXF file ({exc})") from exc
    return doc


def _dxf_scale(doc: Any, path: Path) -> float:
    units = int(doc.header.get("$INSUNITS", 0) or 0)
    if units not in _DXF_UNITS:
        raise PreparationError(
            f"{path.name}: drawing units code {units} ($INSUNITS) is not supported; use mm, cm, m, in or ft"
        )
    return _DXF_UNITS[units]


def _dxf_entities(space: Any, block: str = "") -> Any:
    """Yield (entity, label); an INSERT yields its block's entities, numbered within the block."""
    for number, entity in enumerate(space, start=1):
        layer = entity.dxf.get("layer", "0")
        handle = entity.dxf.get("handle")
        name = (
            f"{entity.dxftype()} {handle}" if handle and not block else f"{entity.dxftype()} #{number}{block}"
        )
        if entity.dxftype() == "INSERT":
            inside = f" of block {entity.dxf.name!r} (INSERT {handle or '#' + str(number)})"
            yield from _dxf_entities(entity.virtual_entities(), inside)
        else:
            yield entity, f"{name} on layer {layer}"


def _dxf_piece(entity: Any, label: str, scale: float, tolerance_mm: float) -> Piece:
    from ezdxf import path as dxf_path

    outline = dxf_path.make_path(entity)
    points = [(v.x * scale, v.y * scale) for v in outline.flattening(tolerance_mm / scale)]
    closed = bool(getattr(entity, "is_closed", False)) or entity.dxftype() == "CIRCLE"
    return _piece(points, closed, label)


def _skipped_warnings(path: Path, skipped: Counter[str]) -> tuple[str, ...]:
    if not skipped:
        return ()
    listed = ", ".join(f"{count} {kind}" for kind, count in sorted(skipped.items()))
    return (f"{path.name}: not cut: {listed}",)


# ---- SVG ---------------------------------------------------------------------------------------


def read_svg(path: Path, tolerance_mm: float) -> Drawing:
    """Every path and shape of the document, transforms and viewBox applied, Y pointing up."""
    import svgelements as svg

    try:
        document = svg.SVG.parse(str(path), reify=True, ppi=96.0)
    except Exception as exc:  # svgelements raises whatever its XML parser raised
        raise PreparationError(f"{path.name}: not a readable SVG file ({exc})") from exc
    pieces: list[Piece] = []
    skipped: Counter[str] = Counter()
    shapes = 0
    for element in document.elements():
        if isinstance(element, svg.Shape):
            shapes += 1
            pieces.extend(_svg_pieces(svg.Path(element), _svg_label(element, shapes), tolerance_mm))
        elif isinstance(element, svg.Text | svg.Image):
            skipped[type(element).__name__.lower()] += 1
    return Drawing(tuple(pieces), _skipped_warnings(path, skipped))


def _svg_label(element: Any, number: int) -> str:
    kind = element.values.get("tag") or type(element).__name__.lower()
    return f'<{kind} id="{element.id}">' if element.id else f"<{kind}> (shape {number})"


def _svg_pieces(outline: Any, label: str, tolerance_mm: float) -> list[Piece]:
    subpaths = list(outline.as_subpaths())
    result = []
    for index, subpath in enumerate(subpaths, start=1):
        points, closed = _svg_points(subpath, tolerance_mm)
        if len(points) >= 2:
            where = f"{label}, subpath {index}" if len(subpaths) > 1 else label
            result.append(_piece(points, closed, where))
    return result


def _svg_points(subpath: Any, tolerance_mm: float) -> tuple[list[Point], bool]:
    import svgelements as svg

    points: list[Point] = []
    closed = False
    for segment in subpath:
        if isinstance(segment, svg.Move):
            points.append(_svg_mm(segment.end))
        elif isinstance(segment, svg.Close):
            closed = True
        elif isinstance(segment, svg.Line):
            points.append(_svg_mm(segment.end))
        elif segment.start is not None and segment.end is not None:
            points.extend(_svg_curve(segment, tolerance_mm))
    return points, closed


def _svg_curve(segment: Any, tolerance_mm: float) -> list[Point]:
    length_mm = float(segment.length(error=1e-4)) * _SVG_MM_PER_PX
    # n chords of a circular arc of this length deviate at most tolerance_mm from it
    count = max(2, min(5000, math.ceil(math.sqrt(math.pi * length_mm / (4 * tolerance_mm)))))
    return [_svg_mm(segment.point(i / count)) for i in range(1, count + 1)]


def _svg_mm(point: Any) -> Point:
    return (float(point.x) * _SVG_MM_PER_PX, -float(point.y) * _SVG_MM_PER_PX)


def _piece(points: list[Point], closed: bool, label: str) -> Piece:
    deduplicated = [p for i, p in enumerate(points) if i == 0 or math.dist(p, points[i - 1]) > _CLOSE_MM]
    if closed and len(deduplicated) > 1 and math.dist(deduplicated[0], deduplicated[-1]) <= _CLOSE_MM:
        deduplicated.pop()
    return Piece(tuple(deduplicated), closed, label)
