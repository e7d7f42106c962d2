"""Small readers of the preparation stage: slicer summaries, STL extents, CuraEngine's logged header."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from fablab_agents.prepare import PreparationError
from fablab_agents.prepare.curaengine import logged_header, read_settings_file, write_with_header
from fablab_agents.prepare.estimates import duration_s, parse_estimates
from fablab_agents.prepare.prusaslicer import config_keys, parse_info
from fablab_agents.prepare.stl import stl_extent
from fablab_agents.prepare.tools import tool_reason

ROOT = Path(__file__).resolve().parents[3]
REALWORLD_FDM = ROOT.parent / "shared" / "realworld" / "gcode" / "fdm"


def test_prusaslicer_summary_lines_give_time_length_and_mass() -> None:
    estimates = parse_estimates(
        [
            "; filament used [mm] = 14231.80",
            "; filament used [cm3] = 34.23",
            "; total filament used [g] = 43.47",
            "; estimated printing time (normal mode) = 1d 3h 39m 10s",
            "; estimated printing time (silent mode) = 9h 0m 0s",
        ]
    )
    assert estimates.time_s == 86400 + 3 * 3600 + 39 * 60 + 10
    assert estimates.filament_mm == 14231.8 and estimates.filament_g == 43.47


def test_curaengine_header_and_multi_extruder_lists_are_read() -> None:
    estimates = parse_estimates([";FLAVOR:Marlin", ";TIME:18711", ";Filament used: 4.97813m, 0.5m"])
    assert estimates.time_s == 18711 and estimates.filament_mm == pytest.approx(5478.13)


def test_real_slicer_files_carry_estimates_when_present() -> None:
    benchy = REALWORLD_FDM / "benchy_prusaslicer-2.6.1_marlin2.gcode"
    cura = REALWORLD_FDM / "puzzle_all_cura-2.3.1_reprap.gcode"
    if not benchy.is_file() or not cura.is_file():
        pytest.skip("shared real-world G-code not present")
    from fablab_agents.prepare.estimates import read_estimates

    prusa = read_estimates(benchy)
    assert (prusa.time_s, prusa.filament_mm, prusa.filament_g) == (2323, 4282.06, 12.77)  # 38m 43s
    assert read_estimates(cura).time_s == 3485


def test_durations_without_days_or_hours() -> None:
    assert duration_s("2m 44s") == 164 and duration_s("45s") == 45


def test_prusaslicer_info_and_config_dump_are_parsed() -> None:
    info = parse_info("[a.stl]\nsize_x = 60.000000\nsize_y = 70.5\nmanifold = no\n[b.stl]\nsize_x = 1\n")
    assert info == {"a.stl": {"size_x": 60.0, "size_y": 70.5, "manifold": 0.0}, "b.stl": {"size_x": 1.0}}
    dump = ["; prusaslicer_config = begin", "; fill_density = 30%", "; layer_height = 0.2"]
    dump.append("; prusaslicer_config = end")
    assert config_keys(["; not = inside", *dump]) == {"fill_density", "layer_height"}


def test_tool_reasons_drop_progress_and_trace_lines() -> None:
    output = (
        "[2026-12-06 01:52:35.082616] [0x7f44] [trace]   Initializing StaticPrintConfigs\n"
        "10 => Processing triangulated mesh\n"
        "[2026-12-06 01:52:35.08] [0x7f44] [error]   stl_open_count_facets: junk.stl has the wrong size.\n"
        "junk.stl: Loading of a model file failed.\n"
        "terminate called after throwing an instance of 'Slic3r::RuntimeError'\n"
        "  what():  Objects could not fit on the bed\n"
    )
    assert tool_reason(output) == (
        "stl_open_count_facets: junk.stl has the wrong size.; junk.stl: Loading of a model file failed.; "
        "Objects could not fit on the bed"
    )
    cura = "Cura_SteamEngine version 4.13.0\nLoading...\n[WARNING]  -s a=1 -s b=2\n"
    cura += "[ERROR] Layer height 0 is disallowed.\n"
    assert tool_reason(cura, logged_only=True) == "Layer height 0 is disallowed."


def test_stl_extents_of_binary_and_ascii_meshes(tmp_path: Path) -> None:
    extent = stl_extent(ROOT / "designs/reprap-printer/files/x-carriage.stl")
    assert extent.size == pytest.approx((60.0, 70.0, 22.0)) and extent.facets == 964
    ascii_stl = tmp_path / "tri.stl"
    facet = "facet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 10 0 0\nvertex 0 5 2\nendloop\nendfacet\n"
    ascii_stl.write_text(f"solid t\n{facet}endsolid t\n")
    assert stl_extent(ascii_stl).size == (10.0, 5.0, 2.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00" * 80 + struct.pack("<I", 0), "a binary STL without a single facet"),
        (b"\x00" * 80 + struct.pack("<I", 5) + b"\x00" * 30, "not an STL mesh"),
        (b"solid empty\nendsolid empty\n", "an ASCII STL without a single facet"),
    ],
)
def test_broken_stl_files_are_named(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "part.stl"
    path.write_bytes(data)
    with pytest.raises(PreparationError, match=f"part.stl: {message}"):
        stl_extent(path)


def test_curaengine_placeholder_header_is_replaced_by_the_logged_one(tmp_path: Path) -> None:
    real = ";FLAVOR:Marlin\n;TIME:321\n;Filament used: 1.5m\n"
    log = f"Slicing...\nGcode header after slicing:\n{real}End of gcode header.\n"
    body = ";Generated with Cura_SteamEngine 4.13.0\nG28\n"
    raw = tmp_path / "raw.gcode"
    raw.write_text(f";FLAVOR:Marlin\n;TIME:6666\n;Filament used: 0m\n\n{body}")
    out = tmp_path / "out.gcode"
    write_with_header(raw, out, logged_header(log))
    assert out.read_text() == real + body


def test_cura_material_overlays_are_key_value_lines(tmp_path: Path) -> None:
    overlay = tmp_path / "pla.ini"
    overlay.write_text("# PLA\nmaterial_print_temperature = 210\n; note\n\nmaterial_diameter=1.75\n")
    assert read_settings_file(overlay) == {"material_print_temperature": "210", "material_diameter": "1.75"}
    overlay.write_text("material_print_temperature 210\n")
    with pytest.raises(PreparationError, match="pla.ini line 1: expected `setting = value`"):
        read_settings_file(overlay)
