"""Turning the BOM file an OKH manifest links to into parts and assembly edges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.importers.model import quantity_value
from coordinator.importers.naming import name_id, part_id
from coordinator.importers.package import PartsBuilder
from coordinator.importers.sbom import BomLine, StructuredBom, read_structured_bom
from protocol.errors import InvalidInput

BOM_SUFFIXES = (".csv", ".tsv", ".txt")

# Finds the id of a manifest part a BOM line stands for, or None.
PartMatcher = Callable[[BomLine], str | None]


def is_url(text: str) -> bool:
    """True for absolute links (https://..., ftp://...)."""
    return "://" in text and text.split("://", 1)[0].isalpha()


def local_path(base_dir: Path, link: str) -> Path | None:
    """The file a manifest link names inside base_dir ('/x' is relative to it), else None."""
    if not link or is_url(link):
        return None
    candidate = (base_dir / link.lstrip("/")).resolve()
    if not candidate.is_relative_to(base_dir.resolve()) or not candidate.is_file():
        return None
    return candidate


def find_bom(manifest: Path, link: object, explicit: Path | None) -> tuple[Path | None, str]:
    """The BOM to read (--bom, else the manifest's local link, else an sBoM next to it)
    and, when there is none, why."""
    if explicit is not None:
        return _checked_bom(Path(explicit)), ""
    if isinstance(link, str) and link.strip():
        return _linked_bom(manifest, link.strip())
    nearby = sorted(
        p for p in manifest.parent.iterdir() if "sbom" in p.name.lower() and p.suffix in BOM_SUFFIXES
    )
    if nearby:
        return nearby[0], ""
    return None, f"{manifest}: no 'bom' link and no sBoM file next to the manifest"


def _checked_bom(path: Path) -> Path:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such BOM file")
    if path.suffix.lower() not in BOM_SUFFIXES:
        raise InvalidInput(f"{path}: only CSV or TSV BOMs can be read (export it as CSV)")
    return path


def _linked_bom(manifest: Path, link: str) -> tuple[Path | None, str]:
    where = f"{manifest}: bom = {link!r}"
    if is_url(link):
        return None, f"{where} is a link; not downloaded (download it and pass --bom)"
    path = local_path(manifest.parent, link)
    if path is None:
        return None, f"{where} not found next to the manifest (pass --bom)"
    if path.suffix.lower() not in BOM_SUFFIXES:
        return None, f"{where}: {path.suffix} files cannot be read; export it as CSV, pass --bom"
    return path, ""


def require_parts(manifest: Path, builder: PartsBuilder, root: str, why_no_bom: str) -> None:
    """Refuse a design with nothing in it: an assembly needs at least one child."""
    if builder.parts[root]["children"]:
        return
    reason = f": {why_no_bom.removeprefix(f'{manifest}: ')}" if why_no_bom else ""
    raise InvalidInput(
        f"{manifest}: nothing to build, the manifest lists no parts and no BOM was read{reason}. "
        "Pass --bom with the design's BOM as CSV."
    )


@dataclass
class BomImport:
    """Adds the lines of a structured BOM to a parts builder."""

    builder: PartsBuilder
    match: PartMatcher
    warnings: list[str]
    _leaves: dict[tuple[str, ...], str] = field(default_factory=dict)

    def add_all(self, bom: StructuredBom, root: str) -> None:
        """Link every top-level line of bom under root."""
        self.warnings.extend(bom.warnings)
        for line in bom.roots:
            self.builder.link(root, self._add(bom.path, line), self._quantity(bom.path, line))

    def _add(self, path: Path, line: BomLine) -> str:
        if line.children:
            ident = self.builder.assembly(name_id(line.name), line.name)
            for child in line.children:
                self.builder.link(ident, self._add(path, child), self._quantity(path, child))
            return ident
        matched = self.match(line)
        if matched is not None:
            return matched
        return self._leaf(path, line)

    def _leaf(self, path: Path, line: BomLine) -> str:
        values = line.values
        key = (line.kind, line.name.casefold(), line.reference, values.mpn, values.unit)
        if key in self._leaves:
            return self._leaves[key]
        self._warn_unmade(path, line)
        base = part_id(values.mpn) or name_id(line.name)
        ident = self.builder.add(base, purchased_table(line))
        self._leaves[key] = ident
        return ident

    def _warn_unmade(self, path: Path, line: BomLine) -> None:
        where = f"{path}, line {line.line}"
        if line.kind == "POSH":
            self.warnings.append(
                f"{where}: POSH {line.name!r} matches no [[part]] of the manifest; "
                "imported as a purchased part"
            )
        elif line.kind == "MOSH":
            self.warnings.append(
                f"{where}: MOSH {line.name!r} is a module of its own; imported as a purchased "
                "part (import that module separately to make it)"
            )

    def _quantity(self, path: Path, line: BomLine) -> int | float:
        quantity = line.values.quantity
        unit = line.values.unit.lower() or "pcs"
        if (unit == "pcs" or line.children) and quantity != int(quantity):
            raise InvalidInput(
                f"{path}, line {line.line}: quantity {quantity:g} of {line.name!r} is not a whole "
                "number (add a UNIT column for metres, kilograms, ...)"
            )
        return quantity_value(quantity)


def purchased_table(line: BomLine) -> dict[str, Any]:
    """The purchased-part table for a BOM line nobody in the network fabricates."""
    values = line.values
    name = line.name
    reference = line.reference
    url = values.url or (reference if is_url(reference) else "")
    if reference and not is_url(reference) and reference.casefold() not in name.casefold():
        name = f"{name} ({reference})"
    table: dict[str, Any] = {"kind": "purchased", "name": name}
    if values.supplier:
        table["supplier"] = f"{values.supplier} (SKU {values.sku})" if values.sku else values.supplier
    if values.mpn:
        table["mpn"] = values.mpn
    if values.manufacturer:
        table["manufacturer"] = values.manufacturer
    if url:
        table["url"] = url
    if values.unit and values.unit.lower() != "pcs":
        table["unit"] = values.unit.lower()
    return table


def read_bom(path: Path) -> StructuredBom:
    """Read the BOM file (CSV/TSV, one or many levels)."""
    return read_structured_bom(path)
