"""OKH-LOSH okh.toml manifests with their sBoM become valid design packages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coordinator.bom.graph import explode
from coordinator.importers import import_okh
from protocol.errors import InvalidInput


def _copy_design(fixtures: Path, tmp_path: Path) -> Path:
    target = tmp_path / "design"
    shutil.copytree(fixtures / "okh-losh", target)
    return target


def test_three_level_sbom_becomes_a_valid_package(fixtures, valid_package):
    imported = import_okh(fixtures / "okh-losh" / "okh.toml")

    package = valid_package(imported)

    quantities = explode(package.bom())
    assert quantities["hex-bolt-m6x20"] == 20  # 2 side frames x 8 + 4 on the chassis
    assert quantities["frame-plate"] == 4
    assert quantities["drive-belt"] == 1.5
    assert imported.part("side-frame")["kind"] == "assembly"
    assert imported.part("drive-belt")["unit"] == "m"


def test_parts_with_local_files_are_fabricated_with_their_file(fixtures, valid_package):
    imported = import_okh(fixtures / "okh-losh" / "okh.toml")
    package = valid_package(imported)

    plate = imported.part("frame-plate")
    assert (plate["process"], plate["material"]) == ("laser_cut", "plywood")
    assert plate["file"] == "files/parts/frame-plate.dxf"
    assert (package.path / plate["file"]).read_bytes() == (
        fixtures / "okh-losh/parts/frame-plate.dxf"
    ).read_bytes()
    assert plate["notes"] == "mass 420.5 g; outer dimensions 300 x 120 x 6 mm"
    assert imported.part("hopper")["process"] == "fdm_print"
    assert imported.part("controller-board")["material"] == "fr4"


def test_part_whose_file_is_a_url_becomes_purchased_with_a_warning(fixtures):
    imported = import_okh(fixtures / "okh-losh" / "okh.toml")

    wheel = imported.part("wheel")
    assert wheel["kind"] == "purchased"
    assert wheel["url"] == "https://example.org/seed-drill/wheel.stl"
    assert any("'Wheel'" in w and "purchased" in w for w in imported.warnings)


def test_design_metadata_is_mapped(fixtures):
    design = import_okh(fixtures / "okh-losh" / "okh.toml").manifest["design"]

    assert design["slug"] == "seed-drill"
    assert design["version"] == "1.2.0"
    assert design["licenses"] == ["CERN-OHL-W-2.0"]
    assert design["authors"] == ["Field Tools Collective <tools@example.org>"]
    assert design["homepage"] == "https://example.org/seed-drill"
    assert "mass 8500 g" in design["description"]


def test_slug_and_version_options_override_the_manifest(fixtures):
    design = import_okh(fixtures / "okh-losh" / "okh.toml", slug="drill", version="2.0.0-rc.1").manifest[
        "design"
    ]

    assert (design["slug"], design["version"]) == ("drill", "2.0.0-rc.1")


def test_dotted_positions_nest_a_tab_separated_sbom(fixtures, tmp_path, valid_package):
    design = _copy_design(fixtures, tmp_path)
    (design / "sBoM.csv").write_text(
        "POS\tNAME\tUNITS\tTYPE\tREFERENCE\n"
        "1\tFrame plate\t1\tPOSH\t\n"
        "2\tHolder\t2\tPOSH\t\n"
        "2.1\tBracket\t2\tPOSH\t\n"
        "2.1.1\tM8 nut\t3\tSTD\tISO 4032 M8\n"
        "3\tModule B\t1\tMOSH\thttps://example.org/module-b\n",
        encoding="utf-8",
    )

    imported = import_okh(design / "okh.toml")
    quantities = explode(valid_package(imported).bom())

    assert quantities["m8-nut"] == 12
    assert imported.part("module-b")["url"] == "https://example.org/module-b"
    assert any("MOSH 'Module B'" in w for w in imported.warnings)


def test_parent_that_names_no_line_is_an_error_with_its_cell(fixtures, tmp_path):
    design = _copy_design(fixtures, tmp_path)
    (design / "sBoM.csv").write_text(
        "POS,NAME,UNITS,TYPE,PARENT-ASM\n1,Frame plate,1,POSH,\n2,Bolt,4,STD,Chasis\n"
    )

    with pytest.raises(InvalidInput) as caught:
        import_okh(design / "okh.toml")

    message = caught.value.message
    assert "sBoM.csv, line 3" in message and '"PARENT-ASM"' in message and "'Chasis'" in message


def test_fractional_count_of_pieces_is_an_error(fixtures, tmp_path):
    design = _copy_design(fixtures, tmp_path)
    (design / "sBoM.csv").write_text("POS,NAME,UNITS\n1,Bolt,2.5\n")

    with pytest.raises(InvalidInput, match=r"line 2: quantity 2.5 of 'Bolt' is not a whole"):
        import_okh(design / "okh.toml")


def test_bom_option_replaces_the_linked_bom(fixtures, tmp_path):
    bom = tmp_path / "flat.csv"
    bom.write_text("Name,Qty\nHinge,2\n")

    imported = import_okh(fixtures / "okh-losh" / "okh.toml", bom)

    assert imported.part("hinge")["kind"] == "purchased"
    with pytest.raises(KeyError):
        imported.part("chassis")


def test_licence_table_and_missing_fields(tmp_path):
    manifest = tmp_path / "okh.toml"
    manifest.write_text(
        'name = "Cart"\nlicensor = "Me"\n[license]\nspdx = "CERN-OHL-S-2.0"\n[[part]]\nname = "Axle"\n'
    )
    assert import_okh(manifest).manifest["design"]["licenses"] == ["CERN-OHL-S-2.0"]

    manifest.write_text('name = "Cart"\n')
    with pytest.raises(InvalidInput, match="missing required field.*license, licensor"):
        import_okh(manifest)


def test_invalid_toml_names_the_line(tmp_path):
    manifest = tmp_path / "okh.toml"
    manifest.write_text('name = "Cart"\nversion = 1.0.0\n')

    with pytest.raises(InvalidInput, match=r"okh.toml: invalid TOML: .*line 2"):
        import_okh(manifest)


def test_manifest_without_parts_or_bom_is_a_valid_draft(tmp_path, valid_package):
    manifest = tmp_path / "okh.toml"
    manifest.write_text('name = "Cart"\nlicense = "MIT"\nlicensor = "Me"\n')

    imported = import_okh(manifest)
    package = valid_package(imported)

    assert package.raw.get("part") is None and "root" not in package.raw["design"]
    assert not package.info.buildable
    assert "no bill of materials could be read" in package.info.draft
    assert "--bom" in package.info.draft


def test_bom_link_to_a_missing_csv_in_a_clone_is_an_error_naming_field_and_file(tmp_path):
    (tmp_path / "README.md").write_text("a clone, not a lone manifest")
    (tmp_path / "hardware").mkdir()
    (tmp_path / "hardware" / "parts-bom.csv").write_text("Name,Qty\nBolt,1\n")
    manifest = tmp_path / "okh.toml"
    manifest.write_text('name = "Cart"\nlicense = "MIT"\nlicensor = "Me"\nbom = "bom.csv"\n')

    with pytest.raises(InvalidInput) as caught:
        import_okh(manifest)

    message = caught.value.message
    assert "field 'bom' = 'bom.csv' names no file" in message
    assert "/hardware/parts-bom.csv" in message  # the file that looks like the BOM is suggested


def test_real_planktoscope_with_its_bom_is_a_valid_package(realworld, valid_package):
    manifest = realworld / "okh/okh-losh-toml/planktoscope_okh.toml"
    bom = realworld / "bom/planktoscope/bom.csv"

    imported = import_okh(manifest, bom)
    package = valid_package(imported)

    purchased = [p for p in imported.parts if p["kind"] == "purchased"]
    assert len(purchased) == 36  # 34 BOM lines + case and HAT, whose files are not here
    assert imported.part("Lens_25MM_5MP_1-2")["name"] == 'M12 LENS 25MM 5MP 1/2"'
    assert imported.part("Lens_25MM_5MP_1-2")["url"].startswith("https://de.aliexpress.com/")
    assert imported.part("tube-n3")["name"] == "Tube n°3"
    assert explode(package.bom())["BHCEI03012"] == 32
    assert (package.path / "imported/bom.csv").is_file()


def test_real_htwd_arm_reads_mass_and_string_dimensions(realworld, tmp_path, valid_package):
    bom = tmp_path / "bom.csv"
    bom.write_text("Name,Qty\nRotary encoder,3\n")

    imported = import_okh(realworld / "okh/okh-losh-toml/htwd-osh-cmm-arm_okh.toml", bom)

    valid_package(imported)
    assert "mass 2000 g; outer dimensions 250 x 500 x 500 mm" in imported.manifest["design"]["description"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("wakoma-nimble_okh.toml", "no 'bom' field"),
        ("librewater-acraea_okh.toml", "field 'bom' = 'bom.ods'"),
    ],
)
def test_real_manifests_without_parts_are_drafts_saying_what_is_missing(
    realworld, name, reason, valid_package
):
    imported = import_okh(realworld / "okh/okh-losh-toml" / name)

    draft = valid_package(imported).info.draft
    assert reason in draft and "--bom" in draft


def test_real_wakoma_with_a_bom_imports(realworld, tmp_path, valid_package):
    bom = tmp_path / "sBoM.csv"
    bom.write_text("POS,NAME,UNITS,TYPE\n1,Rack,1,POSH\n1.1,Router,2,BUY\n")

    imported = import_okh(realworld / "okh/okh-losh-toml/wakoma-nimble_okh.toml", bom)

    assert explode(valid_package(imported).bom())["router"] == 2
    assert imported.manifest["design"]["authors"][0] == "Eric Nitschke <eric@wakoma.co>"
