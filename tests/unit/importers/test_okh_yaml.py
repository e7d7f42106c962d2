"""OKH v1 okh.yml manifests: a strict YAML reading and their mapping to a package."""

from __future__ import annotations

import tomllib

import pytest

from coordinator.importers import import_okh, load_yaml
from protocol.errors import InvalidInput


def test_duplicate_key_is_refused_with_both_lines(fixtures):
    with pytest.raises(InvalidInput) as caught:
        load_yaml(fixtures / "okh-v1/duplicate-key.yml")

    message = caught.value.message
    assert "duplicate-key.yml" in message
    assert "duplicate key 'project-link' at line 9" in message
    assert "first defined at line 7" in message


def test_duplicate_key_in_a_nested_mapping_is_refused(tmp_path):
    manifest = tmp_path / "okh.yml"
    manifest.write_text("title: T\nlicensor:\n  name: A\n  email: a@x\n  name: B\n")

    with pytest.raises(InvalidInput, match="duplicate key 'name' at line 5.*line 3"):
        load_yaml(manifest)


def test_invalid_yaml_shows_line_column_and_text(fixtures):
    with pytest.raises(InvalidInput) as caught:
        load_yaml(fixtures / "okh-v1/invalid.yml")

    message = caught.value.message
    assert "invalid.yml, line 6, column 20" in message
    assert "user-handle: @sifter" in message
    assert "cannot start any token" in message


def test_comments_only_manifest_is_a_clear_error(fixtures):
    with pytest.raises(InvalidInput, match="empty.yml: the manifest is empty"):
        load_yaml(fixtures / "okh-v1/empty.yml")


def test_manifest_that_is_a_list_is_refused(tmp_path):
    manifest = tmp_path / "okh.yml"
    manifest.write_text("- title: T\n")

    with pytest.raises(InvalidInput, match="must be a mapping"):
        load_yaml(manifest)


def test_missing_required_fields_are_all_named(tmp_path):
    manifest = tmp_path / "okh.yml"
    manifest.write_text("title: Sifter\nversion: 1.0.0\n")

    with pytest.raises(InvalidInput) as caught:
        import_okh(manifest)

    assert caught.value.message.endswith(
        "missing required field(s): description, license, licensor, project-link or documentation-home"
    )


def test_valid_manifest_with_bom_becomes_a_package(fixtures, valid_package):
    imported = import_okh(fixtures / "okh-v1/okh.yml")

    package = valid_package(imported)

    design = tomllib.loads((package.path / "design.toml").read_text(encoding="utf-8"))["design"]
    assert design["authors"] == ["Zoë Müller <zoe@example.org>"]
    assert design["contributors"] == ["Jérôme Dupré"]
    assert design["licenses"] == ["CERN-OHL-P-2.0", "CC-BY-4.0"]
    assert design["version"] == "0.3.0"
    bearing = imported.part("6204-2RS1")
    assert (bearing["manufacturer"], bearing["url"]) == ("SKF", "https://example.org/6204")


def test_real_openflexure_invalid_yaml(realworld):
    with pytest.raises(InvalidInput) as caught:
        import_okh(realworld / "okh/okh-v1-yml/openflexure-microscope_okh.yml")

    assert "line 37, column 20" in caught.value.message
    assert "user-handle: @OpenFlexure" in caught.value.message


def test_real_agrocircle_duplicate_key(realworld):
    with pytest.raises(InvalidInput, match="duplicate key 'project-link' at line 36.*line 35"):
        import_okh(realworld / "okh/okh-v1-yml/ose-germany-agrocircle_okh.yml")


def test_real_openat_template_is_empty(realworld):
    path = realworld / "okh/okh-v1-yml/makersmakingchange-openat-template_okh.yml"
    with pytest.raises(InvalidInput, match="the manifest is empty"):
        import_okh(path)


def test_real_otto_diy_imports_with_a_bom(realworld, fixtures, valid_package):
    manifest = realworld / "okh/okh-v1-yml/otto-diy_okh.yml"

    imported = import_okh(manifest, fixtures / "okh-v1/bom.csv", version="1.0.0")

    valid_package(imported)
    design = imported.manifest["design"]
    assert design["name"] == "OttoDIY"
    assert design["licenses"] == ["CC-BY-SA-4.0"]
    assert "Nové sady" in design["authors"][0]
    assert design["homepage"] == "https://www.ottodiy.com/"


def test_real_otto_diy_without_bom_is_a_draft_saying_what_is_missing(realworld, valid_package):
    imported = import_okh(realworld / "okh/okh-v1-yml/otto-diy_okh.yml")

    assert "no bill of materials" in valid_package(imported).info.draft
