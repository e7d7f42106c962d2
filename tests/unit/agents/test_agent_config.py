"""Agent config: named sections, typed options with bounds, unknown options named."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from fablab_agents.config import load_agent_config, parse_mqtt_url, with_simulated
from protocol.errors import InvalidInput

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "agent.example.toml"

AGENT = """
[agent]
fablab = "lab-berlin"
id = "agent-1"
coordinator_url = "http://127.0.0.1:8400"
mqtt_url = "mqtt://lab-berlin.agent-1:s%40cret@127.0.0.1:1884"
"""

MACHINE = """
[machine prusa-1]
driver = "simulated"
process = "fdm_print"
build_volume_mm = [250, 210, 210]
materials = ["PLA", "petg"]
max_hotend_c = 285
time_scale = 600
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_example_config_loads_with_its_machine() -> None:
    config = load_agent_config(EXAMPLE)
    assert (config.fablab, config.id, config.local_port) == ("lab-berlin", "agent-1", 8410)
    machine = config.machine("prusa-1")
    assert machine is not None
    assert machine.capabilities.build_volume_mm == (250.0, 210.0, 210.0)
    assert machine.capabilities.materials == ("pla", "petg")
    assert machine.operator_confirm is True
    assert machine.driver_options == {"time_scale": 600}


def test_klipper_header_and_dotted_table_are_the_same_machine(tmp_path: Path) -> None:
    named = load_agent_config(write(tmp_path, AGENT + MACHINE))
    dotted = load_agent_config(
        write(tmp_path, AGENT + MACHINE.replace("[machine prusa-1]", "[machine.prusa-1]"))
    )
    assert named.machines == dotted.machines
    assert named.machines[0].capabilities.materials == ("pla", "petg")


def test_mapping_source_is_accepted() -> None:
    config = load_agent_config(
        {
            "agent": {
                "fablab": "lab-a",
                "id": "a1",
                "coordinator_url": "http://127.0.0.1:1/",
                "mqtt_url": "mqtt://127.0.0.1:1883",
            },
            "machine m1": {"driver": "simulated", "process": "fdm_print"},
        }
    )
    assert config.coordinator_url == "http://127.0.0.1:1"
    assert [m.id for m in config.machines] == ["m1"]


def test_password_in_mqtt_url_is_unquoted(tmp_path: Path) -> None:
    target = load_agent_config(write(tmp_path, AGENT)).mqtt
    assert (target.username, target.password, target.port) == ("lab-berlin.agent-1", "s@cret", 1884)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[agent]", "[agent]\nheartbeet_s = 3", "[agent] heartbeet_s: unknown option"),
        ("max_hotend_c = 285", "max_hotend_c = 900", "[machine prusa-1] max_hotend_c: must be at most 600"),
        ("max_hotend_c = 285", 'max_hotend_c = "hot"', "[machine prusa-1] max_hotend_c: expected a number"),
        ("[250, 210, 210]", "[250, 210]", "[machine prusa-1] build_volume_mm: expected 3 values"),
        ("max_hotend_c = 285", 'operator_confirm = "yes"', "operator_confirm: expected true or false"),
    ],
)
def test_bad_options_name_section_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = (AGENT + MACHINE).replace(old, new)
    with pytest.raises(InvalidInput) as info:
        load_agent_config(write(tmp_path, text))
    assert message in info.value.message
    assert "agent.toml" in info.value.message


def test_missing_required_and_bad_ids(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"\[agent\] mqtt_url: missing required option"):
        load_agent_config(write(tmp_path, AGENT.replace("mqtt_url", "# mqtt_url")))
    with pytest.raises(InvalidInput, match="not a valid id"):
        load_agent_config(write(tmp_path, AGENT.replace('"agent-1"', '"Agent/1"')))
    with pytest.raises(InvalidInput, match="unknown section"):
        load_agent_config(write(tmp_path, AGENT + "[printer x]\nfoo = 1\n"))
    with pytest.raises(InvalidInput, match="defined twice"):
        load_agent_config({**_mapping(), "machine": {"m1": {"driver": "simulated", "process": "fdm_print"}}})


def _mapping() -> dict:
    return {
        "agent": {"fablab": "l", "id": "a", "coordinator_url": "http://h", "mqtt_url": "mqtt://h"},
        "machine m1": {"driver": "simulated", "process": "fdm_print"},
    }


def test_mqtt_url_must_be_mqtt() -> None:
    with pytest.raises(InvalidInput, match="mqtt://"):
        parse_mqtt_url("http://127.0.0.1:1883")
    assert parse_mqtt_url("mqtts://h").port == 8883


def test_simulate_adds_numbered_machines_without_clashing(tmp_path: Path) -> None:
    config = load_agent_config(_mapping() | {"machine sim-1": {"driver": "x", "process": "laser_cut"}})
    grown = with_simulated(config, 2, time_scale=60)
    assert [m.id for m in grown.machines] == ["m1", "sim-1", "sim-2", "sim-3"]
    assert grown.machines[-1].driver_options == {"time_scale": 60}


def test_cli_reports_config_errors_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, AGENT.replace("[agent]", "[agent]\ncolour = 3") + MACHINE)
    result = CliRunner().invoke(cli, ["agent", "run", "--config", str(path), "--duration", "0"])
    assert result.exit_code == 2
    assert "[agent] colour: unknown option" in result.output
    assert "Traceback" not in result.output


def test_unknown_driver_option_is_named_with_its_machine(tmp_path: Path) -> None:
    pytest.importorskip("firmware_bridge.drivers", reason="firmware_bridge drivers are not built yet")
    path = write(tmp_path, AGENT + MACHINE + "colour = 3\n")
    result = CliRunner().invoke(
        cli, ["agent", "run", "--config", str(path), "--duration", "0", "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 2
    assert "machine prusa-1" in result.output
    assert "colour" in result.output
