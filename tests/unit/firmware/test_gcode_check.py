"""The G-code safety check on small hand-written programs and on real slicer output."""

from __future__ import annotations

from pathlib import Path

from firmware_bridge.gcode_check import Limits, check_gcode

PRINTER = Limits(max_hotend=275, max_bed=110, volume_max=(250, 210, 210))


def problems(text: str, limits: Limits = PRINTER) -> list[tuple[int, str]]:
    return [(p.line, p.code) for p in check_gcode(text.splitlines(), limits)]


def test_temperatures_above_the_maximum_are_reported_with_line_numbers() -> None:
    text = "M104 S200\nM109 S300 ; too hot\nM140 S60\nM190 R120\n"
    assert problems(text) == [(2, "limit"), (4, "limit")]


def test_forbidden_firmware_commands() -> None:
    text = "G28\nM500\nM502\nM997\nM503\n$110=500\nM303 E0 S200 C8\n"
    assert problems(text) == [
        (2, "forbidden"),
        (3, "forbidden"),
        (4, "forbidden"),
        (6, "forbidden"),
        (7, "forbidden"),
    ]


def test_absolute_and_relative_moves_against_the_volume() -> None:
    text = "G28\nG90\nG1 X240 Y200\nG91\nG1 X20\nG90\nG1 X10 Z-1\n"
    assert problems(text) == [(5, "volume"), (7, "volume")]


def test_inch_units_and_g92_offsets_are_honoured() -> None:
    assert problems("G28\nG20\nG1 X10\n") == [(3, "volume")]  # 254 mm
    assert problems("G28\nG1 X100\nG92 X0\nG1 X140\nG1 X160\n") == [(5, "volume")]


def test_spindle_speed_limit_for_cnc() -> None:
    router = Limits(max_spindle=12000)
    assert problems("M3 S10000\nM4 S24000\nM5\n", router) == [(2, "limit")]


def test_comments_do_not_trigger_checks() -> None:
    assert problems("; M500 in a comment\nG1 X1 (M104 S999)\n") == []


def test_real_slicer_file(realworld: Path) -> None:
    benchy = realworld / "gcode/fdm/benchy_prusaslicer-2.6.1_marlin2.gcode"
    with benchy.open() as handle:
        found = check_gcode(handle, PRINTER)
    # the only problem: PrusaSlicer's purge line starts at Y-2, in front of a 0-based bed
    assert [(p.line, p.code) for p in found] == [(254, "volume")]
    with benchy.open() as handle:
        assert check_gcode(handle, Limits(max_hotend=200)) != []  # it heats to 205
