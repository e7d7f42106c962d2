import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from tests.unit.mesh.meshes import cube, stl

CONTRACT_KEYS = {
    "file",
    "triangles",
    "bodies",
    "watertight",
    "volume_mm3",
    "area_mm2",
    "extents_mm",
    "mass_g",
    "est_print_time_s",
}


@pytest.fixture
def cube_files(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "small.stl", tmp_path / "large.stl"]
    paths[0].write_bytes(stl(cube(10)))
    paths[1].write_bytes(stl(cube(20)))
    return paths


def test_json_output_is_one_object_per_file(cube_files: list[Path]) -> None:
    result = CliRunner().invoke(
        cli, ["mesh", "analyze", "--json", "--material", "PLA", *map(str, cube_files)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["file"] for row in rows] == [str(p) for p in cube_files]
    assert set(rows[0]) >= CONTRACT_KEYS
    assert rows[1]["volume_mm3"] == pytest.approx(8000.0)
    assert rows[0]["mass_g"] == pytest.approx(1.24)


def test_json_mass_is_null_without_material(cube_files: list[Path]) -> None:
    result = CliRunner().invoke(cli, ["mesh", "analyze", "--json", str(cube_files[0])])
    assert json.loads(result.output)[0]["mass_g"] is None


def test_table_names_every_file(cube_files: list[Path]) -> None:
    result = CliRunner().invoke(cli, ["mesh", "analyze", *map(str, cube_files)])
    assert result.exit_code == 0
    assert "small.stl" in result.output and "large.stl" in result.output


def test_missing_file_exits_2_without_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["mesh", "analyze", str(tmp_path / "nope.stl")])
    assert result.exit_code == 2
    assert "error:" in result.output and "no such file" in result.output
    assert "Traceback" not in result.output


def test_non_mesh_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "readme.stl"
    path.write_text("hello")
    result = CliRunner().invoke(cli, ["mesh", "analyze", "--json", str(path)])
    assert result.exit_code == 2
    assert "readme.stl" in result.output


def test_unknown_material_exits_2(cube_files: list[Path]) -> None:
    result = CliRunner().invoke(cli, ["mesh", "analyze", "--material", "mithril", str(cube_files[0])])
    assert result.exit_code == 2
    assert "known materials" in result.output
