"""Import an OKH-LOSH v1 `okh.toml` manifest (and its BOM) as a design package."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.importers import fabrication
from coordinator.importers.model import ImportedDesign
from coordinator.importers.naming import name_id
from coordinator.importers.okh_bom import BomImport, find_bom, is_url, read_bom, require_parts
from coordinator.importers.okh_meta import design_info, physical_notes
from coordinator.importers.package import PartsBuilder, file_sha256, package_files_path
from coordinator.importers.sbom import BomLine
from protocol.errors import InvalidInput

REQUIRED = ("name", "license", "licensor")


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: invalid TOML: {exc}") from exc


def import_losh(
    manifest: Path,
    bom_path: Path | None = None,
    *,
    slug: str | None = None,
    version: str | None = None,
) -> ImportedDesign:
    """An ImportedDesign from an okh.toml, its `[[part]]` tables and its BOM (--bom or linked)."""
    manifest = Path(manifest)
    data = load_toml(manifest)
    missing = [key for key in REQUIRED if not data.get(key)]
    if missing:
        raise InvalidInput(f"{manifest}: missing required field(s): {', '.join(missing)}")
    imported = ImportedDesign(manifest={}, files={f"imported/{manifest.name}": manifest})
    info = design_info(data, str(manifest), slug, version, imported.warnings)
    info.description = _with_notes(info.description, physical_notes(data, str(manifest), imported.warnings))
    parts = _PartImport(manifest, _part_tables(data, manifest), imported)
    root = parts.builder.assembly(info.slug, info.name)
    bom_file, why_no_bom = find_bom(manifest, data.get("bom"), bom_path)
    if why_no_bom and parts.tables:
        imported.warnings.append(why_no_bom)
    if bom_file is not None:
        imported.files[f"imported/{bom_file.name}"] = bom_file
        BomImport(parts.builder, parts.match, imported.warnings).add_all(read_bom(bom_file), root)
    parts.link_unused(root, bom_file is not None)
    require_parts(manifest, parts.builder, root, why_no_bom)
    imported.manifest = {"design": info.table(root), "part": parts.builder.tables(root)}
    return imported


def _with_notes(description: str, notes: str) -> str:
    return f"{description} ({notes})" if notes else description


def _part_tables(data: dict[str, Any], manifest: Path) -> list[dict[str, Any]]:
    tables = data.get("part", [])
    if isinstance(tables, dict):
        tables = [tables]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise InvalidInput(f"{manifest}: 'part' must be [[part]] tables")
    for number, table in enumerate(tables, 1):
        if not isinstance(table.get("name"), str) or not table["name"].strip():
            raise InvalidInput(f"{manifest}: [[part]] number {number} has no 'name'")
    return tables


@dataclass
class _PartImport:
    """The manifest's `[[part]]` tables, added to the builder once each, on first use."""

    manifest: Path
    tables: list[dict[str, Any]]
    imported: ImportedDesign
    builder: PartsBuilder = field(default_factory=PartsBuilder)
    ids: dict[int, str] = field(default_factory=dict)

    def match(self, line: BomLine) -> str | None:
        """The id of the [[part]] a BOM line names (by name or file link), adding it if new."""
        for number, table in enumerate(self.tables, 1):
            if _same_part(table, line):
                return self._id(number, table)
        return None

    def link_unused(self, root: str, had_bom: bool) -> None:
        """Put every [[part]] no BOM line named under root, once."""
        for number, table in enumerate(self.tables, 1):
            if number in self.ids:
                continue
            if had_bom:
                self.imported.warnings.append(
                    f"{self.manifest}: [[part]] {table['name']!r} is not in the BOM; "
                    "added under the root with quantity 1"
                )
            self.builder.link(root, self._id(number, table), 1)

    def _id(self, number: int, table: dict[str, Any]) -> str:
        if number not in self.ids:
            self.ids[number] = self.builder.add(name_id(table["name"]), self._part(number, table))
        return self.ids[number]

    def _part(self, number: int, table: dict[str, Any]) -> dict[str, Any]:
        where = f"{self.manifest}: [[part]] {table['name']!r}"
        process = fabrication.process_of(table)
        material = str(table.get("material") or "").strip().lower()
        material = material or fabrication.DEFAULT_MATERIALS.get(process or "", "")
        choice = fabrication.choose_file(self.manifest.parent, table, process) if process else None
        notes = physical_notes(table, where, self.imported.warnings)
        if process and material and choice:
            return self._fabricated(table, process, material, choice, notes)
        self.imported.warnings.append(
            f"{where}: {_why_not_made(table, process, material, choice)}; imported as a purchased part"
        )
        part: dict[str, Any] = {"kind": "purchased", "name": table["name"]}
        url = fabrication.first_url(table)
        if url:
            part["url"] = url
        return part

    def _fabricated(
        self,
        table: dict[str, Any],
        process: str,
        material: str,
        choice: fabrication.FileChoice,
        notes: str,
    ) -> dict[str, Any]:
        package_path = package_files_path(choice.link.lstrip("/"))
        self.imported.files[package_path] = choice.path
        part: dict[str, Any] = {
            "kind": "fabricated",
            "name": table["name"],
            "process": process,
            "material": material,
            "file": package_path,
            "sha256": file_sha256(choice.path),
        }
        if notes:
            part["notes"] = notes
        return part


def _same_part(table: dict[str, Any], line: BomLine) -> bool:
    if name_id(table["name"]) == name_id(line.name):
        return True
    reference = line.reference.lstrip("/")
    if "/" not in reference or is_url(reference):
        return False
    links = [link.lstrip("/") for link in fabrication.links_of(table)]
    # A per-part manifest (okh-ClampRing.toml) sits in the folder of the part's files.
    folder = Path(reference).parent
    return any(reference == link or folder == Path(link).parent for link in links)


def _why_not_made(
    table: dict[str, Any],
    process: str | None,
    material: str,
    choice: fabrication.FileChoice | None,
) -> str:
    if process is None:
        return "no known manufacturing process (manufacturing-process or tsdc)"
    if choice is None:
        listed = ", ".join(fabrication.links_of(table)) or "none listed"
        return f"no local file for {process} next to the manifest (files: {listed})"
    return f"no material for {process}"
