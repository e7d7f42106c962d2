from pathlib import Path

import numpy as np
import pytest
import trimesh

from coordinator.mesh.analysis import analyze_mesh
from coordinator.mesh.printtime import PrinterProfile
from protocol.errors import InvalidInput
from tests.unit.mesh.meshes import cube, stl


def test_cube_measures() -> None:
    report = analyze_mesh(stl(cube(10.0)), material="PLA")
    assert report.triangles == 12
    assert report.bodies == 1
    assert report.watertight and report.winding_consistent and report.volume_reliable
    assert report.volume_mm3 == pytest.approx(1000.0)
    assert report.area_mm2 == pytest.approx(600.0)
    assert report.extents_mm == pytest.approx((10, 10, 10))
    assert report.mass_g == pytest.approx(1.24)
    assert report.material == "pla"
    assert report.problems == ()


def test_no_material_means_no_mass() -> None:
    assert analyze_mesh(stl(cube())).mass_g is None


def test_separate_pieces_are_counted() -> None:
    plate = trimesh.util.concatenate([cube(10, (0, 0, 0)), cube(10, (20, 0, 0)), cube(5, (0, 30, 0))])
    report = analyze_mesh(stl(plate))
    assert report.bodies == 3
    assert report.watertight
    assert report.volume_mm3 == pytest.approx(2125.0)


def test_open_mesh_is_reported_not_refused() -> None:
    mesh = cube()
    mesh.update_faces(np.arange(11))
    report = analyze_mesh(stl(mesh))
    assert not report.watertight
    assert not report.volume_reliable
    assert any("not watertight" in p for p in report.problems)


def test_inside_out_mesh_is_flagged() -> None:
    mesh = cube()
    mesh.invert()
    report = analyze_mesh(stl(mesh))
    assert report.volume_mm3 == pytest.approx(-1000.0)
    assert any("non-positive volume" in p for p in report.problems)


def test_inconsistent_winding_is_flagged() -> None:
    mesh = cube()
    faces = mesh.faces.copy()
    faces[0] = faces[0][::-1]
    report = analyze_mesh(stl(trimesh.Trimesh(mesh.vertices, faces, process=False)))
    assert not report.winding_consistent
    assert any("winding" in p for p in report.problems)


def test_degenerate_faces_are_counted() -> None:
    mesh = cube()
    sliver = trimesh.Trimesh([[0, 0, 0], [1, 1, 1], [2, 2, 2]], [[0, 1, 2]], process=False)
    report = analyze_mesh(stl(trimesh.util.concatenate([mesh, sliver])))
    assert any("1 degenerate" in p for p in report.problems)


def test_bigger_part_takes_longer_to_print() -> None:
    small = analyze_mesh(stl(cube(10))).est_print_time_s
    large = analyze_mesh(stl(cube(40))).est_print_time_s
    assert large > 4 * small > 0


def test_machine_profile_changes_the_estimate() -> None:
    slow = analyze_mesh(stl(cube(30)), machine=PrinterProfile(flow_mm3_s=3.0))
    fast = analyze_mesh(stl(cube(30)), machine=PrinterProfile(flow_mm3_s=15.0))
    assert slow.est_print_time_s > fast.est_print_time_s


def test_reads_ascii_stl_and_obj_files(tmp_path: Path) -> None:
    ascii_path = tmp_path / "cube.stl"
    ascii_path.write_text(trimesh.exchange.stl.export_stl_ascii(cube(10)))
    obj_path = tmp_path / "cube.obj"
    obj_path.write_text(trimesh.exchange.obj.export_obj(cube(10)))
    for path in (ascii_path, obj_path):
        assert analyze_mesh(path).volume_mm3 == pytest.approx(1000.0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.stl", b"this is not a mesh\n", "holds no triangles"),
        ("empty.stl", b"", "empty"),
        ("noise.stl", bytes(range(256)) * 3, "STL"),
        ("part.step", b"ISO-10303-21;", "unsupported mesh type"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message) as caught:
        analyze_mesh(path)
    assert name in caught.value.message


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        analyze_mesh(tmp_path / "gone.stl")


def test_unknown_material_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown material"):
        analyze_mesh(stl(cube()), material="kryptonite")
