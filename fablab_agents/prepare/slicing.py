"""Slicing a mesh for an FDM printer with the machine's slicer, profile and material overlay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fablab_agents.config import MachineConfig
from fablab_agents.prepare.model import PreparationError, Prepared
from fablab_agents.prepare.options import PrepareOptions

# Filament densities in g/cm3, for a mass where the slicer reports only a volume or a length.
DENSITY_G_CM3 = {"pla": 1.24, "petg": 1.27, "abs": 1.04, "asa": 1.07, "tpu": 1.21, "pc": 1.20, "pa": 1.14}


@dataclass(frozen=True)
class SliceJob:
    """One slicing run: the mesh, the machine, where to write, and a private folder for the run."""

    source: Path
    output: Path
    machine: MachineConfig
    copies: int
    material: str | None
    workdir: Path

    @property
    def options(self) -> PrepareOptions:
        return self.machine.prepare

    @property
    def bed(self) -> tuple[float, float, float]:
        return self.machine.capabilities.build_volume_mm

    def profiles(self) -> tuple[list[Path], list[str]]:
        """The printer profile, then the material overlay when one is configured for the job's material."""
        options = self.options
        assert options.profile is not None  # routing sends no mesh here without one
        if self.material is None:
            return [options.profile], []
        overlay = options.material_profiles.get(self.material.lower())
        if overlay is not None:
            return [options.profile, overlay], []
        if options.material_profiles:
            known = ", ".join(sorted(options.material_profiles))
            raise PreparationError(
                f"{self.machine.id} has no material profile for {self.material} (material_profiles: {known})"
            )
        return [options.profile], [
            f"no material profile for {self.material}: the profile's filament settings apply"
        ]

    def check_fits(self, name: str, size: tuple[float, float, float]) -> None:
        """A part larger than the build volume is refused before slicing."""
        bed = self.bed
        if not any(bed):
            return
        if any(s > b + 1e-6 for s, b in zip(size, bed, strict=True) if b):
            raise PreparationError(
                f"{name} is {_box(size)} mm; the build volume of {self.machine.id} is {_box(bed)} mm"
            )

    def profile_label(self, used: list[Path]) -> str:
        return " + ".join(path.name for path in used)


def _box(size: tuple[float, float, float]) -> str:
    return " x ".join(f"{v:.1f}".rstrip("0").rstrip(".") for v in size)


def mass_g(material: str | None, filament_mm: float | None, diameter_mm: float = 1.75) -> float | None:
    """Filament mass from its length, for the materials whose density is known."""
    density = DENSITY_G_CM3.get((material or "").lower())
    if density is None or filament_mm is None:
        return None
    area_mm2 = 3.141592653589793 * (diameter_mm / 2) ** 2
    return round(filament_mm * area_mm2 / 1000 * density, 2)


def slice_mesh(job: SliceJob) -> Prepared:
    """Slice with the machine's slicer; the slicer's reason is the error when it refuses."""
    from fablab_agents.prepare.curaengine import slice_with_curaengine
    from fablab_agents.prepare.prusaslicer import slice_with_prusaslicer

    slicers: dict[str, Callable[[SliceJob], Prepared]] = {
        "prusaslicer": slice_with_prusaslicer,
        "curaengine": slice_with_curaengine,
    }
    return slicers[job.options.slicer](job)
