"""OKH parts: `[[part]]` tables of a manifest and part manifests (okh-ClampRing.toml) an sBoM links to."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.importers import fabrication
from coordinator.importers.model import ImportedDesign
from coordinator.importers.naming import name_id, part_id
from coordinator.importers.okh_meta import physical_notes
from coordinator.importers.package import PartsBuilder, file_sha256, package_files_path
from coordinator.importers.project import Project, is_url
from coordinator.importers.sbom import BomLine
from protocol.errors import InvalidInput

# Process hints a part manifest may carry under the design format's own names.
HINTS = ("nozzle-mm", "tolerance-mm", "thickness-mm", "layer-height-mm", "infill")


@dataclass
class PartSource:
    """A part's description, the folder its links are relative to, and how to name it in messages."""

    table: dict[str, Any]
    base: Path
    where: str
    manifest: Path | None = None


@dataclass
class OkhParts:
    """The manifest's parts, each added to the builder once, on first use by a BOM line or at the end."""

    project: Project
    manifest: Path
    sources: list[PartSource]
    imported: ImportedDesign
    builder: PartsBuilder = field(default_factory=PartsBuilder)
    ids: dict[int, str] = field(default_factory=dict)
    _by_file: dict[Path, str] = field(default_factory=dict)

    @classmethod
    def of(cls, project: Project, manifest: Path, data: dict[str, Any], imported: ImportedDesign) -> OkhParts:
        """The inline `[[part]]` tables of a manifest."""
        tables = data.get("part", [])
        if isinstance(tables, dict):
            tables = [tables]
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise InvalidInput(f"{manifest}: 'part' must be [[part]] tables")
        sources = []
        for number, table in enumerate(tables, 1):
            if not isinstance(table.get("name"), str) or not table["name"].strip():
                raise InvalidInput(f"{manifest}: [[part]] number {number} has no 'name'")
            sources.append(PartSource(table, manifest.parent, f"{manifest}: [[part]] {table['name']!r}"))
        return cls(project, manifest, sources, imported)

    def match(self, line: BomLine) -> str | None:
        """The id of the part a BOM line names (by name, file or part manifest), adding it if new."""
        for number, source in enumerate(self.sources):
            if _same_part(self.project, source, line):
                return self._id(number, source, line.values.part_id)
        manifest = self._part_manifest(line)
        if manifest is None:
            return None
        if manifest in self._by_file:
            return self._by_file[manifest]
        source = _load_part_manifest(manifest, line)
        self.sources.append(source)
        ident = self._id(len(self.sources) - 1, source, line.values.part_id)
        self._by_file[manifest] = ident
        return ident

    def link_unused(self, root: str, had_bom: bool) -> None:
        """Put every inline [[part]] no BOM line named under root, once."""
        for number, source in enumerate(self.sources):
            if number in self.ids or source.manifest is not None:
                continue
            if had_bom:
                self.imported.warnings.append(
                    f"{source.where} is not in the BOM; added under the root with quantity 1"
                )
            self.builder.link(root, self._id(number, source, ""), 1)

    def _part_manifest(self, line: BomLine) -> Path | None:
        reference = line.reference.strip()
        if not reference or is_url(reference) or not reference.lower().endswith(".toml"):
            return None
        resolved = self.project.resolve(reference, self.manifest.parent)
        if resolved.path is None:
            self.imported.warnings.append(
                f"{self.manifest}: BOM line {line.line} {line.name!r}: part manifest {resolved.note}"
            )
            return None
        return resolved.path

    def _id(self, number: int, source: PartSource, wanted: str) -> str:
        if number not in self.ids:
            base = part_id(wanted) or name_id(str(source.table["name"]))
            self.ids[number] = self.builder.add(base, self._part(source))
            if source.manifest is not None:
                self.imported.files[
                    package_files_path(_relative(self.project, source.manifest), "imported")
                ] = source.manifest
        return self.ids[number]

    def _part(self, source: PartSource) -> dict[str, Any]:
        table = source.table
        process = fabrication.process_of(table)
        material = str(table.get("material") or "").strip().lower()
        material = material or fabrication.DEFAULT_MATERIALS.get(process or "", "")
        choice = fabrication.choose_file(self.project, source.base, table, process) if process else None
        notes = str(table.get("notes") or "").strip() or physical_notes(
            table, source.where, self.imported.warnings
        )
        if process and material and choice:
            return self._fabricated(table, process, material, choice, notes)
        self.imported.warnings.append(
            f"{source.where}: {_why_not_made(table, process, choice)}; imported as a purchased part"
        )
        part: dict[str, Any] = {"kind": "purchased", "name": table["name"]}
        url = fabrication.first_url(table)
        if url:
            part["url"] = url
        if notes:
            part["notes"] = notes
        return part

    def _fabricated(
        self, table: dict[str, Any], process: str, material: str, choice: fabrication.FileChoice, notes: str
    ) -> dict[str, Any]:
        package_path = package_files_path(_relative(self.project, choice.path))
        self.imported.files[package_path] = choice.path
        part: dict[str, Any] = {
            "kind": "fabricated",
            "name": table["name"],
            "process": process,
            "material": material,
            "file": package_path,
            "sha256": file_sha256(choice.path),
        }
        for key in HINTS:
            value = table.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                part[key] = value
        if notes:
            part["notes"] = notes
        return part


def _relative(project: Project, path: Path) -> str:
    return path.resolve().relative_to(project.root).as_posix()


def _load_part_manifest(path: Path, line: BomLine) -> PartSource:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path}: part manifest is not valid TOML: {exc}") from exc
    data.setdefault("name", line.name)
    if not isinstance(data["name"], str) or not data["name"].strip():
        raise InvalidInput(f"{path}: field 'name' must be a non-empty string")
    return PartSource(data, path.parent, f"{path}", manifest=path)


def _same_part(project: Project, source: PartSource, line: BomLine) -> bool:
    if name_id(str(source.table["name"])) == name_id(line.name):
        return True
    reference = line.reference.strip()
    if not reference or is_url(reference) or reference.lower().endswith(".toml"):
        return False
    wanted = project.resolve(reference, project.root)
    links = [project.resolve(link, source.base) for link in fabrication.links_of(source.table)]
    paths = {r.path for r in links if r.path is not None}
    return wanted.path is not None and wanted.path in paths


def _why_not_made(table: dict[str, Any], process: str | None, choice: fabrication.FileChoice | None) -> str:
    if process is None:
        return "no known manufacturing process (manufacturing-process or tsdc)"
    if choice is None:
        listed = ", ".join(fabrication.links_of(table)) or "none listed"
        return f"no file for {process} in the project (files: {listed})"
    return f"no material for {process}"
