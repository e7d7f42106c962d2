"""Purchased-part lists from electronics and generic CSV bills of materials."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from coordinator.importers.model import PurchasedPart, quantity_value
from coordinator.importers.naming import IdAllocator, name_id, part_id
from coordinator.importers.tables import (
    Row,
    Table,
    is_empty,
    normalize_header,
    parse_quantity,
    read_table,
)
from protocol.errors import InvalidInput

QUANTITY = ("qty", "quantity", "count", "qnty", "quantity per pcb", "units", "amount", "pcs")
DESIGNATORS = ("designators", "designator", "references", "refdes", "parts")
VALUE = ("value", "val", "comment")
PACKAGE = ("footprint", "device", "package", "case")
MPN = (
    "mpn",
    "mfg part no",
    "mfr part no",
    "manufacturer part number",
    "mfr part number",
    "manufacturer pn",
    "mfr pn",
    "mfg pn",
    "part number",
    "part code",
    "mf part no",
)
MANUFACTURER = ("manufacturer", "part manufacturer", "mfr", "mfg", "mfr name", "brand")
SUPPLIER = ("supplier", "vendor", "distributor")
SKU = ("supplier part number", "sku", "order code", "supplier pn", "spn", "order number")
URL = ("url", "link", "supplier url", "product url", "buy link")
UNIT = ("unit", "uom", "unit of measure")
NAME = ("part name", "name", "description", "item", "designation", "component", "title")
RETAILERS = {
    "digikey": "Digi-Key",
    "digi key": "Digi-Key",
    "mouser": "Mouser",
    "rs": "RS",
    "rs components": "RS",
    "newark": "Newark",
    "farnell": "Farnell",
    "lcsc": "LCSC",
    "tme": "TME",
    "arrow": "Arrow",
}
CSV_FIELDS = {
    "quantity": QUANTITY,
    "name": NAME,
    "value": VALUE,
    "package": PACKAGE,
    "mpn": MPN,
    "manufacturer": MANUFACTURER,
    "supplier": SUPPLIER,
    "sku": SKU,
    "url": URL,
    "unit": UNIT,
    "designators": DESIGNATORS,
}
_KICAD_REFERENCES = ("reference", "references", "ref", "refs", "designator", "designators")


@dataclass
class LineValues:
    """The cells of one BOM line that become a purchased part."""

    name: str
    quantity: float
    mpn: str = ""
    manufacturer: str = ""
    supplier: str = ""
    sku: str = ""
    url: str = ""
    unit: str = ""
    designators: str = ""


def read_kicad_bom(path: Path, warnings: list[str] | None = None) -> list[PurchasedPart]:
    """Purchased parts from a KiCad (eeschema BOM plugin) CSV, one per grouped line."""
    table = read_table(path, header_hint=QUANTITY + _KICAD_REFERENCES)
    columns = _columns(table, {**CSV_FIELDS, "designators": _KICAD_REFERENCES})
    _require_quantity(table, columns)
    ids, parts = IdAllocator(), list[PurchasedPart]()
    for row in table.rows:
        values = line_values(table, row, columns)
        value = row_value(row, columns, "value")
        package = row_value(row, columns, "package").split(":")[-1]
        label = value if package in ("", value) else " ".join(v for v in (value, package) if v)
        values.name = label or values.name or values.mpn or values.designators
        base = part_id(values.mpn) or part_id("-".join(v for v in (value, package) if v))
        _append(parts, table, row, values, ids.take(base or part_id(values.designators)))
    return _finish(table, parts, warnings)


def read_kitspace_bom(path: Path, warnings: list[str] | None = None) -> list[PurchasedPart]:
    """Purchased parts from a Kitspace 1-click-BOM (.tsv, tab- or comma-separated)."""
    table = read_table(path, header_hint=("references", *QUANTITY))
    fields = {"quantity": QUANTITY, "name": ("description",), "designators": ("references",)}
    columns = _columns(table, fields)
    _require_quantity(table, columns)
    pairs = _mpn_pairs(table)
    retailers = [(i, RETAILERS[h]) for i, h in _normalized(table) if h in RETAILERS]
    ids, parts = IdAllocator(), list[PurchasedPart]()
    for row in table.rows:
        values = line_values(table, row, columns)
        values.manufacturer, values.mpn = _first_pair(row, pairs)
        values.supplier, values.sku = _first_retailer(row, retailers)
        values.name = values.name or values.mpn or values.designators
        base = part_id(values.mpn) or part_id(values.name) or part_id(values.designators)
        _append(parts, table, row, values, ids.take(base))
    return _finish(table, parts, warnings)


def read_csv_bom(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    warnings: list[str] | None = None,
) -> list[PurchasedPart]:
    """Purchased parts from any CSV BOM; mapping names the header of a field when guessing fails."""
    table = read_table(path, header_hint=QUANTITY + NAME)
    columns = _columns(table, CSV_FIELDS, mapping)
    _require_quantity(table, columns)
    if columns.get("name") is None and columns.get("value") is None:
        raise table.error(
            table.header_line,
            None,
            "no name column (looked for Part Name, Name, Description, Value)",
        )
    adopt_url_column(table, columns)
    ids, parts = IdAllocator(), list[PurchasedPart]()
    for row in table.rows:
        values = line_values(table, row, columns)
        if not values.name:
            value, extra = row_value(row, columns, "value"), row_value(row, columns, "package")
            values.name = value if extra in ("", value) else " ".join(v for v in (value, extra) if v)
        values.name = values.name or values.mpn or values.designators
        base = part_id(values.mpn) or name_id(values.name)
        _append(parts, table, row, values, ids.take(base))
    return _finish(table, parts, warnings)


def row_value(row: Row, columns: Mapping[str, int | None], field: str) -> str:
    """The cell of a named field, '' when the column is missing or says n/a."""
    value = row.get(columns.get(field))
    return "" if is_empty(value) else value


def _columns(
    table: Table,
    fields: Mapping[str, tuple[str, ...]],
    mapping: Mapping[str, str] | None = None,
) -> dict[str, int | None]:
    columns = {name: table.find(aliases) for name, aliases in fields.items()}
    for name, header in (mapping or {}).items():
        if name not in CSV_FIELDS:
            known = ", ".join(sorted(CSV_FIELDS))
            raise InvalidInput(f"unknown BOM field {name!r} in the column mapping (known: {known})")
        index = table.find((normalize_header(header),))
        if index is None:
            raise table.error(table.header_line, None, f"no column named {header!r} for {name}")
        columns[name] = index
    return columns


def _require_quantity(table: Table, columns: Mapping[str, int | None]) -> None:
    if columns.get("quantity") is None:
        raise table.error(
            table.header_line, None, "no quantity column (looked for Qty, Quantity, Count, Units)"
        )


def line_values(table: Table, row: Row, columns: Mapping[str, int | None]) -> LineValues:
    """The cells of a row by field; the quantity parsed (errors name the cell)."""
    index = columns["quantity"]
    assert index is not None
    texts = {k: row_value(row, columns, k) for k in LineValues.__dataclass_fields__}
    del texts["quantity"]
    return LineValues(quantity=parse_quantity(table, row, index), **texts)


def _append(parts: list[PurchasedPart], table: Table, row: Row, values: LineValues, ident: str) -> None:
    if values.quantity == 0:
        table.warnings.append(f"{table.path}, line {row.line}: quantity 0, line skipped")
        return
    unit = values.unit.lower() or "pcs"
    if unit == "pcs" and values.quantity != int(values.quantity):
        raise table.error(
            row.line, _quantity_index(table), f"quantity {values.quantity:g} is not a whole number"
        )
    parts.append(
        PurchasedPart(
            id=ident,
            name=values.name or ident,
            quantity=quantity_value(values.quantity),
            line=row.line,
            unit=unit,
            mpn=values.mpn or None,
            manufacturer=values.manufacturer or None,
            supplier=values.supplier or None,
            sku=values.sku or None,
            url=values.url or None,
            references=[r for r in re.split(r"[,;\s]+", values.designators) if r],
        )
    )


def _quantity_index(table: Table) -> int | None:
    return table.find(QUANTITY)


def _finish(table: Table, parts: list[PurchasedPart], warnings: list[str] | None) -> list[PurchasedPart]:
    if warnings is not None:
        warnings.extend(table.warnings)
    if not parts:
        raise InvalidInput(f"{table.path}: no BOM lines after the header (line {table.header_line})")
    return parts


def _normalized(table: Table) -> list[tuple[int, str]]:
    return [(i, normalize_header(h)) for i, h in enumerate(table.header)]


def _mpn_pairs(table: Table) -> list[tuple[int | None, int]]:
    pairs = []
    for index, header in _normalized(table):
        if header in ("mpn", "part number"):
            before = table.header[index - 1] if index else ""
            maker = index - 1 if before.strip().lower() == "manufacturer" else None
            pairs.append((maker, index))
    return pairs


def _first_pair(row: Row, pairs: list[tuple[int | None, int]]) -> tuple[str, str]:
    for maker, mpn in pairs:
        value = row.get(mpn)
        if value and not is_empty(value):
            return row.get(maker), value
    return "", ""


def _first_retailer(row: Row, retailers: list[tuple[int, str]]) -> tuple[str, str]:
    for index, name in retailers:
        sku = row.get(index)
        if sku and not is_empty(sku):
            return name, sku
    return "", ""


def adopt_url_column(table: Table, columns: dict[str, int | None]) -> None:
    """Use an unnamed column of links as the URL column; warn about other unnamed data."""
    for index, header in enumerate(table.header):
        if header.strip():
            continue
        cells = [row.get(index) for row in table.rows if row.get(index)]
        if not cells:
            continue
        if columns.get("url") is None and all(c.startswith(("http://", "https://")) for c in cells):
            columns["url"] = index
        else:
            table.warnings.append(f"{table.path}: {table.column_label(index)} has no header; dropped")
