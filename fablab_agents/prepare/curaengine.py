"""CuraEngine's command line (4.x): a machine definition JSON with every setting resolved, overlays as -s.

CuraEngine evaluates none of Cura's setting formulas and arranges nothing: peerfab lays the copies out
on the bed itself and replaces the placeholder header CuraEngine writes with the one it logs.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

from fablab_agents.prepare.estimates import parse_estimates, read_generator
from fablab_agents.prepare.model import PreparationError, Prepared
from fablab_agents.prepare.slicing import SliceJob, mass_g
from fablab_agents.prepare.stl import stl_extent
from fablab_agents.prepare.tools import find_binary, run_tool, tool_reason

BINARIES = ("CuraEngine", "curaengine")
COPY_SPACING_MM = 6.0
_HEADER_START = "Gcode header after slicing:"
_HEADER_END = "End of gcode header."
_EMPTY = "no non-empty layers"
_HEADER_LINES_MAX = 40


def slice_with_curaengine(job: SliceJob) -> Prepared:
    """Slice an STL: copies on a grid around the bed's centre, the engine's own estimates kept."""
    binary = find_binary(job.options.slicer_path, BINARIES)
    extent = stl_extent(job.source)
    profiles, warnings = job.profiles()
    settings = _settings(job, profiles[1:])
    offsets = _lay_out(job, extent.size, profiles[0], settings, warnings)
    raw = job.workdir / "curaengine.gcode"
    args = [binary, "slice", "-v", "-j", str(profiles[0])]
    for key, value in settings.items():
        args += ["-s", f"{key}={value}"]
    for dx, dy in offsets:
        args += ["-l", str(job.source), "-s", f"mesh_position_x={dx:g}", "-s", f"mesh_position_y={dy:g}"]
    result = run_tool(
        [*args, "-o", str(raw)], timeout_s=job.options.slicer_timeout_s, what="CuraEngine", cwd=job.workdir
    )
    log = result.stdout + "\n" + result.stderr
    _check_result(job, result.returncode, log, raw)
    header = logged_header(log)
    write_with_header(raw, job.output, header)
    estimates = parse_estimates(header)
    diameter = _diameter(settings, profiles[0])
    estimates = replace(estimates, filament_g=mass_g(job.material, estimates.filament_mm, diameter))
    return job.result(read_generator(job.output) or "CuraEngine", profiles, estimates, warnings)


def _lay_out(
    job: SliceJob,
    size: tuple[float, float, float],
    definition: Path,
    settings: dict[str, str],
    warnings: list[str],
) -> list[tuple[float, float]]:
    """Turn the part to fit if need be, make room for its adhesion, and place the copies."""
    degrees, skirt = _place(job, size, {**definition_values(definition), **settings})
    if degrees:
        settings["mesh_rotation_matrix"] = _rotation(degrees)
        warnings.append(f"{job.source.name} is turned {degrees} degrees on the bed to fit")
    if not skirt:
        settings["adhesion_type"] = "none"
        warnings.append("no room for the skirt around the part: printed without one")
    return grid_offsets(job.footprint(size, degrees), job)


def grid_offsets(footprint: tuple[float, float], job: SliceJob) -> list[tuple[float, float]]:
    """Offsets from the bed's centre for each copy, in rows; refused when the copies overflow the bed."""
    width, depth = footprint[0] + COPY_SPACING_MM, footprint[1] + COPY_SPACING_MM
    bed_x, bed_y, _ = job.bed
    columns = max(1, math.floor((bed_x + COPY_SPACING_MM) / width)) if bed_x else job.copies
    columns = min(columns, job.copies)
    rows = math.ceil(job.copies / columns)
    if bed_y and rows * depth - COPY_SPACING_MM > bed_y:
        raise PreparationError(
            f"{job.copies} copies of {job.source.name} ({footprint[0]:.1f} x {footprint[1]:.1f} mm) "
            f"do not fit the {bed_x:g} x {bed_y:g} mm bed of {job.machine.id}"
        )
    return [
        ((i % columns - (columns - 1) / 2) * width, (i // columns - (rows - 1) / 2) * depth)
        for i in range(job.copies)
    ]


def _place(job: SliceJob, size: tuple[float, float, float], settings: dict[str, object]) -> tuple[int, bool]:
    """Room for the bed adhesion CuraEngine adds around the part: skirt, brim or raft margin."""
    adhesion = str(settings.get("adhesion_type", "skirt"))
    line = _float(settings.get("skirt_brim_line_width"), 0.4)
    if adhesion == "skirt":
        around = _float(settings.get("skirt_gap"), 3.0) + _float(settings.get("skirt_line_count"), 1.0) * line
        return job.place(job.source.name, size, brim=0.0, skirt=around)
    if adhesion == "brim":
        return job.place(job.source.name, size, brim=_float(settings.get("brim_width"), 8.0), skirt=0.0)
    if adhesion == "raft":
        return job.place(job.source.name, size, brim=_float(settings.get("raft_margin"), 15.0), skirt=0.0)
    return job.place(job.source.name, size, brim=0.0, skirt=0.0)


def _float(value: object, default: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]  # a number or its text, checked by float()
    except (TypeError, ValueError):
        return default


def definition_values(definition: Path) -> dict[str, object]:
    """Every setting's default_value in a CuraEngine definition JSON."""
    try:
        settings = json.loads(definition.read_text(encoding="utf-8")).get("settings", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise PreparationError(f"{definition.name}: not a CuraEngine definition ({exc})") from exc
    return {key: value.get("default_value") for key, value in settings.items() if isinstance(value, dict)}


def _rotation(degrees: int) -> str:
    """CuraEngine's 3x3 matrix for a turn about Z."""
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return f"[[{cos:.6f},{-sin:.6f},0],[{sin:.6f},{cos:.6f},0],[0,0,1]]"


def _settings(job: SliceJob, overlays: list[Path]) -> dict[str, str]:
    """Material overlays, then the machine's bed, then slicer_options: later ones win."""
    settings: dict[str, str] = {}
    for overlay in overlays:
        settings.update(read_settings_file(overlay))
    x, y, z = job.bed
    for key, value in (("machine_width", x), ("machine_depth", y), ("machine_height", z)):
        if value:
            settings[key] = f"{value:g}"
    settings.update(job.options.slicer_options)
    return settings


def read_settings_file(path: Path) -> dict[str, str]:
    """`key = value` lines; `#` and `;` start comments."""
    settings: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise PreparationError(f"{path.name} line {number}: expected `setting = value`, got {line!r}")
        settings[key.strip()] = value.strip()
    return settings


def _diameter(settings: dict[str, str], definition: Path) -> float:
    """Filament diameter: an overlay's, else the definition's, else 1.75 mm."""
    return _float(
        settings.get("material_diameter", definition_values(definition).get("material_diameter")), 1.75
    )


def _check_result(job: SliceJob, returncode: int, log: str, raw: Path) -> None:
    failed = returncode != 0 or "[ERROR]" in log or not raw.is_file()
    if failed:
        reason = tool_reason(log, logged_only=True)
        raise PreparationError(f"CuraEngine could not slice {job.source.name}: {reason}")
    if _EMPTY in log:
        raise PreparationError(
            f"CuraEngine found nothing to print in {job.source.name} (no layer has any area)"
        )


def logged_header(log: str) -> list[str]:
    """The real header CuraEngine logs after slicing (its file holds placeholders such as ;TIME:6666)."""
    lines = log.splitlines()
    if _HEADER_START not in lines or _HEADER_END not in lines:
        return []
    start = lines.index(_HEADER_START) + 1
    return lines[start : lines.index(_HEADER_END, start)]


def write_with_header(raw: Path, output: Path, header: list[str]) -> None:
    """Copy the G-code, putting the logged header in place of the placeholder lines before `;Generated`."""
    with (
        raw.open("r", encoding="utf-8", errors="replace") as source,
        output.open("w", encoding="utf-8") as target,
    ):
        placeholder: list[str] = []
        for line in source:
            if line.startswith(";Generated with") and header:
                target.writelines([*(f"{h}\n" for h in header), line])
                break
            placeholder.append(line)
            if len(placeholder) >= _HEADER_LINES_MAX:
                target.writelines(placeholder)
                break
        else:
            target.writelines(placeholder)
        shutil.copyfileobj(source, target)
