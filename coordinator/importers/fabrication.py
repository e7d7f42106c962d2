"""Deciding how an OKH part is made: process, material and the file a machine needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator.bom.manifest import PROCESSES
from coordinator.importers.project import Project, is_url

# Words of a free-text `manufacturing-process`, tried in order.
_PROCESS_WORDS = (
    (r"\b(3d[ -]?print\w*|fdm|fff)\b", "fdm_print"),
    (r"\b(sla|resin|msla|dlp)\b", "sla_print"),
    (r"\bsls\b", "sls_print"),
    (r"\blaser", "laser_cut"),
    (r"\bplasma", "plasma_cut"),
    (r"\bwater[ -]?jet", "waterjet_cut"),
    (r"\b(lathe|turning)\b", "cnc_lathe"),
    (r"\brout(er|ing)\b", "cnc_router"),
    (r"\b(mill\w*|cnc)\b", "cnc_mill"),
    (r"\bpcb\b.*\bassembl", "pcb_assembly"),
    (r"\bpcb\b", "pcb_fab"),
    (r"\bweld", "weld"),
    (r"\bbend", "sheet_bend"),
)
# OH-TsDC identifiers that name one manufacturing process.
TSDC_PROCESSES = {
    "3DP": "fdm_print",
    "CNC": "cnc_mill",
    "PCB": "pcb_fab",
    "LAS": "laser_cut",
    "LST": "laser_cut",
    "WEL": "weld",
}
_MESH = (".3mf", ".stl", ".obj", ".ply")
_CUT = (".dxf", ".svg")
_MACHINE = (".gcode", ".nc")
_PROCESS_FILES = {
    "fdm_print": _MESH + _MACHINE,
    "sla_print": _MESH,
    "sls_print": _MESH,
    "cnc_mill": _MACHINE + _CUT + _MESH,
    "cnc_router": _MACHINE + _CUT + _MESH,
    "cnc_lathe": _MACHINE + _MESH,
    "laser_cut": _CUT + _MACHINE,
    "plasma_cut": _CUT + _MACHINE,
    "waterjet_cut": _CUT + _MACHINE,
    "pcb_mill": (".zip", ".gbr", ".nc", ".gcode"),
    "pcb_fab": (".zip", ".gbr"),
    "pcb_assembly": (".zip", ".csv", ".pos"),
    "weld": _CUT + _MESH,
    "sheet_bend": _CUT + _MESH,
}
DEFAULT_MATERIALS = {"pcb_fab": "fr4", "pcb_mill": "fr4", "pcb_assembly": "fr4"}


@dataclass(frozen=True)
class FileChoice:
    """The manifest link of the chosen file and where it is on disk."""

    link: str
    path: Path


def process_of(part: dict[str, Any]) -> str | None:
    """The peerfab process named by `manufacturing-process`, `process` or `tsdc`."""
    for key in ("manufacturing-process", "process", "printing-process"):
        text = part.get(key)
        if isinstance(text, str) and text.strip():
            found = _process_from_text(text)
            if found:
                return found
    for tsdc in strings(part.get("tsdc", part.get("tsdc-id"))):
        if tsdc.upper() in TSDC_PROCESSES:
            return TSDC_PROCESSES[tsdc.upper()]
    return None


def _process_from_text(text: str) -> str | None:
    lowered = text.strip().lower()
    if lowered in PROCESSES:
        return lowered
    return next((p for pattern, p in _PROCESS_WORDS if re.search(pattern, lowered)), None)


def links_of(part: dict[str, Any]) -> list[str]:
    """Every file link of a part: exports first (made to be manufactured), then sources."""
    return [*strings(part.get("export")), *strings(part.get("source"))]


def choose_file(project: Project, base: Path, part: dict[str, Any], process: str) -> FileChoice | None:
    """The local file best suited to the process, or None when no listed file is in the project."""
    suffixes = _PROCESS_FILES[process]
    ranked = []
    for order, link in enumerate(links_of(part)):
        suffix = Path(link.split("?")[0]).suffix.lower()
        if suffix in suffixes:
            not_gerber = "gerber" not in link.lower()
            ranked.append((suffixes.index(suffix), not_gerber, order, link))
    for *_, link in sorted(ranked):
        resolved = project.resolve(link, base)
        if resolved.path is not None:
            return FileChoice(link, resolved.path)
    return None


def first_url(part: dict[str, Any]) -> str | None:
    """The first file link of a part that is an absolute URL."""
    return next((link for link in links_of(part) if is_url(link)), None)


def strings(value: object) -> list[str]:
    """A field OKH allows as one string or a list of strings, as a list."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []
