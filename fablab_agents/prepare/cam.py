"""CAM for 2D cutting: a DXF or SVG drawing to laser, plasma or router G-code for one machine.

Steps, each refusing bad input with the entity and the place: read the drawing, join and check its
contours, choose the cut table row, compensate the kerf, lay the copies out on the bed, write G-code.
"""

from __future__ import annotations

import math
from pathlib import Path

from fablab_agents.config import MachineConfig
from fablab_agents.prepare.contours import Contour, build_contours
from fablab_agents.prepare.cutgcode import CutJob, write_cut_gcode
from fablab_agents.prepare.drawing import read_drawing
from fablab_agents.prepare.model import Action, PreparationError, Prepared
from fablab_agents.prepare.options import PLASMA, ROUTER, CutSetting, PrepareOptions
from fablab_agents.prepare.toolpath import Cut, PathRules, bounds, order_cuts, plan_cuts

TOOL = "peerfab cam"


def cut_drawing(
    source: Path,
    machine: MachineConfig,
    output: Path,
    *,
    copies: int,
    material: str | None,
    thickness_mm: float | None,
) -> Prepared:
    """Write `output` for `copies` of the drawing on `machine`; raise PreparationError naming the cause."""
    options = machine.prepare
    setting = choose_setting(options, machine.id, material, thickness_mm)
    _check_height(machine, setting)
    drawing = read_drawing(source, options.curve_tolerance_mm)
    contours = build_contours(drawing.pieces, source.name)
    cuts, warnings = plan_cuts(contours, _rules(machine, setting))
    if machine.capabilities.process == PLASMA:
        warnings += small_plasma_holes(contours, setting)
    placed = lay_out(cuts, contours, machine, copies)
    title = f"peerfab CAM: {source.name} x{copies} for {machine.id}"
    lines, estimates = write_cut_gcode(
        CutJob(order_cuts(placed), setting, options, machine.capabilities.process, title)
    )
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Prepared(
        path=output,
        action=Action.CAM,
        tool=TOOL,
        profile=f"cut_table {setting.describe()}",
        estimates=estimates,
        warnings=drawing.warnings + tuple(warnings),
    )


def choose_setting(
    options: PrepareOptions, machine_id: str, material: str | None, thickness_mm: float | None
) -> CutSetting:
    """The cut table row for the job's material and thickness; anything ambiguous is refused."""
    table = options.cut_table
    if material is None:
        names = options.materials()
        if len(names) != 1:
            raise PreparationError(f"the job names no material; {machine_id} cuts {', '.join(names)}")
        material = names[0]
    rows = [row for row in table if row.material == material.lower()]
    if not rows:
        raise PreparationError(
            f"{machine_id} has no cut settings for {material} (cut_table: {', '.join(options.materials())})"
        )
    if thickness_mm is None:
        if len(rows) == 1:
            return rows[0]
        raise PreparationError(
            f"the job names no thickness; {machine_id} cuts {material} at {_thicknesses(rows)}"
        )
    for row in rows:
        if math.isclose(row.thickness_mm, thickness_mm, abs_tol=0.05):
            return row
    raise PreparationError(
        f"{machine_id} has no cut settings for {material} {thickness_mm:g} mm (it has {_thicknesses(rows)})"
    )


def _thicknesses(rows: list[CutSetting]) -> str:
    return ", ".join(f"{row.thickness_mm:g}" for row in sorted(rows, key=lambda r: r.thickness_mm)) + " mm"


def small_plasma_holes(contours: list[Contour], setting: CutSetting) -> list[str]:
    """Holes narrower than the plate is thick come out tapered from a plasma torch: say so."""
    warnings = []
    for contour in contours:
        polygon = contour.polygon
        across = 4 * polygon.area / polygon.length  # a circle's diameter; a narrow slot's width, roughly
        if contour.is_hole and across < setting.thickness_mm:
            warnings.append(
                f"{contour.describe()} is about {across:.1f} mm across, less than the plate is thick "
                f"({setting.thickness_mm:g} mm): a plasma-cut hole this small comes out tapered (drill it)"
            )
    return warnings


def _check_height(machine: MachineConfig, setting: CutSetting) -> None:
    if machine.capabilities.process != ROUTER:
        return
    needed = setting.thickness_mm + machine.prepare.safe_z_mm
    height = machine.capabilities.build_volume_mm[2]
    if height and needed > height:
        raise PreparationError(
            f"{machine.id}: {setting.describe()} with safe_z_mm {machine.prepare.safe_z_mm:g} needs Z up to "
            f"{needed:g} mm; build_volume_mm allows {height:g}"
        )


def _rules(machine: MachineConfig, setting: CutSetting) -> PathRules:
    options = machine.prepare
    router = machine.capabilities.process == ROUTER
    with_tabs = router and options.tab_height_mm > 0
    return PathRules(
        kerf_mm=setting.kerf_mm,
        tolerance_mm=options.curve_tolerance_mm,
        lead_in_mm=0.0 if router else options.lead_in_mm,
        tab_width_mm=options.tab_width_mm if with_tabs else 0.0,
        tab_spacing_mm=options.tab_spacing_mm,
    )


def lay_out(cuts: list[Cut], contours: list[Contour], machine: MachineConfig, copies: int) -> list[Cut]:
    """Copies in rows from the sheet's corner, `part_spacing_mm` apart; refused when they overflow the bed."""
    options = machine.prepare
    x0, y0, x1, y1 = bounds(cuts)
    width, depth = x1 - x0, y1 - y0
    bed_x, bed_y, _ = machine.capabilities.build_volume_mm
    margin, gap = options.sheet_margin_mm, options.part_spacing_mm
    usable_x, usable_y = bed_x - 2 * margin, bed_y - 2 * margin
    if bed_x and bed_y and (width > usable_x or depth > usable_y):
        raise PreparationError(
            f"{_largest(contours)} needs {width:.1f} x {depth:.1f} mm with kerf and lead-ins; "
            f"the bed of {machine.id} is {bed_x:g} x {bed_y:g} mm ({margin:g} mm margin)"
        )
    columns = max(1, math.floor((usable_x + gap) / (width + gap))) if bed_x else copies
    rows = math.ceil(copies / columns)
    if bed_y and rows * (depth + gap) - gap > usable_y:
        raise PreparationError(
            f"{copies} copies of {width:.1f} x {depth:.1f} mm do not fit the {bed_x:g} x {bed_y:g} mm bed "
            f"of {machine.id} ({columns} per row, {gap:g} mm apart)"
        )
    placed: list[Cut] = []
    for index in range(copies):
        dx = margin - x0 + (index % columns) * (width + gap)
        dy = margin - y0 + (index // columns) * (depth + gap)
        placed.extend(cut.moved(dx, dy) for cut in cuts)
    return placed


def _largest(contours: list[Contour]) -> str:
    outer = [c for c in contours if not c.is_hole] or contours
    return max(outer, key=lambda c: c.polygon.area).describe()
