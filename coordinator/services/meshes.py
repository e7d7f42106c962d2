"""Mesh analysis as the registry uses it: every mesh of a package, with the triangle limit."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from coordinator.bom.manifest import FabricatedPart
from coordinator.bom.package import DesignPackage
from protocol.errors import PayloadTooLarge

MESH_SUFFIXES = {".stl", ".obj", ".3mf", ".ply", ".off", ".glb"}


def is_mesh(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in MESH_SUFFIXES


def analyse_for_publish(package: DesignPackage, max_triangles: int) -> dict[str, dict[str, Any]]:
    """Analyse every mesh a fabricated part uses; refuse a mesh over the triangle limit."""
    from coordinator.mesh.analysis import analyze_mesh

    reports: dict[str, dict[str, Any]] = {}
    for part in package.check.parts.values():
        if not isinstance(part, FabricatedPart) or not is_mesh(part.file) or part.file in reports:
            continue
        path = package.path / part.file
        report = analyze_mesh(path, material=_known_material(part.material)).to_dict()
        if report["triangles"] > max_triangles:
            raise PayloadTooLarge(
                f"part {part.id!r}: {part.file} has {report['triangles']:,} triangles, "
                f"more than the limit of {max_triangles:,}"
            )
        reports[part.file] = report
    return reports


def _known_material(material: str) -> str | None:
    from coordinator.mesh.materials import find_material

    return material if find_material(material) is not None else None
