import math

import numpy as np
import pytest
import trimesh

from coordinator.mesh.bounds import fits, fits_rectangle, min_box_extents


def _fits_by_turning(p: float, q: float, a: float, b: float) -> bool:
    """Reference: try the rectangle at many angles."""
    for angle in np.linspace(0.0, math.pi / 2, 20001):
        width = p * math.cos(angle) + q * math.sin(angle)
        depth = p * math.sin(angle) + q * math.cos(angle)
        if width <= a + 1e-9 and depth <= b + 1e-9:
            return True
    return False


def test_rectangle_test_agrees_with_turning_it() -> None:
    rng = np.random.default_rng(7)
    for _ in range(150):
        a, b = rng.uniform(100, 300, 2)
        p = rng.uniform(max(a, b), 1.45 * max(a, b))
        q = rng.uniform(0.5, 60)
        assert fits_rectangle(p, q, a, b) == _fits_by_turning(p, q, a, b), (p, q, a, b)


def test_long_bar_fits_only_along_the_diagonal() -> None:
    bar = (300.0, 20.0, 14.0)
    assert fits(bar, (250, 250, 250))
    assert not fits(bar, (220, 220, 250))
    assert fits(bar, (310, 30, 30))


def test_any_side_may_stand_up() -> None:
    assert fits((200, 50, 10), (60, 60, 210))
    assert not fits((200, 50, 10), (60, 60, 150))


def test_min_box_of_a_turned_plate_is_the_plate() -> None:
    plate = trimesh.creation.box(extents=(240, 30, 5))
    plate.apply_transform(trimesh.transformations.euler_matrix(0.3, 0.5, 0.7))
    assert max(plate.extents) > 150 and min(plate.extents) > 20  # tumbled: its AABB is fat
    assert min_box_extents(plate) == pytest.approx((240, 30, 5), abs=0.5)


def test_min_box_is_sorted_descending() -> None:
    box = trimesh.creation.box(extents=(5, 40, 20))
    assert min_box_extents(box) == pytest.approx((40, 20, 5))
