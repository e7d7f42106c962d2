"""A closed-form FDM print-time model: extrusion volume over flow, plus per-layer and travel costs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from protocol.errors import InvalidInput


@dataclass(frozen=True)
class PrinterProfile:
    """The speeds and slicing settings a print-time estimate depends on."""

    name: str = "generic-fdm"
    layer_height_mm: float = 0.2
    nozzle_mm: float = 0.4
    line_width_mm: float = 0.45
    perimeters: int = 2
    top_layers: int = 4
    bottom_layers: int = 3
    infill: float = 0.2
    # Sustained melt rate of a typical 0.4 mm hot end once accelerations are averaged in; the
    # calibration against PrusaSlicer's benchy estimate is in docs/mesh-analysis.md.
    flow_mm3_s: float = 8.0
    # Z move, retraction and the slow-down for minimum layer time, per layer.
    layer_overhead_s: float = 1.5
    # Extra time for travel moves and accelerations, as a fraction of extrusion time.
    travel_factor: float = 0.6
    # Heating and homing before the first layer.
    start_s: float = 120.0

    def __post_init__(self) -> None:
        for field_name in ("layer_height_mm", "nozzle_mm", "line_width_mm", "flow_mm3_s"):
            if getattr(self, field_name) <= 0:
                raise InvalidInput(f"printer profile {self.name!r}: {field_name} must be positive")
        if not 0.0 <= self.infill <= 1.0:
            raise InvalidInput(f"printer profile {self.name!r}: infill must be within 0..1")
        if min(self.perimeters, self.top_layers, self.bottom_layers) < 0:
            raise InvalidInput(f"printer profile {self.name!r}: layer counts must not be negative")


DEFAULT_PROFILE = PrinterProfile()


@dataclass(frozen=True)
class ShellGeometry:
    """What the model needs to know about a part: its volume, surfaces by orientation, height."""

    volume_mm3: float
    wall_area_mm2: float
    top_area_mm2: float
    bottom_area_mm2: float
    height_mm: float


def extrusion_volume_mm3(shape: ShellGeometry, profile: PrinterProfile) -> float:
    """Plastic laid down: perimeter walls, solid top and bottom skins, and sparse infill."""
    volume = max(shape.volume_mm3, 0.0)
    walls = shape.wall_area_mm2 * profile.perimeters * profile.line_width_mm
    skins = profile.layer_height_mm * (
        shape.top_area_mm2 * profile.top_layers + shape.bottom_area_mm2 * profile.bottom_layers
    )
    # A part thinner than its shell prints solid: the shell can never exceed the part itself.
    shell = min(walls + skins, volume)
    return shell + (volume - shell) * profile.infill


def layer_count(height_mm: float, profile: PrinterProfile) -> int:
    """Number of layers needed to build a part `height_mm` tall."""
    return max(1, math.ceil(height_mm / profile.layer_height_mm - 1e-9))


def estimate_print_time_s(shape: ShellGeometry, profile: PrinterProfile = DEFAULT_PROFILE) -> float:
    """Estimated FDM print time of one part, in seconds."""
    extruding = extrusion_volume_mm3(shape, profile) / profile.flow_mm3_s
    layers = layer_count(shape.height_mm, profile)
    return profile.start_s + extruding * (1.0 + profile.travel_factor) + layers * profile.layer_overhead_s
