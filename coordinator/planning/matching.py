"""Which machines can make a part: process, material, colour and filament left, size in any
orientation, nozzle, tolerance, and whether maintenance holds the machine.

Pure functions over plain data; the same rules serve the planner, the dispatcher and the
"no machine can make this" message of a build.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from coordinator.mesh.bounds import fits

NOZZLE_TOLERANCE_MM = 0.01

# Processes that can stand in for each other for matching (a router can cut what a mill cuts in sheet).
COMPATIBLE_PROCESSES: dict[str, frozenset[str]] = {
    "cnc_mill": frozenset({"cnc_mill"}),
    "cnc_router": frozenset({"cnc_router", "cnc_mill"}),
    "plasma_cut": frozenset({"plasma_cut", "waterjet_cut"}),
    "laser_cut": frozenset({"laser_cut"}),
}


@dataclass(frozen=True)
class Requirement:
    """What making one part needs from a machine."""

    process: str
    material: str | None = None
    min_box_mm: tuple[float, float, float] | None = None
    nozzle_mm: float | None = None
    tolerance_mm: float | None = None
    colour: str | None = None  # only when the part asks for one
    filament_g: float | None = None  # what printing it is expected to use


@dataclass(frozen=True)
class LoadedSpool:
    """The spool on a machine as matching sees it."""

    label: str  # "spool 12", or the agent's name for it
    material: str
    colour: str = ""
    remaining_g: float | None = None


@dataclass(frozen=True)
class MachineView:
    """A machine as matching sees it (built from the agent's announced capabilities)."""

    key: str  # "fablab/machine"
    fablab: str
    process: str
    materials: tuple[str, ...] = ()
    build_volume_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    nozzle_mm: float | None = None
    tolerance_mm: float | None = None
    speed_factor: float = 1.0
    online: bool = True
    accepts: frozenset[str] = field(default_factory=frozenset)  # builds it refuses, by id; empty = all
    spool: LoadedSpool | None = None  # a printer whose spool peerfab knows (inventory or its agent)
    held: str = ""  # why maintenance holds it out of dispatch ("" = it is not held)


def shortcomings(req: Requirement, machine: MachineView) -> list[str]:
    """What `machine` lacks to make a part with `req`; empty when it can make it."""
    lacks: list[str] = []
    if machine.process not in COMPATIBLE_PROCESSES.get(req.process, frozenset({req.process})):
        lacks.append(f"process {machine.process}, needs {req.process}")
        return lacks
    if machine.held:
        lacks.append(f"held for maintenance: {machine.held}")
    if machine.spool is not None:
        lacks += spool_shortcomings(req, machine.spool)
    else:
        lacks += _stock_shortcomings(req, machine)
    if req.min_box_mm and any(machine.build_volume_mm) and not fits(req.min_box_mm, machine.build_volume_mm):
        box = " x ".join(f"{v:.0f}" for v in req.min_box_mm)
        volume = " x ".join(f"{v:.0f}" for v in machine.build_volume_mm)
        lacks.append(f"part {box} mm does not fit the build volume {volume} mm in any orientation")
    if req.nozzle_mm and (
        machine.nozzle_mm is None or abs(req.nozzle_mm - machine.nozzle_mm) > NOZZLE_TOLERANCE_MM
    ):
        lacks.append(f"nozzle {machine.nozzle_mm} mm, part needs {req.nozzle_mm} mm")
    if req.tolerance_mm and machine.tolerance_mm and machine.tolerance_mm > req.tolerance_mm:
        lacks.append(f"tolerance {machine.tolerance_mm} mm, part needs {req.tolerance_mm} mm")
    return lacks


def _stock_shortcomings(req: Requirement, machine: MachineView) -> list[str]:
    """A machine without a known spool: the materials its agent declares; no colour is known."""
    lacks = []
    if req.material and not material_loaded(req.material, machine.materials):
        loaded = ", ".join(machine.materials) or "none declared"
        lacks.append(f"material {req.material} not loaded (has {loaded})")
    if req.colour:
        lacks.append(f"no spool known to be loaded; part needs colour {req.colour}")
    return lacks


def spool_shortcomings(req: Requirement, spool: LoadedSpool) -> list[str]:
    """What the loaded spool lacks: the material, the colour the part asks for, enough filament."""
    lacks = []
    if req.material and not material_loaded(req.material, (spool.material,)):
        lacks.append(f"{spool.label} is {spool.material}, part needs {req.material}")
    if req.colour and not same_colour(req.colour, spool.colour):
        lacks.append(f"{spool.label} is {spool.colour or 'of no stated colour'}, part needs {req.colour}")
    if req.filament_g is not None and spool.remaining_g is not None and spool.remaining_g < req.filament_g:
        lacks.append(
            f"{spool.label} has {spool.remaining_g:.0f} g left, part needs about {req.filament_g:.0f} g"
        )
    return lacks


def same_colour(wanted: str, loaded: str) -> bool:
    """Colours by name or hex code, case and spacing aside ('Signal Orange' == 'signal-orange')."""

    def norm(text: str) -> str:
        return "".join(c for c in text.lower().lstrip("#") if c.isalnum())

    return bool(loaded) and norm(wanted) == norm(loaded)


def material_family(name: str) -> str:
    """The canonical material a grade or alias belongs to ('steel_s235' -> 'steel')."""
    from coordinator.mesh.materials import find_material

    known = find_material(name)
    return known.name if known is not None else name.strip().lower()


def material_loaded(required: str, loaded: Sequence[str]) -> bool:
    """True when the machine has the material.

    The same name matches; stock named by its family ('steel') covers every grade of it; a part that
    asks for the family only takes any grade of it. A part asking for a grade never gets another grade.
    """
    required = required.strip().lower()
    family = material_family(required)
    generic = family == required
    for stock in (m.strip().lower() for m in loaded):
        if stock in (required, family) or (generic and material_family(stock) == required):
            return True
    return False


def eligible(req: Requirement, machines: Iterable[MachineView]) -> list[MachineView]:
    """The machines that can make a part with `req`."""
    return [m for m in machines if not shortcomings(req, m)]


@dataclass(frozen=True)
class Unmatched:
    """A part no machine can make, with the closest machine and what it lacks."""

    part_id: str
    requirement: Requirement
    closest: str | None
    lacks: tuple[str, ...]

    @property
    def message(self) -> str:
        if self.closest is None and self.lacks:
            return f"part {self.part_id!r}: {'; '.join(self.lacks)}"
        if self.closest is None:
            return f"part {self.part_id!r}: no machine in the network does {self.requirement.process}"
        return (
            f"part {self.part_id!r}: no machine can make it; closest is {self.closest}, "
            f"which lacks: {'; '.join(self.lacks)}"
        )


def closest_machine(part_id: str, req: Requirement, machines: Sequence[MachineView]) -> Unmatched:
    """The machine with the fewest shortcomings (same process first), to explain a failed match."""
    ranked = sorted(
        ((shortcomings(req, m), m) for m in machines),
        key=lambda item: (item[0][0].startswith("process") if item[0] else False, len(item[0]), item[1].key),
    )
    if not ranked or not ranked[0][0] or ranked[0][0][0].startswith("process"):
        return Unmatched(part_id, req, None, ())
    lacks, machine = ranked[0]
    return Unmatched(part_id, req, machine.key, tuple(lacks))
