"""Writing imported designs: valid packages, no overwrite by default, nothing left on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.bom.graph import explode
from coordinator.bom.package import load_package
from coordinator.importers import import_okh, package_purchased, read_kicad_bom, write_package
from protocol.errors import InvalidInput


def test_purchased_list_becomes_one_assembly(fixtures, valid_package):
    parts = read_kicad_bom(fixtures / "kicad-semicolon.csv")

    imported = package_purchased(
        parts, name="Sensor Board", licenses=["CERN-OHL-S-2.0"], authors=["Me <me@example.org>"]
    )
    package = valid_package(imported)

    design = imported.manifest["design"]
    assert (design["slug"], design["version"], design["root"]) == (
        "sensor-board",
        "0.1.0",
        "sensor-board",
    )
    assert explode(package.bom()) == {
        "RC0603FR-0710KL": 2,
        "100nf-c-0603": 1,
        "conn-1x4-2-54-mm-pinheader-1x04": 1,
    }


def test_purchased_list_needs_a_licence_and_a_usable_slug(fixtures):
    parts = read_kicad_bom(fixtures / "kicad-semicolon.csv")

    with pytest.raises(InvalidInput, match="at least one licence"):
        package_purchased(parts, name="Board", licenses=[])
    with pytest.raises(InvalidInput, match="slug '' is not valid"):
        package_purchased(parts, name="???", licenses=["MIT"])
    with pytest.raises(InvalidInput, match="not a semantic version"):
        package_purchased(parts, name="Board", licenses=["MIT"], version="1.0")


def test_non_empty_folder_is_kept_unless_forced(fixtures, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    imported = import_okh(fixtures / "okh-losh/okh.toml")

    with pytest.raises(InvalidInput, match="folder is not empty"):
        write_package(imported, out)
    assert (out / "notes.txt").read_text() == "mine"

    write_package(imported, out, force=True)
    assert not (out / "notes.txt").exists()
    assert load_package(out).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_write_leaves_nothing_behind(fixtures, tmp_path):
    imported = import_okh(fixtures / "okh-losh/okh.toml")
    imported.files["files/gone.stl"] = tmp_path / "gone.stl"
    out = tmp_path / "out"

    with pytest.raises(InvalidInput, match="gone.stl: cannot copy"):
        write_package(imported, out)

    assert list(tmp_path.iterdir()) == []


def test_failed_forced_write_keeps_the_old_package(fixtures, tmp_path):
    out = tmp_path / "out"
    write_package(import_okh(fixtures / "okh-losh/okh.toml"), out)
    before = (out / "design.toml").read_bytes()
    broken = import_okh(fixtures / "okh-v1/okh.yml")
    broken.files["files/gone.stl"] = tmp_path / "gone.stl"

    with pytest.raises(InvalidInput):
        write_package(broken, out, force=True)

    assert (out / "design.toml").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_imported_sources_are_kept_in_the_package(fixtures, tmp_path):
    out = write_package(import_okh(fixtures / "okh-losh/okh.toml"), tmp_path / "out")

    kept = sorted(str(p.relative_to(out)) for p in Path(out).rglob("*") if p.is_file())
    assert kept == [
        "design.toml",
        "files/parts/controller-gerber.gbr",
        "files/parts/frame-plate.dxf",
        "files/parts/hopper.stl",
        "imported/okh.toml",
        "imported/sBoM.csv",
    ]
