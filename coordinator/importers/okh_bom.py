"""Turning the BOM files an OKH manifest links to into parts and assembly edges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.importers.fabrication import strings
from coordinator.importers.model import quantity_value
from coordinator.importers.naming import name_id, part_id
from coordinator.importers.package import PartsBuilder
from coordinator.importers.project import Project, Resolved, is_url
from coordinator.importers.sbom import BomLine, StructuredBom, read_structured_bom
from protocol.errors import InvalidInput

BOM_SUFFIXES = (".csv", ".tsv", ".txt")
_BOM_WORDS = ("bom", "bill of material", "bill_of_material", "stückliste", "parts list", "partlist")

# Finds the id of a manifest part a BOM line stands for, or None.
PartMatcher = Callable[[BomLine], str | None]


@dataclass
class BomSearch:
    """The BOM files to read, what was noted on the way, and links that named no file."""

    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[Resolved] = field(default_factory=list)

    @property
    def why_none(self) -> str:
        """Why there is no BOM, for the draft reason or the error."""
        return "; ".join(self.notes) or "the manifest links no BOM"


def find_boms(project: Project, manifest: Path, link: object, explicit: Path | None) -> BomSearch:
    """--bom, else every readable file the `bom` field names, else an sBoM next to the manifest."""
    search = BomSearch()
    if explicit is not None:
        search.files.append(_checked_bom(Path(explicit)))
        return search
    links = strings(link)
    for text in links:
        _linked_bom(project, manifest, text, search)
    if not links:
        nearby = sorted(
            p
            for p in manifest.parent.iterdir()
            if "sbom" in p.name.lower() and p.suffix.lower() in BOM_SUFFIXES
        )
        if nearby:
            search.files.append(nearby[0])
        else:
            search.notes.append("the manifest has no 'bom' field and no sBoM file lies next to it")
    return search


def _checked_bom(path: Path) -> Path:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such BOM file")
    if path.suffix.lower() not in BOM_SUFFIXES:
        raise InvalidInput(f"{path}: only CSV or TSV BOMs can be read (export it as CSV)")
    return path


def _linked_bom(project: Project, manifest: Path, link: str, search: BomSearch) -> None:
    where = f"field 'bom' = {link!r}"
    resolved = project.resolve(link)
    if resolved.url:
        search.notes.append(f"{where} is a link to another site; not downloaded (download it and pass --bom)")
        return
    if resolved.path is None and Path(link.split("?")[0]).suffix.lower() not in BOM_SUFFIXES:
        search.notes.append(f"{where} names no file of the project, and is no CSV/TSV BOM that could be read")
        return
    if resolved.path is None:
        search.missing.append(resolved)
        hint = bom_like_files(project.root)
        found = f"; files that look like a BOM: {', '.join(hint)}" if hint else ""
        search.notes.append(f"{where} names no file of the project{found} (pass --bom)")
        return
    if resolved.note:
        search.notes.append(f"{where}: {resolved.note}")
    if resolved.path.suffix.lower() not in BOM_SUFFIXES:
        search.notes.append(
            f"{where}: {resolved.path.suffix or 'a file without suffix'} cannot be read as a BOM; "
            "export it as CSV and pass --bom"
        )
        return
    search.files.append(resolved.path)


def bom_like_files(root: Path, limit: int = 5) -> list[str]:
    """Tables near the top of a project whose name says BOM, as '/path' strings."""
    found = []
    for path in sorted(root.rglob("*")):
        depth = len(path.relative_to(root).parts)
        if depth > 3 or not path.is_file() or path.suffix.lower() not in BOM_SUFFIXES:
            continue
        if any(word in path.name.lower() for word in _BOM_WORDS):
            found.append("/" + path.relative_to(root).as_posix())
    return found[:limit]


def missing_bom_error(manifest: Path, search: BomSearch) -> InvalidInput:
    """The error for a manifest whose only BOM link names no file of its clone."""
    return InvalidInput(f"{manifest}: {search.why_none}")


@dataclass
class BomImport:
    """Adds the lines of a structured BOM to a parts builder."""

    builder: PartsBuilder
    match: PartMatcher
    warnings: list[str]
    _leaves: dict[tuple[Any, ...], str] = field(default_factory=dict)
    _assemblies: dict[str, str] = field(default_factory=dict)

    def add_all(self, bom: StructuredBom, root: str) -> None:
        """Link every top-level line of bom under root."""
        self.warnings.extend(bom.warnings)
        for line in bom.roots:
            self.builder.link(root, self._add(bom.path, line), self._quantity(bom.path, line))

    def _add(self, path: Path, line: BomLine) -> str:
        if line.children:
            return self._assembly(path, line)
        matched = self.match(line)
        if matched is not None:
            return matched
        return self._leaf(path, line)

    def _assembly(self, path: Path, line: BomLine) -> str:
        known = line.values.part_id and self._assemblies.get(line.values.part_id)
        if known:
            # The same sub-assembly written out again under another parent (as exports nest them).
            return known
        ident = self.builder.assembly(part_id(line.values.part_id) or name_id(line.name), line.name)
        table = self.builder.parts[ident]
        if line.values.labour_h is not None:
            table["labour-h"] = line.values.labour_h
        if line.values.assembled_at in ("build-site", "fablab"):
            table["assembled-at"] = line.values.assembled_at
        if line.values.part_id:
            self._assemblies[line.values.part_id] = ident
        for child in line.children:
            self.builder.link(ident, self._add(path, child), self._quantity(path, child))
        return ident

    def _leaf(self, path: Path, line: BomLine) -> str:
        values = line.values
        key = (line.kind, line.name.casefold(), line.reference, values.mpn, values.unit, values.part_id)
        if key in self._leaves:
            return self._leaves[key]
        self._warn_unmade(path, line)
        base = part_id(values.part_id) or part_id(values.mpn) or name_id(line.name)
        ident = self.builder.add(base, purchased_table(line))
        self._leaves[key] = ident
        return ident

    def _warn_unmade(self, path: Path, line: BomLine) -> None:
        where = f"{path}, line {line.line}"
        if line.kind == "POSH":
            self.warnings.append(
                f"{where}: POSH {line.name!r} matches no part of the manifest and no part manifest; "
                "imported as a purchased part"
            )
        elif line.kind == "MOSH":
            self.warnings.append(
                f"{where}: MOSH {line.name!r} is a module of its own; imported as a purchased "
                "part (import that module separately to make it)"
            )

    def _quantity(self, path: Path, line: BomLine) -> int | float:
        quantity = line.values.quantity
        unit = line.values.unit or "pcs"
        if (unit == "pcs" or line.children) and quantity != int(quantity):
            raise InvalidInput(
                f"{path}, line {line.line}: quantity {quantity:g} of {line.name!r} is not a whole "
                "number (add a UNIT column for metres, kilograms, ...)"
            )
        return quantity_value(quantity)


def purchased_table(line: BomLine) -> dict[str, Any]:
    """The purchased-part table for a BOM line nobody in the network fabricates."""
    values = line.values
    name, reference = line.name, line.reference
    url = values.url or (reference if is_url(reference) else "")
    if reference and not is_url(reference) and reference.casefold() not in name.casefold():
        name = f"{name} ({reference})"
    table: dict[str, Any] = {"kind": "purchased", "name": name}
    optional = {
        "supplier": values.supplier, "mpn": values.mpn, "manufacturer": values.manufacturer, "url": url,
        "notes": values.notes, "currency": values.currency, "unit-cost": values.unit_cost,
        "lead-time-days": values.lead_time_days, "skus": dict(values.skus),
    }  # fmt: skip
    table.update({key: value for key, value in optional.items() if value not in (None, "", {})})
    if values.unit and values.unit != "pcs":
        table["unit"] = values.unit
    return table


def read_bom(path: Path) -> StructuredBom:
    """Read the BOM file (CSV/TSV, one or many levels)."""
    return read_structured_bom(path)
