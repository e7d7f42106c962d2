"""Mesh previews as SVG: a fixed isometric view, painter's algorithm and Lambert shading.

Pure numpy: vertices and faces in, SVG text out. Big meshes are decimated by vertex clustering
first, so a preview stays a few thousand polygons whatever the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

# Isometric camera: looking from the front-right-top corner (z is up, as on a print bed).
VIEW = np.array([1.0, -1.0, 1.0]) / np.sqrt(3.0)
RIGHT = np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)
UP = np.cross(VIEW, RIGHT)
# Light mostly from above and the front, so the three visible sides of a box differ in tone.
LIGHT = np.array([0.3, -0.5, 1.0]) / np.linalg.norm([0.3, -0.5, 1.0])
AMBIENT = 0.28
BASE_RGB = np.array([82.0, 150.0, 220.0])
MAX_FACES = 3000
_MARGIN = 0.04


@dataclass(frozen=True)
class Preview:
    """An SVG document and what it shows."""

    svg: str
    polygons: int
    source_faces: int


def decimate(vertices: Floats, faces: Ints, max_faces: int = MAX_FACES) -> tuple[Floats, Ints]:
    """Merge vertices on ever coarser grids until at most `max_faces` faces remain."""
    if len(faces) <= max_faces:
        return vertices, faces
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    extent = float((high - low).max()) or 1.0
    # faces of a surface grow with the square of the grid resolution
    cells = max(4.0, np.sqrt(max_faces) * 1.5)
    while True:
        merged_v, merged_f = _cluster(vertices, faces, low, extent / cells)
        if len(merged_f) <= max_faces or cells <= 2:
            return merged_v, merged_f
        cells *= 0.8


def _cluster(vertices: Floats, faces: Ints, low: Floats, cell: float) -> tuple[Floats, Ints]:
    keys = np.floor((vertices - low) / cell).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    merged = np.zeros((len(counts), 3))
    np.add.at(merged, inverse, vertices)
    merged /= counts[:, None]
    new_faces = inverse[faces]
    distinct = (
        (new_faces[:, 0] != new_faces[:, 1])
        & (new_faces[:, 1] != new_faces[:, 2])
        & (new_faces[:, 0] != new_faces[:, 2])
    )
    new_faces = new_faces[distinct]
    _, first = np.unique(np.sort(new_faces, axis=1), axis=0, return_index=True)
    return merged, new_faces[np.sort(first)]


def render_mesh_svg(
    vertices: Floats,
    faces: Ints,
    *,
    size: int = 480,
    title: str = "",
    closed: bool = True,
    max_faces: int = MAX_FACES,
) -> Preview:
    """Render a triangle mesh; `closed` meshes drop the faces turned away from the viewer."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    source_faces = len(faces)
    vertices, faces = decimate(vertices, faces, max_faces)
    triangles = vertices[faces]
    normals = _unit_normals(triangles)
    facing = normals @ VIEW
    keep = np.linalg.norm(normals, axis=1) > 0
    if closed:
        keep &= facing > 0
    else:
        normals = normals * np.where(facing < 0, -1.0, 1.0)[:, None]  # two-sided shading
    triangles, normals = triangles[keep], normals[keep]
    order = np.argsort(triangles.mean(axis=1) @ VIEW, kind="stable")  # far faces first
    triangles, normals = triangles[order], normals[order]
    points = _to_screen(triangles, vertices, size)
    colours = _shade(normals)
    body = "".join(_polygon(p, c) for p, c in zip(points, colours, strict=True))
    return Preview(svg=_document(body, size, title), polygons=len(points), source_faces=source_faces)


def _unit_normals(triangles: Floats) -> Floats:
    raw = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    length = np.linalg.norm(raw, axis=1)
    safe = np.where(length > 0, length, 1.0)
    return np.where(length[:, None] > 0, raw / safe[:, None], 0.0)


def _to_screen(triangles: Floats, vertices: Floats, size: int) -> Floats:
    """Project onto the view plane and fit the whole mesh (not only visible faces) in the square."""
    all_x, all_y = vertices @ RIGHT, -(vertices @ UP)
    span = max(float(np.ptp(all_x)), float(np.ptp(all_y))) or 1.0
    scale = size * (1 - 2 * _MARGIN) / span
    centre_x = (all_x.max() + all_x.min()) / 2
    centre_y = (all_y.max() + all_y.min()) / 2
    x = (triangles @ RIGHT - centre_x) * scale + size / 2
    y = (-(triangles @ UP) - centre_y) * scale + size / 2
    return np.stack([x, y], axis=2)


def _shade(normals: Floats) -> list[str]:
    intensity = AMBIENT + (1 - AMBIENT) * np.clip(normals @ LIGHT, 0.0, 1.0)
    rgb = np.clip(BASE_RGB[None, :] * intensity[:, None], 0, 255).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]


def _polygon(points: Floats, colour: str) -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    # a stroke in the fill colour hides the hairline seams between neighbouring triangles
    return f'<polygon points="{coords}" fill="{colour}" stroke="{colour}"/>'


def _document(body: str, size: int, title: str) -> str:
    label = escape(title or "mesh preview")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}" role="img" aria-labelledby="preview-title">'
        f'<title id="preview-title">{label}</title>'
        f'<g stroke-width="0.6" stroke-linejoin="round">{body}</g></svg>'
    )
