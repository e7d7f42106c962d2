"""Small meshes built in memory for the mesh tests."""

from __future__ import annotations

import trimesh


def stl(mesh: trimesh.Trimesh) -> bytes:
    """Binary STL bytes of a mesh."""
    data: bytes = trimesh.exchange.stl.export_stl(mesh)
    return data


def cube(size: float = 10.0, at: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    """An axis-aligned cube with its lowest corner at `at`."""
    mesh = trimesh.creation.box(extents=(size, size, size))
    mesh.apply_translation([a + size / 2 for a in at])
    return mesh
