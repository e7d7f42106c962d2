"""What a machine does with a file, told from its name and the config before any download."""

from __future__ import annotations

from pathlib import Path

import pytest

from fablab_agents.config import MachineConfig, load_agent_config, with_simulated
from fablab_agents.prepare import Action, NeedsOperator, PreparationError, plan_file, prepare

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_agent_config(ROOT / "config" / "agent.workshop.example.toml")


def machine(machine_id: str) -> MachineConfig:
    found = CONFIG.machine(machine_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("machine_id", "name", "action"),
    [
        ("prusa-1", "part.gcode", Action.PASS),
        ("prusa-1", "part.STL", Action.SLICE),
        ("prusa-1", "part.3mf", Action.SLICE),
        ("prusa-1", "part.obj", Action.SLICE),
        ("cura-1", "part.stl", Action.SLICE),
        ("cura-1", "part.3mf", Action.REJECT),
        ("prusa-1", "plate.dxf", Action.REJECT),
        ("laser-1", "plate.dxf", Action.CAM),
        ("plasma-1", "plate.svg", Action.CAM),
        ("router-1", "plate.DXF", Action.CAM),
        ("router-1", "job.nc", Action.PASS),
        ("plasma-1", "job.ngc", Action.PASS),
        ("laser-1", "board.gtl", Action.OPERATOR),
        ("laser-1", "gerbers.zip", Action.OPERATOR),
        ("laser-1", "drill.drl", Action.OPERATOR),
        ("laser-1", "part.stl", Action.REJECT),
        ("prusa-1", "model.step", Action.REJECT),
    ],
)
def test_each_kind_of_file_has_one_action(machine_id: str, name: str, action: Action) -> None:
    assert plan_file(name, machine(machine_id)).action is action


def test_the_reason_names_the_tool_and_profile() -> None:
    reason = plan_file("x.stl", machine("prusa-1")).reason
    assert reason == "sliced with prusaslicer, profile generic-i3-0.4.ini"
    assert "CuraEngine reads STL files only" in plan_file("x.3mf", machine("cura-1")).reason


def test_simulated_machines_without_profiles_take_any_file_as_before() -> None:
    sim = with_simulated(CONFIG, 1).machine("sim-1")
    assert sim is not None
    for name in ("part.stl", "plate.dxf", "gerbers.zip", "work-order.json"):
        assert plan_file(name, sim).action is Action.PASS


def test_a_machine_marked_operator_hands_every_non_gcode_file_to_a_person(tmp_path: Path) -> None:
    config = load_agent_config(
        {
            "agent": {"fablab": "l", "id": "a", "coordinator_url": "http://x", "mqtt_url": "mqtt://x"},
            "machine mill-1": {"driver": "grbl", "process": "cnc_mill", "prepare": "operator"},
        }
    )
    mill = config.machine("mill-1")
    assert mill is not None
    assert plan_file("bracket.step", mill).action is Action.OPERATOR
    assert plan_file("bracket.nc", mill).action is Action.PASS
    source = tmp_path / "bracket.step"
    source.write_text("ISO-10303-21;\n")
    expected = 'bracket.step needs preparation by an operator: .*prepare = "operator"'
    with pytest.raises(NeedsOperator, match=expected):
        prepare(source, mill, out_dir=tmp_path / "out")


def test_prepare_refuses_what_the_plan_rejects_before_touching_the_file(tmp_path: Path) -> None:
    with pytest.raises(PreparationError, match="CuraEngine reads STL files only, not .3mf"):
        prepare(tmp_path / "never-read.3mf", machine("cura-1"), out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_gcode_passes_through_with_the_estimates_it_carries(tmp_path: Path) -> None:
    source = tmp_path / "job.gcode"
    summary = "; estimated printing time (normal mode) = 1h 2m 3s\n"
    source.write_text(f"{summary}G28\n; filament used [mm] = 1234.5\n")
    prepared = prepare(source, machine("prusa-1"), out_dir=tmp_path / "out")
    assert prepared.action is Action.PASS and prepared.path == source
    assert prepared.estimates.time_s == 3723 and prepared.estimates.filament_mm == 1234.5
    assert not (tmp_path / "out").exists()
