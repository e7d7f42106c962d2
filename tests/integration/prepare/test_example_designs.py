"""`peerfab agent prepare` on every fabricated part of the example RepRap and brick press.

Each printed part is sliced with the stock PrusaSlicer profile, each plate cut on the plasma table
(and the thin ones on the laser too); every file must pass the agent's own G-code safety check.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from fablab_agents.config import AgentConfig, MachineConfig, with_simulated
from fablab_agents.machines import check_file

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "agent.workshop.example.toml"
LASER_THICKNESSES = {3.0, 6.0}  # the steel rows of laser-1's cut table


def fabricated(design: str, process: str) -> list[dict[str, Any]]:
    """The fabricated parts of an example design made by one process, as design.toml lists them."""
    package = ROOT / "designs" / design
    parts = tomllib.loads((package / "design.toml").read_text())["part"]
    found = [p for p in parts if p["kind"] == "fabricated" and p.get("process") == process]
    for part in found:
        part["path"] = package / part["file"]
    return found


def peerfab(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed `peerfab` command, as an operator would run it."""
    script = Path(sys.executable).with_name("peerfab")
    command = (
        [str(script)]
        if script.is_file()
        else [sys.executable, "-c", "from coordinator.cli import main; main()"]
    )
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=600, check=False)


def prepare_all(jobs: list[tuple[str, dict[str, Any], list[str]]], out: Path) -> list[dict[str, Any]]:
    """`peerfab agent prepare --json` for each (machine, part, extra args), in this process to spare a
    Python start per part (the tests below run the installed command itself)."""
    results = []
    for machine, part, extra in jobs:
        folder = out / machine / part["id"]
        args = ["agent", "prepare", "--config", str(EXAMPLE), "--machine", machine, str(part["path"])]
        args += ["--material", part["material"], "--out", str(folder), "--json", *extra]
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 0, f"{machine} {part['id']}: exit {done.exit_code}: {done.output.strip()}"
        results.append({"part": part["id"], **json.loads(done.output)})
    return results


def test_every_printed_part_of_the_reprap_is_sliced_with_the_stock_profile(
    workshop: AgentConfig, prusa: MachineConfig, tmp_path: Path
) -> None:
    parts = fabricated("reprap-printer", "fdm_print")
    assert len(parts) == 38
    results = prepare_all([("prusa-1", part, []) for part in parts], tmp_path)
    simulated = with_simulated(workshop, 1).machine("sim-1")
    assert simulated is not None
    for result in results:
        assert result["action"] == "slice" and result["check"] == [], result
        assert result["tool"] == "PrusaSlicer 2.5.0" and result["profile"].startswith("generic-i3-0.4.ini + ")
        assert result["estimates"]["time_s"] > 0 and result["estimates"]["filament_g"] > 0, result
        # the simulated demo printers have the same limits: the file runs there too
        assert check_file(Path(result["path"]), simulated) == []


def test_every_cut_part_of_the_press_becomes_plasma_and_laser_gcode(
    workshop: AgentConfig, tmp_path: Path
) -> None:
    plates = fabricated("ceb-press", "plasma_cut")
    assert len(plates) == 12
    jobs = [("plasma-1", plate, ["--thickness-mm", str(plate["thickness-mm"])]) for plate in plates]
    jobs += [
        ("laser-1", plate, ["--thickness-mm", str(plate["thickness-mm"])])
        for plate in plates
        if plate["thickness-mm"] in LASER_THICKNESSES
    ]
    results = prepare_all(jobs, tmp_path)
    assert len(results) == 16
    for (machine_id, plate, _), result in zip(jobs, results, strict=True):
        machine = workshop.machine(machine_id)
        assert machine is not None
        assert result["action"] == "cam" and result["check"] == [], result
        assert result["profile"] == f"cut_table steel_s235 {plate['thickness-mm']:g} mm"
        estimates = result["estimates"]
        assert estimates["time_s"] > 0 and estimates["cut_length_mm"] > 0 and estimates["pierces"] >= 1
        text = Path(result["path"]).read_text()
        assert ("M3 ; torch on" in text) == (machine_id == "plasma-1")
        assert ("M4 S1000" in text) == (machine_id == "laser-1")


def test_the_command_exits_2_with_the_reason(tmp_path: Path) -> None:
    plate = ROOT / "designs" / "ceb-press" / "files" / "gusset.dxf"
    done = peerfab(
        "agent", "prepare", "--config", str(EXAMPLE), "--machine", "plasma-1", str(plate),
        "--material", "steel_s235", "--thickness-mm", "9", "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: plasma-1 has no cut settings for steel_s235 9 mm (it has 3, 6, 8, 10, 12, 16, 20 mm)"
    )
    assert not any(tmp_path.iterdir())


def test_the_command_prints_the_estimates(prusa: MachineConfig, tmp_path: Path) -> None:
    part = ROOT / "designs" / "reprap-printer" / "files" / "lcd-knob.stl"
    done = peerfab(
        "agent", "prepare", "--config", str(EXAMPLE), "--machine", "prusa-1", str(part),
        "--copies", "2", "--material", "pla", "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fields = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert fields["action"] == "slice" and fields["tool"] == "PrusaSlicer 2.5.0"
    assert fields["profile"] == "generic-i3-0.4.ini + pla.ini"
    assert (
        fields["time"].endswith(" s)") and fields["filament"].endswith(" m") and fields["mass"].endswith(" g")
    )
