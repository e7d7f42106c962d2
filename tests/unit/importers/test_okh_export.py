"""export-okh writes OKH-LOSH the schema accepts, and import-okh turns it back into the same design."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from coordinator.bom.graph import explode
from coordinator.bom.package import DesignPackage, load_package
from coordinator.importers import import_okh, write_package
from coordinator.importers.okh_export import ExportSource, export_okh
from protocol.errors import InvalidInput

DESIGNS = Path(__file__).resolve().parents[3] / "designs"
EXAMPLES = sorted(p.name for p in DESIGNS.iterdir() if (p / "design.toml").is_file())

# The constraints of the published OKH-LOSH v1.0 JSON schema (okh-losh.schema.json of the OKH-LOSH
# specification) that an exported manifest meets: required fields, the okhv constant, repo as a web
# URL, repository-relative paths without '..' or a scheme, a part needing a name and a file.
_REL_PATH = {"type": "string", "not": {"anyOf": [{"pattern": "^[a-z]*:"}, {"pattern": "^//"},
                                                 {"pattern": "(?:.*/)?\\.\\.(?:/.*)?"}]}}  # fmt: skip
_PATH_OR_URL = {"anyOf": [{"type": "string", "pattern": "^https?://"}, _REL_PATH]}
_ONE_OR_MANY = {"anyOf": [_PATH_OR_URL, {"type": "array", "items": _PATH_OR_URL}]}
OKH_LOSH_V1 = {
    "type": "object",
    "required": ["okhv", "name", "repo", "version", "license", "licensor", "function"],
    "properties": {
        "okhv": {"const": "OKH-LOSHv1.0"},
        "name": {"type": "string"},
        "repo": {"type": "string", "pattern": "^https?://"},
        "version": {"type": ["string", "number"]},
        "license": {"type": "string"},
        "licensor": {"type": "string"},
        "function": {"type": "string"},
        "readme": _REL_PATH,
        "bom": _PATH_OR_URL,
        "tsdc": {"type": ["array", "string"], "items": {"type": "string"}},
        "export": _ONE_OR_MANY,
        "source": {"type": ["array", "string"], "items": {"type": "string"}},
        "part": {"type": "array", "items": {"type": "object", "required": ["name"],
                                            "anyOf": [{"required": ["source"]}, {"required": ["export"]}]}},
    },
}  # fmt: skip
PART_MANIFEST = {**OKH_LOSH_V1, "required": [*OKH_LOSH_V1["required"], "export", "material", "tsdc"]}


def _round_trip(package: Path, tmp_path: Path) -> tuple[Path, DesignPackage]:
    source = load_package(package)
    exported = tmp_path / "okh"
    export_okh(ExportSource(source.raw, source.files()), exported, repo="https://example.org/design")
    imported = import_okh(exported / "okh.toml")
    return exported, load_package(write_package(imported, tmp_path / "again"))


def _parts(package: DesignPackage) -> dict[str, dict[str, Any]]:
    """Every part as the design format reads it (defaults filled in), files compared by hash."""
    parts = {}
    for part_id, part in package.check.parts.items():
        data = part.model_dump(mode="json")
        if data.get("file"):
            data["file"] = (package.path / data["file"]).read_bytes()
        parts[part_id] = data
    return parts


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_design_round_trips_through_okh_unchanged(name, tmp_path):
    original = load_package(DESIGNS / name)
    _, again = _round_trip(DESIGNS / name, tmp_path)

    assert again.ok, again.error_report()
    assert explode(again.bom()) == explode(original.bom())
    assert _parts(again) == _parts(original)
    before, after = original.info, again.info
    assert (after.slug, after.version, after.root) == (before.slug, before.version, before.root)
    assert (after.licenses, after.authors, after.contributors) == (
        before.licenses,
        before.authors,
        before.contributors,
    )
    assert after.lineage == before.lineage


@pytest.mark.parametrize("name", EXAMPLES)
def test_exported_manifests_meet_the_okh_losh_schema(name, tmp_path):
    exported, _ = _round_trip(DESIGNS / name, tmp_path)

    jsonschema.validate(tomllib.loads((exported / "okh.toml").read_text()), OKH_LOSH_V1)
    part_manifests = sorted((exported / "parts").glob("okh-*.toml"))
    assert part_manifests
    for path in part_manifests:
        manifest = tomllib.loads(path.read_text())
        jsonschema.validate(manifest, PART_MANIFEST)
        for link in manifest["export"]:
            assert (exported / link.lstrip("/")).is_file(), link


def test_sbom_lists_supplier_codes_and_nests_assemblies(tmp_path):
    exported, again = _round_trip(DESIGNS / "arduino-uno-compatible", tmp_path)

    header, *rows = (exported / "sBoM.csv").read_text().splitlines()
    assert header.startswith("POS,NAME,UNITS,TYPE,REFERENCE,PART-ID")
    assert any(row.startswith("1.1,") for row in rows)  # a part of the first sub-assembly
    assert again.check.parts["atmega328p"].supplier == "Digi-Key"


def test_draft_round_trips_with_its_reason(tmp_path):
    draft = tmp_path / "draft"
    draft.mkdir()
    (draft / "design.toml").write_text(
        '[design]\nname = "Loom"\nslug = "loom"\nversion = "0.1.0"\nlicenses = ["CERN-OHL-S-2.0"]\n'
        'authors = ["A. Weaver"]\ndraft = "the frame drawings are not finished"\n'
    )
    exported = tmp_path / "okh"
    package = load_package(draft)
    assert package.ok, package.error_report()

    export_okh(ExportSource(package.raw, package.files()), exported, repo="https://example.org/loom")
    again = load_package(write_package(import_okh(exported / "okh.toml"), tmp_path / "again"))

    assert again.info.draft == "the frame drawings are not finished"
    assert not (exported / "sBoM.csv").exists()


def test_export_needs_a_repository_url(tmp_path):
    package = load_package(DESIGNS / "arduino-uno-compatible")

    with pytest.raises(InvalidInput, match="pass --repo URL"):
        export_okh(ExportSource(package.raw, package.files()), tmp_path / "okh")
