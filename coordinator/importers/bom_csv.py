"""Purchased-part lists from electronics and generic CSV bills of materials (any dialect, by header)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from coordinator.importers.lines import BomTable, LineValues, open_bom, read_lines
from coordinator.importers.model import PurchasedPart, quantity_value
from coordinator.importers.naming import IdAllocator, name_id, part_id
from coordinator.importers.tables import Row
from protocol.errors import InvalidInput

FORMATS = ("auto", "kicad", "kitspace", "csv")


def read_bom(
    path: Path,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
) -> list[PurchasedPart]:
    """Purchased parts from a BOM file; identical lines (one per designator, as Eagle writes) add up."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown BOM format {fmt!r} (known: {', '.join(FORMATS)})")
    bom = open_bom(Path(path), dict(mapping or {}))
    if fmt == "kicad" and bom.columns.dialect == "generic":
        bom.columns.dialect = "kicad"
    parts: dict[tuple[object, ...], PurchasedPart] = {}
    ids = IdAllocator()
    for row, values in read_lines(bom):
        _check_whole(bom, row, values)
        key = _identity(values)
        if key in parts:
            _merge(parts[key], values)
            continue
        parts[key] = _part(row, values, ids)
    if warnings is not None:
        warnings.extend(bom.warnings)
    if not parts:
        raise InvalidInput(f"{path}: no BOM lines after the header (line {bom.table.header_line})")
    return list(parts.values())


def read_kicad_bom(path: Path, warnings: list[str] | None = None) -> list[PurchasedPart]:
    """Purchased parts from a KiCad (eeschema BOM plugin, KiBoM, pcbnew) CSV, one per grouped line."""
    return read_bom(path, "kicad", warnings=warnings)


def read_kitspace_bom(path: Path, warnings: list[str] | None = None) -> list[PurchasedPart]:
    """Purchased parts from a Kitspace 1-click-BOM (.tsv, tab- or comma-separated)."""
    return read_bom(path, "kitspace", warnings=warnings)


def read_csv_bom(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
) -> list[PurchasedPart]:
    """Purchased parts from any CSV BOM; mapping names the header of a role when guessing fails."""
    return read_bom(path, "csv", mapping, warnings)


def _check_whole(bom: BomTable, row: Row, values: LineValues) -> None:
    if values.unit == "pcs" and values.quantity != int(values.quantity):
        raise bom.table.error(
            row.line, bom.columns.get("quantity"), f"quantity {values.quantity:g} is not a whole number"
        )


def _identity(values: LineValues) -> tuple[object, ...]:
    return (
        values.name.casefold(), values.mpn, values.manufacturer, values.unit, values.url,
        tuple(sorted(values.skus.items())), values.part_id,
    )  # fmt: skip


def _merge(part: PurchasedPart, values: LineValues) -> None:
    part.quantity = quantity_value(part.quantity + values.quantity)
    part.references += values.designators


def _part(row: Row, values: LineValues, ids: IdAllocator) -> PurchasedPart:
    base = part_id(values.part_id) or part_id(values.mpn) or name_id(values.name)
    return PurchasedPart(
        id=ids.take(base or part_id(" ".join(values.designators))),
        name=values.name[:200],
        quantity=quantity_value(values.quantity),
        line=row.line,
        unit=values.unit or "pcs",
        mpn=values.mpn or None,
        manufacturer=values.manufacturer or None,
        supplier=values.supplier or None,
        skus=dict(values.skus),
        url=values.url or None,
        unit_cost=values.unit_cost,
        currency=values.currency or None,
        lead_time_days=values.lead_time_days,
        notes=values.notes or None,
        references=list(values.designators),
    )
