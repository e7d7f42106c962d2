"""PrusaSlicer, for real, with the stock profile: meshes in, checked G-code out, or the slicer's reason."""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from fablab_agents.config import AgentConfig, MachineConfig, with_simulated
from fablab_agents.machines import check_file
from fablab_agents.prepare import Action, PreparationError, Prepared, prepare

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
PARTS = ROOT / "designs" / "reprap-printer" / "files"
PRUSA_STLS = ROOT.parent / "shared" / "realworld" / "stl" / "prusa-i3-mk3s"


def sliced(source: Path, machine: MachineConfig, out: Path, **job: object) -> Prepared:
    prepared = prepare(source, machine, out_dir=out, **job)  # type: ignore[arg-type]
    assert prepared.action is Action.SLICE and prepared.path == out / f"{source.stem}.gcode"
    assert check_file(prepared.path, machine) == []
    return prepared


def test_a_reprap_part_is_sliced_with_profile_material_and_options(
    prusa: MachineConfig, workshop: AgentConfig, tmp_path: Path
) -> None:
    prepared = sliced(PARTS / "z-coupling.stl", prusa, tmp_path, material="petg")
    assert prepared.tool == "PrusaSlicer 2.5.0" and prepared.profile == "generic-i3-0.4.ini + petg.ini"
    estimates = prepared.estimates
    assert estimates.time_s and estimates.time_s > 60 and estimates.filament_mm and estimates.filament_g
    # PETG at 1.27 g/cm3 on 1.75 mm filament: the slicer's own mass agrees with its own length
    assert estimates.filament_g == pytest.approx(estimates.filament_mm * 2.405 / 1000 * 1.27, rel=0.01)
    text = prepared.path.read_text()
    assert "M109 S235 ; wait for the nozzle" in text and "M104 S240" in text  # petg.ini, not the PLA default
    assert "; fill_density = 30%" in text  # slicer_options of prusa-1
    assert "; bed_shape = 0x0,250x0,250x210,0x210" in text  # from build_volume_mm
    simulated = with_simulated(workshop, 1).machine("sim-1")
    assert simulated is not None and check_file(prepared.path, simulated) == []


def test_copies_are_arranged_on_one_plate(prusa: MachineConfig, tmp_path: Path) -> None:
    prepared = sliced(PARTS / "x-rod-clip.stl", prusa, tmp_path, copies=4, material="pla")
    copies = set(
        re.findall(r"^; printing object x-rod-clip\.stl id:0 copy (\d+)$", prepared.path.read_text(), re.M)
    )
    assert copies == {"0", "1", "2", "3"}


def test_real_prusa_parts_slice_when_present(prusa: MachineConfig, tmp_path: Path) -> None:
    parts = [PRUSA_STLS / "LCD-knob.stl", PRUSA_STLS / "Extruder-cable-clip.stl"]
    if not all(p.is_file() for p in parts):
        pytest.skip("shared real-world STLs not present")
    for part in parts:
        prepared = sliced(part, prusa, tmp_path / part.stem, material="pla")
        assert prepared.estimates.time_s and prepared.estimates.filament_g


def test_obj_and_3mf_meshes_are_sliced_too(prusa: MachineConfig, tmp_path: Path) -> None:
    obj = tmp_path / "clip.obj"
    obj.write_text(_obj_from_stl(PARTS / "cable-clip.stl"))
    assert sliced(obj, prusa, tmp_path / "obj").estimates.time_s
    three_mf = tmp_path / "clip.3mf"
    subprocess.run(
        ["prusa-slicer", "--export-3mf", "--output", str(three_mf), str(PARTS / "cable-clip.stl")],
        check=True,
        capture_output=True,
    )
    assert sliced(three_mf, prusa, tmp_path / "3mf").estimates.time_s


def _obj_from_stl(stl: Path) -> str:
    data = stl.read_bytes()
    count = struct.unpack_from("<I", data, 80)[0]
    lines = []
    for index in range(count):
        values = struct.unpack_from("<12f", data, 84 + index * 50)
        lines += [f"v {values[i]} {values[i + 1]} {values[i + 2]}" for i in (3, 6, 9)]
        lines.append(f"f {3 * index + 1} {3 * index + 2} {3 * index + 3}")
    return "\n".join(lines) + "\n"


def refused(source: Path, machine: MachineConfig, tmp_path: Path, **job: object) -> str:
    out = tmp_path / "out"
    with pytest.raises(PreparationError) as caught:
        prepare(source, machine, out_dir=out, **job)  # type: ignore[arg-type]
    assert not out.exists() or not any(out.iterdir()), "nothing half-written is left behind"
    return caught.value.message


def test_a_file_prusaslicer_cannot_read_gives_its_reason(prusa: MachineConfig, tmp_path: Path) -> None:
    junk = tmp_path / "junk.stl"
    junk.write_bytes(b"\x17" * 300)
    message = refused(junk, prusa, tmp_path)
    assert (
        message.startswith("PrusaSlicer cannot read junk.stl: ")
        and "Loading of a model file failed" in message
    )


def test_a_part_larger_than_the_printer_is_refused_before_slicing(
    prusa: MachineConfig, tmp_path: Path
) -> None:
    big = tmp_path / "x-carriage-big.stl"
    big.write_bytes(_scaled(PARTS / "x-carriage.stl", 5))
    message = refused(big, prusa, tmp_path)
    assert (
        message
        == "x-carriage-big.stl is 300 x 350 x 110 mm; the build volume of prusa-1 is 250 x 210 x 210 mm"
    )


def _scaled(stl: Path, factor: float) -> bytes:
    data = bytearray(stl.read_bytes())
    count = struct.unpack_from("<I", data, 80)[0]
    for index in range(count):
        offset = 84 + index * 50 + 12
        vertices = struct.unpack_from("<9f", data, offset)
        struct.pack_into("<9f", data, offset, *(v * factor for v in vertices))
    return bytes(data)


def test_copies_that_do_not_fit_get_the_slicers_reason(prusa: MachineConfig, tmp_path: Path) -> None:
    message = refused(PARTS / "x-carriage.stl", prusa, tmp_path, copies=40)
    assert (
        message == "PrusaSlicer could not slice x-carriage.stl (40 copies): Objects could not fit on the bed"
    )


def test_slicer_options_prusaslicer_does_not_know_are_refused(prusa: MachineConfig, tmp_path: Path) -> None:
    unknown = _with_options(prusa, {"fill_densty": "20%"})
    assert refused(PARTS / "cable-clip.stl", unknown, tmp_path) == (
        "[machine prusa-1] slicer_options: PrusaSlicer has no option fill_densty"
    )
    invalid = _with_options(prusa, {"fill_density": "banana"})
    message = refused(PARTS / "cable-clip.stl", invalid, tmp_path)
    assert message.startswith("PrusaSlicer could not slice cable-clip.stl: ")
    assert "Invalid value provided for parameter fill_density: banana" in message


def test_a_missing_slicer_is_named(prusa: MachineConfig, tmp_path: Path) -> None:
    missing = replace(prusa, prepare=replace(prusa.prepare, slicer_path=str(tmp_path / "no-slicer")))
    message = refused(PARTS / "cable-clip.stl", missing, tmp_path)
    assert (
        message
        == f"PrusaSlicer: {tmp_path / 'no-slicer'} is not installed here (install it or set slicer_path)"
    )


def _with_options(machine: MachineConfig, options: dict[str, str]) -> MachineConfig:
    return replace(machine, prepare=replace(machine.prepare, slicer_options=options))


def test_a_bar_longer_than_the_bed_is_turned_onto_the_diagonal(
    prusa: MachineConfig, cura: MachineConfig, tmp_path: Path
) -> None:
    brace = PARTS / "frame-diagonal-brace.stl"  # 300 x 20 mm on a 250 x 210 mm bed
    expected = (
        "frame-diagonal-brace.stl is turned 39 degrees on the bed to fit",
        "no room for the skirt around the part: printed without one",
    )
    prepared = sliced(brace, prusa, tmp_path / "prusa", material="pla")
    assert prepared.warnings == expected and "; skirts = 0" in prepared.path.read_text()
    turned = prepare(brace, cura, out_dir=tmp_path / "cura", material="pla")
    assert turned.warnings == expected and check_file(turned.path, cura) == []
