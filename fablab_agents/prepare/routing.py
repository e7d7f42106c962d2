"""What a machine will do with a file, told from its name and the machine's config alone (no I/O).

The agent can ask before a download finishes, and show "needs preparation" for an operator's files.
"""

from __future__ import annotations

from pathlib import Path

from fablab_agents.config import MachineConfig
from fablab_agents.machines import GCODE_DRIVERS
from fablab_agents.prepare.model import Action, Plan
from fablab_agents.prepare.options import CUT_PROCESSES, FDM_PROCESSES
from firmware_bridge.gcode import GCODE_SUFFIXES

MESH_SUFFIXES = frozenset({".stl", ".3mf", ".obj"})
DRAWING_SUFFIXES = frozenset({".dxf", ".svg"})
# Gerber layers, Excellon drill files and the zip they travel in: isolation milling or a PCB house
PCB_SUFFIXES = frozenset(
    {".gbr", ".ger", ".gtl", ".gbl", ".gto", ".gbo", ".gts", ".gbs", ".gtp", ".gbp", ".gko", ".gm1", ".gml"}
    | {".drl", ".xln", ".exc", ".zip"}
)
CURA_SUFFIXES = frozenset({".stl"})


def plan_file(file_name: str, machine: MachineConfig) -> Plan:
    """The action for `file_name` on `machine`, from names and config only."""
    suffix = Path(file_name).suffix.lower()
    if suffix in GCODE_SUFFIXES:
        return Plan(Action.PASS, f"{file_name} is already G-code")
    if machine.prepare.mode == "operator":
        return Plan(Action.OPERATOR, f'machine {machine.id} is set to prepare = "operator"')
    automatic = _automatic(suffix, machine)
    if automatic is not None:
        return automatic
    if machine.driver not in GCODE_DRIVERS:
        return Plan(Action.PASS, f"the {machine.driver} driver of {machine.id} takes {file_name} as it is")
    if suffix in PCB_SUFFIXES:
        return Plan(Action.OPERATOR, f"{file_name}: Gerber/Excellon files are prepared by an operator")
    return Plan(Action.REJECT, _why_not(file_name, suffix, machine))


def _automatic(suffix: str, machine: MachineConfig) -> Plan | None:
    process, options = machine.capabilities.process, machine.prepare
    if suffix in MESH_SUFFIXES and process in FDM_PROCESSES and options.profile is not None:
        if options.slicer == "curaengine" and suffix not in CURA_SUFFIXES:
            return Plan(
                Action.REJECT, f"CuraEngine reads STL files only, not {suffix} (machine {machine.id})"
            )
        return Plan(Action.SLICE, f"sliced with {options.slicer}, profile {options.profile.name}")
    if suffix in DRAWING_SUFFIXES and process in CUT_PROCESSES and options.cut_table:
        return Plan(Action.CAM, f"{process} G-code from the cut table of {machine.id}")
    return None


def _why_not(file_name: str, suffix: str, machine: MachineConfig) -> str:
    process, section = machine.capabilities.process, f"[machine {machine.id}]"
    if suffix in MESH_SUFFIXES and process in FDM_PROCESSES:
        return f"{file_name} needs slicing but {section} has no slicer profile (set profile)"
    if suffix in DRAWING_SUFFIXES and process in CUT_PROCESSES:
        return f"{file_name} needs CAM but {section} has no cut_table"
    return f"a {process} machine ({machine.id}, driver {machine.driver}) cannot run {file_name}"
