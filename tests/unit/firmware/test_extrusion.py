"""The filament a G-code file pushes through the nozzle, counted from its E moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.gcode import extruded_mm, prepare_lines, read_job

GCODE = Path(__file__).resolve().parents[2] / "fixtures" / "gcode"
PRUSASLICER = GCODE / "plug-aligner_prusaslicer-2.5_marlin2.gcode"


def _count(*lines: str) -> float | None:
    return extruded_mm(prepare_lines(lines))


def test_absolute_extrusion_counts_from_each_g92_and_nets_out_retractions() -> None:
    moves = ("M82", "G92 E0", "G1 X10 E5", "G1 X20 E12", "G1 E11 F2400", "G1 E12", "G92 E0", "G1 X30 E3")
    assert _count(*moves) == pytest.approx(15.0)


def test_relative_extrusion_by_m83_or_g91() -> None:
    assert _count("M83", "G1 X10 E2.5", "G1 E-0.8", "G1 E0.8", "G1 X20 E1.5") == pytest.approx(4.0)
    assert _count("G91", "G1 X1 E1", "G1 X1 E1", "G90", "G92 E0", "G1 X5 E4") == pytest.approx(6.0)
    assert _count("G91", "M82", "G1 X1 E2", "G1 X1 E3") == pytest.approx(3.0)  # M82: E absolute again
    assert _count("M83", "G1 X1 E2", "M82", "G1 X1 E5") == pytest.approx(5.0)  # absolute from where it was


def test_a_file_that_never_moves_the_extruder_is_no_print() -> None:
    assert _count("G21", "G90", "M3 S10000", "G92 E0", "G1 X10 Y5 F800", "M5") is None
    assert _count("G92 E0", "G1 E-2", "G1 E0") == 0.0  # a retraction undone: a print that used nothing
    assert _count("G92 E0", "G1 E-2") == 0.0  # never less than nothing


def test_a_prusaslicer_file_counts_what_its_slicer_says() -> None:
    said = next(float(line.split("=")[1]) for line in PRUSASLICER.read_text().splitlines()
                if line.startswith("; filament used [mm] ="))  # fmt: skip
    # 90.74 mm against 92.74: the file's last move pulls 2 mm back, which stays on the spool's side
    assert extruded_mm(read_job(PRUSASLICER)) == pytest.approx(said - 2.0, abs=0.01)
