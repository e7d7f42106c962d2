"""Mesh analysis: load a mesh file and measure what planning and costing need."""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from coordinator.mesh.bounds import min_box_extents
from coordinator.mesh.materials import get_material
from coordinator.mesh.printtime import (
    DEFAULT_PROFILE,
    PrinterProfile,
    ShellGeometry,
    estimate_print_time_s,
)
from protocol.errors import InvalidInput

MESH_TYPES = ("stl", "obj", "3mf", "ply")

# Faces whose normal is within ~45 degrees of vertical print as top or bottom skins, the rest
# as perimeter walls: the split a slicer makes between solid layers and perimeters.
_SKIN_NZ = math.cos(math.radians(45))

# A triangle smaller than this (mm2) has no area a slicer can see.
_DEGENERATE_AREA = 1e-12


@dataclass(frozen=True)
class MeshReport:
    """What peerfab knows about a mesh: size, soundness, mass and an FDM print-time estimate."""

    triangles: int
    bodies: int
    watertight: bool
    winding_consistent: bool
    volume_mm3: float
    volume_reliable: bool
    area_mm2: float
    extents_mm: tuple[float, float, float]
    min_box_mm: tuple[float, float, float]
    mass_g: float | None
    material: str | None
    est_print_time_s: float
    problems: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        data = asdict(self)
        data["extents_mm"] = list(self.extents_mm)
        data["min_box_mm"] = list(self.min_box_mm)
        data["problems"] = list(self.problems)
        return data


def analyze_mesh(
    source: str | Path | bytes,
    *,
    material: str | None = None,
    file_type: str | None = None,
    machine: PrinterProfile | None = None,
    label: str | None = None,
) -> MeshReport:
    """Analyse the mesh at a path (or in bytes); broken meshes are reported, bad files refused."""
    known = get_material(material) if material else None
    mesh = load_mesh(source, file_type=file_type, label=label)
    return analyze_loaded(
        mesh,
        density_g_cm3=known.density_g_cm3 if known else None,
        material=known.name if known else None,
        machine=machine,
    )


def load_mesh(
    source: str | Path | bytes, *, file_type: str | None = None, label: str | None = None
) -> trimesh.Trimesh:
    """Read a mesh file into one Trimesh with duplicate vertices merged; `label` names it in errors."""
    data, kind, default_label = _read_source(source, file_type)
    label = label or default_label
    try:
        # process=False skips trimesh's normal re-validation; merging vertices is the only
        # processing the edge-based checks (watertight, bodies) need.
        loaded = trimesh.load(io.BytesIO(data), file_type=kind, process=False, force="mesh")
    except Exception as exc:  # noqa: BLE001 -- every parser failure means the same to the user
        raise InvalidInput(f"{label}: not a readable {kind.upper()} mesh ({exc})") from exc
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise InvalidInput(f"{label}: holds no triangles; is it a {kind.upper()} mesh?")
    _check_finite(loaded, label)
    loaded.merge_vertices()
    return loaded


def _check_finite(mesh: trimesh.Trimesh, label: str) -> None:
    """NaN or infinite coordinates (an ASCII STL may spell them) make every measure meaningless."""
    finite = np.isfinite(np.asarray(mesh.vertices)).all(axis=1)
    if not finite.all():
        bad = int((~finite).sum())
        raise InvalidInput(f"{label}: {bad:,} vertices have NaN or infinite coordinates")


def _read_source(source: str | Path | bytes, file_type: str | None) -> tuple[bytes, str, str]:
    if isinstance(source, bytes | bytearray):
        label, data = "<bytes>", bytes(source)
        kind = (file_type or "stl").lower().lstrip(".")
    else:
        path = Path(source)
        label = str(path)
        kind = (file_type or path.suffix).lower().lstrip(".")
        data = _read_file(path)
    if kind not in MESH_TYPES:
        raise InvalidInput(f"{label}: unsupported mesh type {kind!r}; use one of {MESH_TYPES}")
    if not data.strip():
        raise InvalidInput(f"{label}: file is empty")
    return data, kind, label


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InvalidInput(f"{path}: is a directory, not a mesh file") from exc
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from exc


def analyze_loaded(
    mesh: trimesh.Trimesh,
    *,
    density_g_cm3: float | None = None,
    material: str | None = None,
    machine: PrinterProfile | None = None,
) -> MeshReport:
    """Measure an already loaded mesh."""
    faces = np.asarray(mesh.faces)
    triangles = np.asarray(mesh.vertices)[faces]
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    doubled_areas = np.linalg.norm(cross, axis=1)
    volume = float(np.einsum("ij,ij->", triangles[:, 0], cross) / 6.0)
    watertight = bool(mesh.is_watertight) if len(faces) else False
    winding = bool(mesh.is_winding_consistent) if len(faces) else False
    extents = _extents(mesh)
    reliable = watertight and winding and volume > 0
    shape = _shell_geometry(cross, doubled_areas, abs(volume), extents[2])
    problems = _problems(mesh, doubled_areas, volume, watertight, winding)
    return MeshReport(
        triangles=len(faces),
        bodies=count_bodies(mesh),
        watertight=watertight,
        winding_consistent=winding,
        volume_mm3=volume,
        volume_reliable=reliable,
        area_mm2=float(doubled_areas.sum() / 2.0),
        extents_mm=extents,
        min_box_mm=min_box_extents(mesh),
        mass_g=None if density_g_cm3 is None else abs(volume) / 1000.0 * density_g_cm3,
        material=material,
        est_print_time_s=estimate_print_time_s(shape, machine or DEFAULT_PROFILE),
        problems=tuple(problems),
    )


def _extents(mesh: trimesh.Trimesh) -> tuple[float, float, float]:
    if len(mesh.vertices) == 0:
        return (0.0, 0.0, 0.0)
    x, y, z = (float(v) for v in mesh.extents)
    return (x, y, z)


def count_bodies(mesh: trimesh.Trimesh) -> int:
    """Number of pieces: groups of faces joined by shared edges."""
    count = len(mesh.faces)
    if count == 0:
        return 0
    pairs = np.asarray(mesh.face_adjacency)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), (count,) * 2)
    bodies, _ = connected_components(graph, directed=False)
    return int(bodies)


def _shell_geometry(
    cross: np.ndarray, doubled_areas: np.ndarray, volume: float, height: float
) -> ShellGeometry:
    with np.errstate(invalid="ignore", divide="ignore"):
        nz = np.where(doubled_areas > 0, cross[:, 2] / doubled_areas, 0.0)
    areas = doubled_areas / 2.0
    return ShellGeometry(
        volume_mm3=volume,
        wall_area_mm2=float(areas[np.abs(nz) < _SKIN_NZ].sum()),
        top_area_mm2=float(areas[nz >= _SKIN_NZ].sum()),
        bottom_area_mm2=float(areas[nz <= -_SKIN_NZ].sum()),
        height_mm=height,
    )


def _problems(
    mesh: trimesh.Trimesh, doubled_areas: np.ndarray, volume: float, watertight: bool, winding: bool
) -> list[str]:
    if len(mesh.faces) == 0:
        return ["no triangles"]
    found: list[str] = []
    if not watertight:
        open_edges = _open_edge_count(mesh)
        found.append(
            f"not watertight ({open_edges} open or non-manifold edges): "
            "volume, mass and print time are approximate"
        )
    if not winding:
        found.append("inconsistent winding: some faces point inwards")
    if volume <= 0:
        found.append(f"non-positive volume ({volume:.3g} mm3): normals may be inverted")
    degenerate = int((doubled_areas / 2.0 <= _DEGENERATE_AREA).sum())
    if degenerate:
        found.append(f"{degenerate} degenerate (zero-area) faces")
    return found


def _open_edge_count(mesh: trimesh.Trimesh) -> int:
    """Edges not shared by exactly two faces."""
    _, counts = np.unique(mesh.edges_sorted, axis=0, return_counts=True)
    return int((counts != 2).sum())
