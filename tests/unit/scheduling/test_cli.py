"""`peerfab plan`: the --json contract and clean errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from coordinator.cli import cli
from coordinator.scheduling.jsonformat import problem_to_dict
from tests.unit.scheduling.samples import transport


def test_json_output_for_psplib(multi_mode_file: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", str(multi_mode_file), "--json", "--time-limit", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"makespan", "lower_bound", "status", "tasks"}
    assert data["makespan"] == 7 and data["status"] == "optimal"
    assert [t["id"] for t in data["tasks"]] == ["1", "2", "3", "4"]
    assert all(set(t) == {"id", "mode", "start", "end"} for t in data["tasks"])
    assert sorted(t["mode"] for t in data["tasks"][1:3]) == [1, 2]


def test_json_problem_with_fifo_and_table_output(tmp_path: Path) -> None:
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(problem_to_dict(transport())))
    result = CliRunner().invoke(cli, ["plan", str(path), "--policy", "fifo", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["makespan"] == 9
    table = CliRunner().invoke(cli, ["plan", str(path), "--policy", "lst"])
    assert table.exit_code == 0 and "makespan 9" in table.output and "assembly" in table.output


def test_bad_input_is_an_error_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "shop.json"
    path.write_text('{"resources": [], "tasks": [{"id": "x", "modes": []}]}')
    result = CliRunner().invoke(cli, ["plan", str(path), "--json"])
    assert result.exit_code == 2
    assert "error: " in result.output and "tasks[0].modes: needs at least one mode" in result.output
    assert "Traceback" not in result.output
    unknown = tmp_path / "shop.txt"
    unknown.write_text("")
    result = CliRunner().invoke(cli, ["plan", str(unknown)])
    assert result.exit_code == 2 and "pass --format" in result.output


def test_fjs_file_is_read_by_its_extension(tmp_path: Path) -> None:
    path = tmp_path / "shop.fjs"
    path.write_text("2 2\n2 2 1 3 2 5 1 2 2\n2 1 1 2 2 1 4 2 3\n")
    result = CliRunner().invoke(cli, ["plan", str(path), "--json", "--time-limit", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["makespan"] == 7 and [t["id"] for t in data["tasks"]] == ["1.1", "1.2", "2.1", "2.2"]
