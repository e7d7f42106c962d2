"""Slicing a mesh for an FDM printer with the machine's slicer, profile and material overlay."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fablab_agents.config import MachineConfig
from fablab_agents.prepare.model import Action, Estimates, PreparationError, Prepared
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

    def turn_to_fit(self, name: str, size: tuple[float, float, float], margin: float = 0.0) -> int:
        """Degrees to turn the part about Z so it fits the bed `margin` from every edge; else refused.

        0 when it fits as it lies. A long bar may fit only along the bed's diagonal, as the coordinator's
        matching allows; the angle with the most room is taken. The part is never laid on another face.
        """
        bed_x, bed_y, height = self.bed
        if not (bed_x and bed_y):
            return 0
        usable_x, usable_y = bed_x - 2 * margin, bed_y - 2 * margin
        room, degrees = max((_room(size, turn, usable_x, usable_y), turn) for turn in range(90))
        if (height and size[2] > height + 1e-6) or room < 0:
            edge = f" ({margin:g} mm from each edge for brim and skirt)" if margin else ""
            volume = f"the build volume of {self.machine.id} is {_box(self.bed)} mm"
            raise PreparationError(f"{name} is {_box(size)} mm; {volume}{edge}")
        return 0 if _room(size, 0, usable_x, usable_y) >= 0 else degrees

    def place(
        self, name: str, size: tuple[float, float, float], brim: float, skirt: float
    ) -> tuple[int, bool]:
        """The turn that fits the part with its brim and skirt (`skirt` = room the skirt takes beyond the
        brim, 0 for none); (turn, False) when only dropping the skirt makes it fit."""
        if skirt <= 0:
            return self.turn_to_fit(name, size, margin=brim), True
        try:
            return self.turn_to_fit(name, size, margin=brim + skirt), True
        except PreparationError:
            return self.turn_to_fit(name, size, margin=brim), False

    def footprint(self, size: tuple[float, float, float], degrees: int) -> tuple[float, float]:
        """X and Y extent of the part's box turned by `degrees` about Z."""
        return _turned(size, degrees)

    def result(self, tool: str, profiles: list[Path], estimates: Estimates, warnings: list[str]) -> Prepared:
        """The sliced file with the tool, the profiles that made it and the slicer's estimates."""
        return Prepared(
            path=self.output,
            action=Action.SLICE,
            tool=tool,
            profile=" + ".join(path.name for path in profiles),
            estimates=estimates,
            warnings=tuple(warnings),
        )


def _turned(size: tuple[float, float, float], degrees: int) -> tuple[float, float]:
    angle = math.radians(degrees)
    cos, sin = abs(math.cos(angle)), abs(math.sin(angle))
    return (size[0] * cos + size[1] * sin, size[0] * sin + size[1] * cos)


def _room(size: tuple[float, float, float], degrees: int, bed_x: float, bed_y: float) -> float:
    """The smaller margin left on the bed by the part's box turned by `degrees` (negative: it sticks out)."""
    width, depth = _turned(size, degrees)
    return min(bed_x - width, bed_y - depth)


def _box(size: tuple[float, float, float]) -> str:
    return " x ".join(f"{v:.1f}".rstrip("0").rstrip(".") for v in size)


def mass_g(material: str | None, filament_mm: float | None, diameter_mm: float = 1.75) -> float | None:
    """Filament mass from its length, for the materials whose density is known."""
    per_mm = grams_per_mm(material, diameter_mm)
    if per_mm is None or filament_mm is None:
        return None
    return round(filament_mm * per_mm, 2)


def grams_per_mm(material: str | None, diameter_mm: float = 1.75) -> float | None:
    """What a millimetre of filament weighs, for the materials whose density is known."""
    density = DENSITY_G_CM3.get((material or "").lower())
    if density is None:
        return None
    return math.pi * (diameter_mm / 2) ** 2 / 1000 * density


def slice_mesh(job: SliceJob) -> Prepared:
    """Slice with the machine's slicer; the slicer's reason is the error when it refuses."""
    from fablab_agents.prepare.curaengine import slice_with_curaengine
    from fablab_agents.prepare.prusaslicer import slice_with_prusaslicer

    slicers: dict[str, Callable[[SliceJob], Prepared]] = {
        "prusaslicer": slice_with_prusaslicer,
        "curaengine": slice_with_curaengine,
    }
    return slicers[job.options.slicer](job)
