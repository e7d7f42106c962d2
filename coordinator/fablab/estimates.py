"""The coordinator's own estimate of the filament a printed part uses, from its mesh report.

Used until a machine's slicer says better (a job's `filament_g` once its machine accepted it). The
model is the print-time model's (docs/mesh-analysis.md): a shell of walls and skins, sparse infill
inside; the report keeps the part's volume and surface, so the shell is the surface times an
average shell thickness (two 0.45 mm perimeters on the sides, 0.6 -- 0.8 mm of skins top and bottom).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coordinator.mesh.materials import find_material
from coordinator.mesh.printtime import DEFAULT_PROFILE

SHELL_MM = 0.8
DEFAULT_DENSITY = 1.24  # PLA, when the material is unknown


def filament_grams(report: Mapping[str, Any], material: str | None, copies: int = 1) -> float | None:
    """Grams of filament `copies` of the part use; None when the mesh gives no usable volume."""
    volume = abs(float(report.get("volume_mm3") or 0.0))
    area = float(report.get("area_mm2") or 0.0)
    if volume <= 0 or not report.get("volume_reliable", True):
        return None
    shell = min(volume, area * SHELL_MM)
    extruded_mm3 = shell + (volume - shell) * DEFAULT_PROFILE.infill
    known = find_material(material) if material else None
    density = known.density_g_cm3 if known is not None else DEFAULT_DENSITY
    return round(extruded_mm3 / 1000.0 * density * copies, 1)
