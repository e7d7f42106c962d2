"""Orientation-free bounding boxes and the build-volume fit test."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import trimesh

# Above this many vertices the search for the best orientation runs on an even sample of them
# (a convex hull of every vertex of a 1M-triangle mesh takes seconds); the box is then measured
# on every vertex, so it always encloses the part even when the sample misses a corner.
_SAMPLE = 1500


def min_box_extents(mesh: trimesh.Trimesh) -> tuple[float, float, float]:
    """Extents of the smallest box found around `mesh` in any orientation, sorted descending."""
    if len(mesh.vertices) == 0:
        return (0.0, 0.0, 0.0)
    aabb = _sorted(mesh.extents)
    points = np.asarray(mesh.vertices)
    try:
        transform, _ = trimesh.bounds.oriented_bounds(_sample(points), angle_digits=1)
    except Exception:  # noqa: BLE001 -- qhull fails on flat or degenerate input; the AABB still holds
        return aabb
    rotated = trimesh.transform_points(points, transform)
    oriented = _sorted(rotated.max(axis=0) - rotated.min(axis=0))
    return oriented if np.prod(oriented) < np.prod(aabb) else aabb


def _sample(points: np.ndarray) -> np.ndarray:
    if len(points) <= _SAMPLE:
        return points
    step = int(np.ceil(len(points) / _SAMPLE))
    extremes = np.concatenate([points.argmin(axis=0), points.argmax(axis=0)])
    return np.concatenate([points[::step], points[extremes]])


def _sorted(extents: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    a, b, c = sorted((float(x) for x in extents), reverse=True)
    return (a, b, c)


def fits(min_box_extents: Sequence[float], build_volume: Sequence[float]) -> bool:
    """True when a box of these extents fits the build volume (x, y, z) in some orientation.

    Any side of the box may stand vertical; the other two must fit the bed, straight or
    turned within the bed's plane (a long bar laid along the diagonal).
    """
    box = [float(x) for x in min_box_extents]
    bed_x, bed_y, height = (float(x) for x in build_volume)
    for up, p, q in ((box[i], box[j], box[k]) for i, j, k in itertools.permutations(range(3))):
        if up <= height and fits_rectangle(p, q, bed_x, bed_y):
            return True
    return False


def fits_rectangle(p: float, q: float, a: float, b: float) -> bool:
    """True when a p x q rectangle fits an a x b rectangle, rotated if need be (Carver's test)."""
    p, q = max(p, q), min(p, q)
    a, b = max(a, b), min(a, b)
    if p <= a and q <= b:
        return True
    if q > b or p == q:
        return False
    # Carver (1956), as stated by Wetzel, "Rectangles in rectangles", Math. Mag. 73 (2000).
    return ((a + b) / (p + q)) ** 2 + ((a - b) / (p - q)) ** 2 >= 2.0
