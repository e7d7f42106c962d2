"""The Prusa i3 MK3S printed parts, checked against the figures in their SOURCES.md."""

from pathlib import Path

import pytest

from coordinator.mesh.analysis import analyze_mesh

OPEN_PARTS = {"Einsy-base", "extruder-cover", "extruder-motor-plate", "raspberry_cover", "x-carriage-back"}
BODIES = {
    "y-motor-holder": 16,
    "y-belt-idler": 11,
    "z-axis-top": 10,
    "y-belt-holder": 6,
    "y-belt-tensioner": 6,
    "x-carriage": 5,
    "LCD-cover-ORIGINAL-MK3": 3,
    "x-carriage-back": 4,
}


@pytest.fixture(scope="module")
def prusa_reports(request: pytest.FixtureRequest) -> dict[str, object]:
    folder: Path = request.getfixturevalue("realworld") / "stl" / "prusa-i3-mk3s"
    return {path.stem: analyze_mesh(path, material="PETG") for path in sorted(folder.glob("*.stl"))}


@pytest.fixture(scope="module")
def realworld() -> Path:
    from tests.conftest import REALWORLD

    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is not present")
    return REALWORLD


def test_all_forty_parts_are_read(prusa_reports: dict) -> None:
    assert len(prusa_reports) == 40


def test_exactly_the_five_open_parts_are_not_watertight(prusa_reports: dict) -> None:
    open_parts = {name for name, report in prusa_reports.items() if not report.watertight}
    assert open_parts == OPEN_PARTS
    for name in OPEN_PARTS:
        assert any("not watertight" in p for p in prusa_reports[name].problems)


def test_closed_parts_are_winding_consistent(prusa_reports: dict) -> None:
    for name, report in prusa_reports.items():
        if name not in OPEN_PARTS:
            assert report.winding_consistent and report.volume_reliable, name


@pytest.mark.parametrize(("name", "bodies"), sorted(BODIES.items()))
def test_plates_with_copies_count_their_bodies(prusa_reports: dict, name: str, bodies: int) -> None:
    assert prusa_reports[name].bodies == bodies


def test_smallest_part(prusa_reports: dict) -> None:
    report = prusa_reports["plug-aligner"]
    assert report.triangles == 48
    assert report.bodies == 1


def test_every_part_fits_the_mk3s_bed(prusa_reports: dict) -> None:
    from coordinator.mesh.bounds import fits

    for name, report in prusa_reports.items():
        assert fits(report.min_box_mm, (250, 210, 210)), name
