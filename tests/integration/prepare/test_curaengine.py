"""CuraEngine 4.13, for real, with the machine definition written for peerfab."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from fablab_agents.config import MachineConfig
from fablab_agents.machines import check_file
from fablab_agents.prepare import Action, PreparationError, prepare

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
PARTS = ROOT / "designs" / "reprap-printer" / "files"


def test_a_reprap_part_is_sliced_with_the_engines_own_estimates(cura: MachineConfig, tmp_path: Path) -> None:
    prepared = prepare(PARTS / "y-idler.stl", cura, out_dir=tmp_path, material="petg")
    assert prepared.action is Action.SLICE and prepared.tool == "CuraEngine 4.13.0"
    assert prepared.profile == "generic-i3-0.4.def.json + petg.ini"
    assert check_file(prepared.path, cura) == []
    head = prepared.path.read_text().splitlines()[:12]
    time_line = next(line for line in head if line.startswith(";TIME:"))
    assert time_line != ";TIME:6666" and float(time_line[6:]) == prepared.estimates.time_s
    assert prepared.estimates.filament_mm and prepared.estimates.filament_g
    assert prepared.estimates.filament_g == pytest.approx(
        prepared.estimates.filament_mm * 2.405e-3 * 1.27, rel=0.01
    )
    text = prepared.path.read_text()
    assert "M109 S235" in text and "M190 S80" in text  # petg.ini overlay on the definition


def test_copies_are_placed_on_a_grid_inside_the_bed(cura: MachineConfig, tmp_path: Path) -> None:
    prepared = prepare(PARTS / "x-idler-spacer.stl", cura, out_dir=tmp_path, copies=6, material="pla")
    assert check_file(prepared.path, cura) == []
    header = "\n".join(prepared.path.read_text().splitlines()[:12])
    low_x, high_x = (float(v) for v in re.findall(r";M(?:IN|AX)X:([-\d.]+)", header))
    one = prepare(PARTS / "x-idler-spacer.stl", cura, out_dir=tmp_path / "one", material="pla")
    one_header = "\n".join(one.path.read_text().splitlines()[:12])
    one_low, one_high = (float(v) for v in re.findall(r";M(?:IN|AX)X:([-\d.]+)", one_header))
    assert high_x - low_x > 2.5 * (one_high - one_low)  # side by side, not stacked on one spot
    assert prepared.estimates.time_s and one.estimates.time_s
    assert prepared.estimates.time_s > 4 * one.estimates.time_s


def test_copies_that_overflow_the_bed_are_refused(cura: MachineConfig, tmp_path: Path) -> None:
    with pytest.raises(PreparationError) as caught:
        prepare(PARTS / "x-carriage.stl", cura, out_dir=tmp_path, copies=12)
    assert caught.value.message == (
        "12 copies of x-carriage.stl (60.0 x 70.0 mm) do not fit the 250 x 210 mm bed of cura-1"
    )


def test_the_engines_error_is_the_reason(cura: MachineConfig, tmp_path: Path) -> None:
    flat = replace(cura, prepare=replace(cura.prepare, slicer_options={"layer_height": "0"}))
    with pytest.raises(PreparationError) as caught:
        prepare(PARTS / "cable-clip.stl", flat, out_dir=tmp_path / "out")
    assert caught.value.message == "CuraEngine could not slice cable-clip.stl: Layer height 0 is disallowed."
    assert not any((tmp_path / "out").iterdir())
    unknown = replace(cura, prepare=replace(cura.prepare, slicer_options={"support_enable": "true"}))
    assert prepare(PARTS / "cable-clip.stl", unknown, out_dir=tmp_path / "support").estimates.time_s
