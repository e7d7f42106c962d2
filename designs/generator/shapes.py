"""Solid parts built from boxes and cylinders with manifold3d booleans, written as binary STL."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np
from manifold3d import Manifold

SEGMENTS = 32

# (x, y, diameter) of a hole through a plate, or (x, y, z, diameter, axis) for a bore.
Hole = tuple[float, float, float]


def box(x: float, y: float, z: float, at: Sequence[float] = (0.0, 0.0, 0.0)) -> Manifold:
    """An axis-aligned box with its lowest corner at `at`."""
    return Manifold.cube([x, y, z]).translate(list(at))


def rod(length: float, diameter: float, at: Sequence[float], axis: str = "z") -> Manifold:
    """A cylinder starting at `at` and running `length` along an axis."""
    body = Manifold.cylinder(length, diameter / 2, diameter / 2, SEGMENTS)
    if axis == "x":
        body = body.rotate([0.0, 90.0, 0.0])
    elif axis == "y":
        body = body.rotate([-90.0, 0.0, 0.0])
    return body.translate(list(at))


def union(parts: Iterable[Manifold]) -> Manifold:
    """All parts joined into one solid."""
    return Manifold.batch_boolean(list(parts), _op("Add"))


def cut(body: Manifold, tools: Iterable[Manifold]) -> Manifold:
    """`body` with every tool removed."""
    tools = list(tools)
    if not tools:
        return body
    return body - Manifold.batch_boolean(tools, _op("Add"))


def _op(name: str) -> object:
    from manifold3d import OpType

    return getattr(OpType, name)


def plate(x: float, y: float, t: float, holes: Sequence[Hole] = ()) -> Manifold:
    """A flat plate with vertical through holes (x, y, diameter)."""
    drills = [rod(t + 2, d, (hx, hy, -1)) for hx, hy, d in holes]
    return cut(box(x, y, t), drills)


def tube(length: float, outer: float, inner: float) -> Manifold:
    """A hollow cylinder standing on the bed."""
    return rod(length, outer, (0, 0, 0)) - rod(length + 2, inner, (0, 0, -1))


def angle_bracket(width: float, leg: float, t: float, hole: float) -> Manifold:
    """An L bracket: two legs of `leg` mm at right angles, each with two holes."""
    base = plate(leg, width, t, [(leg * 0.6, width * 0.25, hole), (leg * 0.6, width * 0.75, hole)])
    wall = box(t, width, leg)
    bores = [rod(t + 2, hole, (-1, width * f, leg * 0.6), "x") for f in (0.25, 0.75)]
    gusset = box(leg * 0.5, t, leg * 0.5, (0, width / 2 - t / 2, 0))
    return cut(union([base, wall, gusset]), bores)


def nema17_mount(t: float, flange: float) -> Manifold:
    """A NEMA 17 face plate (31 mm screw square, 22 mm pilot) on a foot with two screw holes."""
    face = box(t, 46, 46, (0, 0, 0))
    screws = [rod(t + 2, 3.4, (-1, 23 + dx, 23 + dy), "x") for dx in (-15.5, 15.5) for dy in (-15.5, 15.5)]
    pilot = rod(t + 2, 23, (-1, 23, 23), "x")
    foot = plate(flange, 46, t, [(flange * 0.65, 10, 4.4), (flange * 0.65, 36, 4.4)])
    return cut(union([face, foot]), [*screws, pilot])


def bearing_block(x: float, y: float, z: float, bore: float, screw: float = 3.4) -> Manifold:
    """A block with a horizontal bore along y and two vertical screw holes."""
    body = box(x, y, z)
    tools = [rod(y + 2, bore, (x / 2, -1, z / 2), "y")]
    tools += [rod(z + 2, screw, (cx, y / 2, -1)) for cx in (x * 0.12, x * 0.88) if x > bore + 8]
    return cut(body, tools)


def belt_clamp(length: float, width: float, t: float) -> Manifold:
    """A clamp plate with a belt groove and two screw holes."""
    body = plate(length, width, t, [(length * 0.15, width / 2, 3.4), (length * 0.85, width / 2, 3.4)])
    groove = box(length * 0.5, 6.5, 1.2, (length * 0.25, width / 2 - 3.25, t - 1.2))
    return body - groove


def knob(diameter: float, height: float, bore: float) -> Manifold:
    """A round knob with a grip ring and a centre bore."""
    return (rod(height, diameter, (0, 0, 0)) + rod(height * 0.4, diameter * 1.15, (0, 0, 0))) - rod(
        height + 2, bore, (0, 0, -1)
    )


def clip(width: float, gap: float, wall: float, depth: float) -> Manifold:
    """A U clip that snaps over a bar `gap` mm thick."""
    outer = box(gap + 2 * wall, depth, width)
    slot = box(gap, depth + 2, width - wall, (wall, -1, wall))
    return outer - slot


def stl_bytes(solid: Manifold) -> bytes:
    """A binary STL of the solid with a fixed header, so equal shapes give equal bytes."""
    mesh = solid.to_mesh()
    vertices = np.round(np.asarray(mesh.vert_properties)[:, :3].astype(np.float64), 4)
    triangles = vertices[np.asarray(mesh.tri_verts)]
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
    record = np.zeros(len(triangles), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    record["n"] = normals
    record["v"] = triangles
    header = b"peerfab example part".ljust(80, b" ")
    return header + struct.pack("<I", len(triangles)) + record.tobytes()
