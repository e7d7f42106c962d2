"""The mesh preview renderer: valid SVG, visible faces only, a box looks like a box."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import trimesh

from coordinator.dashboard.svg_mesh import MAX_FACES, VIEW, decimate, render_mesh_svg

SVG = "{http://www.w3.org/2000/svg}"


def polygons(svg: str) -> list[list[tuple[float, float]]]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    result = []
    for poly in root.iter(f"{SVG}polygon"):
        pairs = [p.split(",") for p in poly.attrib["points"].split()]
        result.append([(float(x), float(y)) for x, y in pairs])
    return result


def fills(svg: str) -> list[str]:
    return [p.attrib["fill"] for p in ET.fromstring(svg).iter(f"{SVG}polygon")]


def screen_ratio(svg: str) -> float:
    points = [pt for poly in polygons(svg) for pt in poly]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (max(ys) - min(ys)) / (max(xs) - min(xs))


def test_closed_box_shows_its_three_visible_sides_as_six_triangles() -> None:
    box = trimesh.creation.box((20, 10, 5))
    preview = render_mesh_svg(box.vertices, box.faces)
    assert preview.polygons == 6
    assert len(polygons(preview.svg)) == 6
    assert len(set(fills(preview.svg))) == 3  # top, front and side differ in tone


def test_open_mesh_keeps_every_face() -> None:
    box = trimesh.creation.box((20, 10, 5))
    preview = render_mesh_svg(box.vertices, box.faces, closed=False)
    assert len(polygons(preview.svg)) == 12


@pytest.mark.parametrize(
    ("extents", "ratio"),
    [
        # isometric silhouette of a cube: height (4/sqrt 6) over width (sqrt 2)
        ((10, 10, 10), 4 / math.sqrt(6) / math.sqrt(2)),
        # a flat 20 x 10 x 5 plate: width (20+10)/sqrt 2, height (20+10+2*5)/sqrt 6
        ((20, 10, 5), (40 / math.sqrt(6)) / (30 / math.sqrt(2))),
    ],
)
def test_box_silhouette_has_isometric_proportions(extents: tuple[float, float, float], ratio: float) -> None:
    box = trimesh.creation.box(extents)
    assert screen_ratio(render_mesh_svg(box.vertices, box.faces).svg) == pytest.approx(ratio, rel=0.01)


def test_drawing_fits_the_square_with_a_margin() -> None:
    box = trimesh.creation.box((300, 5, 5))
    preview = render_mesh_svg(box.vertices, box.faces, size=200)
    points = [pt for poly in polygons(preview.svg) for pt in poly]
    assert min(min(p) for p in points) >= 0
    assert max(max(p) for p in points) <= 200
    xs = [p[0] for p in points]
    assert max(xs) - min(xs) > 180  # the long side fills the image


def test_top_face_is_brightest() -> None:
    box = trimesh.creation.box((10, 10, 10))
    svg = render_mesh_svg(box.vertices, box.faces).svg
    root = ET.fromstring(svg)
    brightness = {}
    for poly in root.iter(f"{SVG}polygon"):
        pts = [tuple(map(float, p.split(","))) for p in poly.attrib["points"].split()]
        colour = poly.attrib["fill"]
        brightness[min(y for _, y in pts)] = sum(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    # the polygon reaching highest on screen belongs to the top face
    assert brightness[min(brightness)] == max(brightness.values())


def test_far_faces_are_drawn_first() -> None:
    near = trimesh.creation.box((10, 10, 10))
    far = trimesh.creation.box((14, 14, 14))
    far.apply_translation(-40 * VIEW)  # straight behind the near box, hidden by it
    both = trimesh.util.concatenate([near, far])
    drawn = polygons(render_mesh_svg(both.vertices, both.faces).svg)
    assert len(drawn) == 12

    def width(polys: list[list[tuple[float, float]]]) -> float:
        xs = [x for poly in polys for x, _ in poly]
        return max(xs) - min(xs)

    assert width(drawn[:6]) > width(drawn[6:]) * 1.3  # the big far box first, the near one over it


def test_big_mesh_is_decimated_to_a_few_thousand_polygons() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=6)
    assert len(sphere.faces) > 80_000
    preview = render_mesh_svg(sphere.vertices, sphere.faces)
    assert preview.source_faces == len(sphere.faces)
    assert 300 < preview.polygons <= MAX_FACES
    assert len(polygons(preview.svg)) == preview.polygons


def test_decimation_keeps_the_shape() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=10)
    vertices, faces = decimate(sphere.vertices, sphere.faces, 2000)
    assert len(faces) <= 2000
    radii = np.linalg.norm(vertices[np.unique(faces)], axis=1)
    assert radii.min() > 9.0 and radii.max() <= 10.0 + 1e-9


def test_title_is_escaped() -> None:
    box = trimesh.creation.box((1, 1, 1))
    svg = render_mesh_svg(box.vertices, box.faces, title="<b>&</b>").svg
    assert ET.fromstring(svg).find(f"{SVG}title").text == "<b>&</b>"
