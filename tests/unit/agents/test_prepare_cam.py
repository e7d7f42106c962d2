"""CAM for 2D cutting on real drawings: kerf, order, lead-ins, tabs, power; and the refusals, each named."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import ezdxf
import pytest
from shapely.geometry import Point, Polygon

from fablab_agents.config import MachineConfig, load_agent_config
from fablab_agents.machines import check_file
from fablab_agents.prepare import Action, PreparationError, Prepared, prepare

ROOT = Path(__file__).resolve().parents[3]
DRAWINGS = ROOT / "tests" / "fixtures" / "drawings"
CONFIG = load_agent_config(ROOT / "config" / "agent.workshop.example.toml")
_WORD = re.compile(r"([GMXYZSFP])(-?\d+(?:\.\d+)?)")
BOLT_PLATE = DRAWINGS / "cinva-ram-bolt-plate-1.dxf"
LATCH = DRAWINGS / "cinva-ram-latch.dxf"
GUSSET = DRAWINGS / "lifetrac-wheel-hub-gusset.dxf"
ROCKET = DRAWINGS / "lasersvg-rocket-slice.svg"


def steel(thickness_mm: float, **more: object) -> dict[str, object]:
    return {"material": "steel_s235", "thickness_mm": thickness_mm, **more}


def machine(machine_id: str) -> MachineConfig:
    found = CONFIG.machine(machine_id)
    assert found is not None
    return found


@dataclass
class Contour:
    """One contour as the G-code cuts it: where the tool went on, and every feed move after."""

    pierce: tuple[float, float]
    points: list[tuple[float, float]] = field(default_factory=list)
    z: list[float] = field(default_factory=list)


def contours(gcode: Path) -> list[Contour]:
    """Split a cutting file at each beam, torch or spindle start (laser M4, plasma M3) into contours."""
    found: list[Contour] = []
    x = y = 0.0
    current: Contour | None = None
    for line in gcode.read_text().splitlines():
        words = dict(_WORD.findall(line.split(";")[0]))
        code = ("G" + words["G"]) if "G" in words else ("M" + words["M"]) if "M" in words else ""
        if code in ("M3", "M4") and ("S" not in words or float(words["S"]) > 0):
            if current is None or current.points:
                current = Contour((x, y))
                found.append(current)
        elif code == "M5" and current is not None and current.points:
            current = None
        x, y = float(words.get("X", x)), float(words.get("Y", y))
        if code == "G1" and current is not None:
            if "X" in words or "Y" in words:
                current.points.append((x, y))
            if "Z" in words:
                current.z.append(float(words["Z"]))
    return found


def run(source: Path, machine_id: str, tmp_path: Path, **job: object) -> Prepared:
    prepared = prepare(source, machine(machine_id), out_dir=tmp_path, **job)  # type: ignore[arg-type]
    assert prepared.action is Action.CAM and prepared.path.is_file()
    assert check_file(prepared.path, machine(machine_id)) == []
    return prepared


def size(points: list[tuple[float, float]]) -> tuple[float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return max(xs) - min(xs), max(ys) - min(ys)


def test_plasma_offsets_outlines_out_and_holes_in_by_half_the_kerf(tmp_path: Path) -> None:
    # bolt plate: 33.6 x 139.7 mm outline (four LINEs in a block) with two 10 mm holes; 6 mm row: kerf 1.6
    prepared = run(BOLT_PLATE, "plasma-1", tmp_path, **steel(6))
    hole_a, hole_b, outline = contours(prepared.path)
    assert size(outline.points) == pytest.approx((33.6 + 1.6, 139.7 + 1.6), abs=0.01)
    for hole in (hole_a, hole_b):
        assert size(hole.points) == pytest.approx((10 - 1.6, 10 - 1.6), abs=0.05)
    assert prepared.estimates.pierces == 3


def test_holes_are_cut_before_the_outline_and_pierced_in_the_scrap(tmp_path: Path) -> None:
    prepared = run(BOLT_PLATE, "plasma-1", tmp_path, **steel(3))
    *holes, outline = contours(prepared.path)
    outline_area = Polygon(outline.points).area
    assert all(Polygon(h.points).area < outline_area / 10 for h in holes)
    assert not Polygon(outline.points).contains(Point(outline.pierce))
    assert math.dist(outline.pierce, outline.points[0]) == pytest.approx(5.0, abs=0.01)  # lead_in_mm
    for hole in holes:
        assert Polygon(hole.points).contains(Point(hole.pierce))
    text = prepared.path.read_text()
    assert text.count("M3 ; torch on") == 3 and text.count("G4 P0.2") == 3  # 3 mm row: 0.2 s pierce delay


def test_plasma_sets_pierce_and_cut_height_from_the_plate_top(tmp_path: Path) -> None:
    prepared = run(GUSSET, "plasma-1", tmp_path, **steel(10))
    lines = prepared.path.read_text().splitlines()
    torch_on = lines.index("M3 ; torch on")
    assert lines[torch_on - 1] == "G0 Z3.8" and lines[torch_on + 2].startswith("G1 Z1.5")
    assert "G0 Z10" in lines  # travel height, safe_z_mm


def test_laser_runs_dynamic_power_from_the_cut_table_without_z_moves(tmp_path: Path) -> None:
    prepared = run(ROCKET, "laser-1", tmp_path, material="plywood", thickness_mm=6)
    text = prepared.path.read_text()
    assert "M4 S900" in text and "M8 ; air assist on" in text and "M9 ; air assist off" in text
    assert not re.search(r"\bZ-?\d", text)
    passes = contours(prepared.path)
    assert len(passes) == 4  # the slot and the disc, each twice (passes = 2 for 6 mm plywood)
    slot, disc = passes[0], passes[2]
    # 100 mm wide document over a 150-unit viewBox: the disc (r = 25 units) is 33.3 mm across plus the kerf
    assert size(disc.points) == pytest.approx((33.333 + 0.2, 33.333 + 0.2), abs=0.05)
    assert Polygon(disc.points).contains(Polygon(slot.points))


def test_the_router_leaves_holding_tabs_on_its_last_pass_only(tmp_path: Path) -> None:
    prepared = run(GUSSET, "router-1", tmp_path, material="plywood", thickness_mm=12)
    (outline,) = contours(prepared.path)
    assert outline.z[:3] == [8, 4, 0]  # plunges: 4 mm per pass from the top of the 12 mm sheet to Z0
    rises = [z for z in outline.z[3:] if z == 2]  # tab_height_mm above the spoilboard
    perimeter = 86.36 + 83.9 + math.hypot(86.36, 83.9) + 6 * math.pi  # outline grown by the 6 mm tool
    assert len(rises) == max(2, math.ceil(perimeter / 200))
    assert min(outline.z) == 0
    text = prepared.path.read_text()
    assert "M3 S18000 ; spindle on" in text and "G4 P3" in text
    assert size(outline.points)[0] == pytest.approx(86.36 + 6, abs=0.05)


def test_copies_are_laid_out_apart_on_the_sheet(tmp_path: Path) -> None:
    prepared = run(LATCH, "plasma-1", tmp_path, **steel(6, copies=5))
    cuts = contours(prepared.path)
    assert len(cuts) == 10  # a hole and an outline per latch
    outlines = [Polygon(c.points) for c in cuts if Polygon(c.points).area > 1000]
    assert len(outlines) == 5
    assert all(not a.intersects(b) for i, a in enumerate(outlines) for b in outlines[i + 1 :])


def test_real_drawings_of_other_presses_become_cutting_files(tmp_path: Path) -> None:
    for name in ("cinva-ram-lid-pivot-spacer.dxf", "cinva-ram-latch.dxf", "lifetrac-wheel-hub-gusset.dxf"):
        prepared = run(DRAWINGS / name, "plasma-1", tmp_path / name, material="steel_s235", thickness_mm=8)
        assert prepared.estimates.time_s and prepared.estimates.cut_length_mm
        assert prepared.profile == "cut_table steel_s235 8 mm"


def test_small_plasma_holes_are_flagged(tmp_path: Path) -> None:
    # 9.5 mm hole in the latch, cut from 16 mm plate
    prepared = run(LATCH, "plasma-1", tmp_path, **steel(16))
    assert any("less than the plate is thick (16 mm)" in w for w in prepared.warnings)


# ---- refusals -----------------------------------------------------------------------------------


def dxf(tmp_path: Path, name: str, draw: object, units: int = 4) -> Path:
    doc = ezdxf.new("R2010", units=units)
    doc.layers.add("CUT")
    draw(doc.modelspace())  # type: ignore[operator]
    path = tmp_path / name
    doc.saveas(path)
    return path


def refused(source: Path, machine_id: str, tmp_path: Path, **job: object) -> str:
    out = tmp_path / "out"
    with pytest.raises(PreparationError) as caught:
        prepare(source, machine(machine_id), out_dir=out, **job)  # type: ignore[arg-type]
    assert not out.exists() or not any(out.iterdir()), "nothing half-written is left behind"
    return caught.value.message


STEEL = {"material": "steel_s235", "thickness_mm": 3.0}


def test_an_open_contour_names_its_entity_and_loose_end(tmp_path: Path) -> None:
    def three_sides(space: object) -> None:
        for start, end in (((0, 0), (50, 0)), ((50, 0), (50, 30)), ((50, 30), (0, 30))):
            space.add_line(start, end, dxfattribs={"layer": "CUT"})  # type: ignore[attr-defined]

    message = refused(dxf(tmp_path, "open.dxf", three_sides), "plasma-1", tmp_path, **STEEL)
    expected = r"open contour: LINE \w+ on layer CUT ends at \(0\.000, (0|30)\.000\) mm, joined to nothing"
    assert re.fullmatch(expected, message)


def test_a_self_intersecting_outline_names_the_crossing(tmp_path: Path) -> None:
    def bow_tie(space: object) -> None:
        corners = [(0, 0), (40, 40), (40, 0), (0, 40)]
        space.add_lwpolyline(corners, close=True, dxfattribs={"layer": "CUT"})  # type: ignore[attr-defined]

    message = refused(dxf(tmp_path, "bow.dxf", bow_tie), "laser-1", tmp_path, **STEEL)
    where = r"self-intersection at \(20\.000, 20\.000\) mm"
    assert re.fullmatch(r"self-intersecting contour \(LWPOLYLINE \w+ on layer CUT\): " + where, message)


def test_crossing_contours_are_refused(tmp_path: Path) -> None:
    def overlapping(space: object) -> None:
        space.add_circle((0, 0), 20, dxfattribs={"layer": "CUT"})  # type: ignore[attr-defined]
        space.add_circle((30, 0), 20, dxfattribs={"layer": "CUT"})  # type: ignore[attr-defined]

    message = refused(dxf(tmp_path, "cross.dxf", overlapping), "laser-1", tmp_path, **STEEL)
    assert message.startswith("contours cross or touch at (15.000, ") and "CIRCLE" in message


def test_a_part_larger_than_the_bed_names_its_outline(tmp_path: Path) -> None:
    def big(space: object) -> None:  # 990 x 300 mm, + 0.2 mm kerf, + 1 mm lead-in below
        corners = [(0, 0), (990, 0), (990, 300), (0, 300)]
        space.add_lwpolyline(corners, close=True, dxfattribs={"layer": "CUT"})  # type: ignore[attr-defined]

    message = refused(dxf(tmp_path, "big.dxf", big), "laser-1", tmp_path, **STEEL)
    assert re.fullmatch(
        r"outline \(LWPOLYLINE \w+ on layer CUT\) needs 990\.2 x 301\.2 mm with kerf and lead-ins; "
        r"the bed of laser-1 is 1000 x 610 mm \(5 mm margin\)",
        message,
    )


def test_too_many_copies_for_the_bed_are_refused(tmp_path: Path) -> None:
    plate = ROOT / "designs/ceb-press/files/frame-side-plate.dxf"  # 900 x 400 mm
    message = refused(plate, "laser-1", tmp_path, copies=2, **STEEL)
    assert message.startswith("2 copies of ") and "do not fit the 1000 x 610 mm bed of laser-1" in message


def test_a_hole_smaller_than_the_kerf_cannot_be_cut(tmp_path: Path) -> None:
    def pinhole(space: object) -> None:
        space.add_lwpolyline([(0, 0), (60, 0), (60, 60), (0, 60)], close=True)  # type: ignore[attr-defined]
        space.add_circle((30, 30), 0.5)  # type: ignore[attr-defined]

    message = refused(dxf(tmp_path, "pin.dxf", pinhole), "plasma-1", tmp_path, **STEEL)
    expected = r"hole \(CIRCLE \w+ on layer 0\) is smaller than the kerf 1\.5 mm: it cannot be cut"
    assert re.fullmatch(expected, message)


def test_an_open_svg_path_names_its_id(tmp_path: Path) -> None:
    source = tmp_path / "tab.svg"
    source.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="100mm" height="100mm" viewBox="0 0 100 100">'
        '<rect id="plate" x="0" y="0" width="80" height="60"/>'
        '<path id="slot" d="M 10 10 L 30 10 L 30 20"/></svg>'
    )
    message = refused(source, "laser-1", tmp_path, material="plywood", thickness_mm=3)
    expected = r'open contour: <path id="slot"> ends at \(\d+\.000, -\d+\.000\) mm, joined to nothing'
    assert re.fullmatch(expected, message)


def test_inch_drawings_are_scaled_to_millimetres(tmp_path: Path) -> None:
    def square_inch(space: object) -> None:
        space.add_lwpolyline([(0, 0), (2, 0), (2, 1), (0, 1)], close=True)  # type: ignore[attr-defined]

    prepared = run(dxf(tmp_path, "inch.dxf", square_inch, units=1), "laser-1", tmp_path, **STEEL)
    (outline,) = contours(prepared.path)
    assert size(outline.points) == pytest.approx((50.8 + 0.2, 25.4 + 0.2), abs=0.01)


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (
            {"material": "titanium", "thickness_mm": 3},
            "plasma-1 has no cut settings for titanium (cut_table: steel",
        ),
        (steel(7), "no cut settings for steel_s235 7 mm (it has 3, 6, 8, 10, 12, 16, 20 mm)"),
        ({"material": "steel_s235"}, "the job names no thickness; plasma-1 cuts steel_s235 at 3, 6, 8"),
        ({"copies": 0, **STEEL}, "copies must be between 1 and 500, got 0"),
    ],
)
def test_jobs_without_matching_cut_settings_are_refused(
    tmp_path: Path, job: dict[str, object], message: str
) -> None:
    assert message in refused(LATCH, "plasma-1", tmp_path, **job)


def test_files_that_are_not_drawings_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dxf"
    junk.write_bytes(b"\x00\x01 this is not a drawing")
    assert refused(junk, "plasma-1", tmp_path, **STEEL).startswith("junk.dxf: not a readable DXF file")
    empty = dxf(tmp_path, "empty.dxf", lambda space: space.add_text("just a label"))  # type: ignore[attr-defined]
    message = refused(empty, "plasma-1", tmp_path, **STEEL)
    assert message == "empty.dxf: the drawing has nothing to cut (no lines, arcs, circles or paths)"
    svg = tmp_path / "broken.svg"
    svg.write_text("<svg><rect")
    assert refused(svg, "laser-1", tmp_path, **STEEL).startswith("broken.svg: not a readable SVG file")
