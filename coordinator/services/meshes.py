"""Mesh analysis as the registry uses it: every mesh of a package, with the triangle limit."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from coordinator.bom.manifest import FabricatedPart
from coordinator.bom.package import DesignPackage
from coordinator.mesh.counting import check_triangles

MESH_SUFFIXES = {".stl", ".obj", ".3mf", ".ply", ".off", ".glb"}


def is_mesh(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in MESH_SUFFIXES


def analyse_for_publish(
    package: DesignPackage, max_triangles: int, max_unpacked_bytes: int = 1_000_000_000
) -> dict[str, dict[str, Any]]:
    """Analyse every mesh a fabricated part uses; a mesh over the triangle limit is refused unloaded."""
    from coordinator.mesh.analysis import analyze_mesh

    meshes = _meshes(package)
    for part_id, file in meshes.items():
        label = f"part {part_id!r}: {file}"
        check_triangles(package.path / file, max_triangles, label, max_unpacked_bytes)
    reports: dict[str, dict[str, Any]] = {}
    for file in meshes.values():
        material = _known_material(_material_of(package, file))
        reports[file] = analyze_mesh(package.path / file, material=material, label=file).to_dict()
    return reports


def _meshes(package: DesignPackage) -> dict[str, str]:
    """Part id -> mesh file, each file once."""
    found: dict[str, str] = {}
    for part in package.check.parts.values():
        if isinstance(part, FabricatedPart) and is_mesh(part.file) and part.file not in found.values():
            found[part.id] = part.file
    return found


def _material_of(package: DesignPackage, file: str) -> str:
    return next(
        p.material for p in package.check.parts.values() if isinstance(p, FabricatedPart) and p.file == file
    )


def _known_material(material: str) -> str | None:
    from coordinator.mesh.materials import find_material

    return material if find_material(material) is not None else None
