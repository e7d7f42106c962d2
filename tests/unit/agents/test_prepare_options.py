"""Preparation options in `[machine NAME]`: slicer profiles and cut tables, read with types and bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fablab_agents.config import load_agent_config
from fablab_agents.prepare import Action, plan_file
from protocol.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "agent.workshop.example.toml"
AGENT = {
    "fablab": "lab-1",
    "id": "agent-1",
    "coordinator_url": "http://127.0.0.1:8400",
    "mqtt_url": "mqtt://127.0.0.1:1883",
}
LASER = {"driver": "grbl", "process": "laser_cut", "build_volume_mm": [600, 400, 20]}
ROW = {"material": "plywood", "thickness_mm": 3, "feed_mm_min": 1200, "kerf_mm": 0.15}


def machine_config(tmp_path: Path, **options: Any) -> Any:
    """A one-machine config written as a TOML file, so relative paths resolve against its folder."""
    lines = ["[agent]", *(f'{k} = "{v}"' for k, v in AGENT.items()), "", "[machine m-1]"]
    lines += [f"{key} = {_toml(value)}" for key, value in options.items()]
    path = tmp_path / "agent.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_agent_config(path).machine("m-1")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def test_the_workshop_example_reads_every_machine_with_its_profiles_and_cut_table() -> None:
    config = load_agent_config(EXAMPLE)
    prusa, laser, router = config.machine("prusa-1"), config.machine("laser-1"), config.machine("router-1")
    assert prusa is not None and laser is not None and router is not None
    assert prusa.prepare.profile == ROOT / "config/slicers/prusaslicer/generic-i3-0.4.ini"
    assert sorted(prusa.prepare.material_profiles) == ["petg", "pla"]
    assert prusa.prepare.slicer_options == {"fill_density": "30%"}
    assert {(r.material, r.thickness_mm) for r in laser.prepare.cut_table} >= {("steel_s235", 3.0)}
    assert laser.prepare.air_assist and laser.prepare.laser_s_max == 1000
    assert router.prepare.cut_table[0].spindle_rpm == 18000
    assert "cut_table" not in router.driver_options and "profile" not in prusa.driver_options


def test_profile_paths_resolve_next_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "printer.ini").write_text("layer_height = 0.2\n")
    machine = machine_config(tmp_path, driver="marlin", process="fdm_print", profile="printer.ini")
    assert machine.prepare.profile == tmp_path / "printer.ini"
    assert plan_file("part.stl", machine).action is Action.SLICE


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "missing.ini"}, "[machine m-1] profile: file"),
        ({"slicer": "simplify3d"}, "[machine m-1] slicer: unknown slicer 'simplify3d'"),
        ({"material_profiles": {"pla": "nope.ini"}}, "material_profiles.pla: file"),
        ({"slicer_options": {"fill-density": "20%"}}, "slicer_options.fill-density"),
        ({"slicer_timeout_s": 0}, "slicer_timeout_s: must be greater than 0"),
        ({"prepare": "manual"}, "prepare: expected 'auto' or 'operator'"),
        ({"cut_table": [ROW]}, "cut_table: not an option of a fdm_print machine"),
        ({"lead_in_mm": 3}, "lead_in_mm: not an option of a fdm_print machine"),
    ],
)
def test_bad_printer_options_are_refused_naming_machine_and_key(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        machine_config(tmp_path, driver="marlin", process="fdm_print", **options)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cut_table": [{**ROW, "feed_mm_min": 0}]}, "cut_table[1].feed_mm_min: must be greater than 0"),
        ({"cut_table": [{k: v for k, v in ROW.items() if k != "kerf_mm"}]}, "cut_table[1].kerf_mm: missing"),
        ({"cut_table": [{**ROW, "colour": "red"}]}, "cut_table[1].colour: unknown option"),
        ({"cut_table": [{**ROW, "power": 1.5}]}, "cut_table[1].power: must be at most 1"),
        ({"cut_table": [{**ROW, "spindle_rpm": 9000}]}, "cut_table[1].spindle_rpm: unknown option"),
        ({"cut_table": [ROW, {**ROW, "feed_mm_min": 900}]}, "cut_table: plywood 3 mm is listed twice"),
        ({"cut_table": [ROW], "profile": "x.ini"}, "profile: not an option of a laser_cut machine"),
        ({"cut_table": [ROW], "tab_width_mm": 5}, "tab_width_mm: not an option of a laser_cut machine"),
    ],
)
def test_bad_cut_tables_are_refused_naming_the_row_and_key(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        machine_config(tmp_path, **LASER, **options)
    assert message in caught.value.message


def test_a_plasma_torch_height_needs_both_heights(tmp_path: Path) -> None:
    plasma = {"driver": "grbl", "process": "plasma_cut", "cut_table": [ROW]}
    with pytest.raises(InvalidInput, match="pierce_height_mm: goes with cut_height_mm"):
        machine_config(tmp_path, **plasma, pierce_height_mm=3.8)


def test_a_router_row_needs_a_spindle_speed(tmp_path: Path) -> None:
    router = {"driver": "grbl", "process": "cnc_router", "cut_table": [ROW]}
    with pytest.raises(InvalidInput, match=r"cut_table\[1\].spindle_rpm: missing required option"):
        machine_config(tmp_path, **router)
