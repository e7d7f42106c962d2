"""The lines of a BOM table as values: quantities, names, supplier codes; rows that hold no part skipped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from coordinator.importers.columns import ColumnMap, known_headers, map_columns
from coordinator.importers.tables import Row, Table, header_score, is_empty, read_table, split_quantity

# Exporters whose name for a part is its value and footprint, not a description.
VALUE_NAMED = {"kicad", "kicad-pcbnew", "eagle", "jlcpcb", "jlcpcb-bom-tool", "kibom"}
_TOTAL_RE = re.compile(r"^(sub[ -]?)?totals?\b|^grand total\b|^sum\b|^summe\b|^gesamt", re.IGNORECASE)
_RANGE_RE = re.compile(r"^([A-Za-z_]+)(\d+)-\1?(\d+)$")
_PIECES = {
    "",
    "pcs",
    "pc",
    "piece",
    "pieces",
    "stk",
    "stück",
    "x",
    "ea",
    "each",
    "st",
    "pce",
    "units",
    "unit",
}


@dataclass
class LineValues:
    """The cells of one BOM line that describe a part."""

    name: str
    quantity: float
    mpn: str = ""
    manufacturer: str = ""
    supplier: str = ""
    url: str = ""
    unit: str = ""
    notes: str = ""
    part_id: str = ""
    designators: list[str] = field(default_factory=list)
    skus: dict[str, str] = field(default_factory=dict)
    unit_cost: float | None = None
    currency: str = ""
    lead_time_days: float | None = None
    labour_h: float | None = None
    assembled_at: str = ""


@dataclass
class BomTable:
    """A table, what its columns mean, and the warnings met while reading it."""

    table: Table
    columns: ColumnMap
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        """Warnings of the file (encoding, skipped rows, unread columns)."""
        return self.table.warnings

    def cell(self, row: Row, role: str) -> str:
        """The cell of a role, '' when the column is missing or says n/a."""
        value = row.get(self.columns.get(role))
        return "" if is_empty(value) else value


def open_bom(path: Path, overrides: dict[str, str] | None = None, hint: tuple[str, ...] = ()) -> BomTable:
    """Read a BOM file and work out its columns (warning about those that are not read)."""
    table = read_table(path, header_hint=hint or tuple(known_headers()))
    columns = map_columns(table, overrides)
    bom = BomTable(table, columns, dict(overrides or {}))
    _adopt_subheader(bom)
    _adopt_url_column(bom)
    if columns.unread:
        names = ", ".join(table.column_label(i) for i in columns.unread)
        table.warnings.append(
            f"{path}: columns not imported: {names} (name one with --column ROLE=HEADER to use it)"
        )
    return bom


def read_lines(bom: BomTable) -> list[tuple[Row, LineValues]]:
    """Every row that describes a part, with its values; heading, total and footer rows skipped."""
    _require_quantity(bom)
    lines = []
    known = known_headers()
    for row in bom.table.rows:
        if _is_header(bom, row, known):
            _remap(bom, row)
            continue
        values = _line(bom, row)
        if values is not None:
            lines.append((row, values))
    return lines


def _require_quantity(bom: BomTable) -> None:
    columns = bom.columns
    if columns.get("quantity") is None and columns.get("designators") is None:
        raise bom.table.error(
            bom.table.header_line,
            None,
            "no quantity column and no designators to count (looked for Qty, Quantity, Count, Units, "
            "References, Designator; pass --column quantity=HEADER)",
        )
    if columns.get("name") is None and columns.get("value") is None and columns.get("mpn") is None:
        raise bom.table.error(
            bom.table.header_line,
            None,
            "no name column (looked for Part Name, Name, Description, Value, Comment, MPN; "
            "pass --column name=HEADER)",
        )


def _line(bom: BomTable, row: Row) -> LineValues | None:
    where = f"{bom.table.path}, line {row.line}"
    if _is_footer(row):
        bom.warnings.append(f"{where}: {_shown(row)} is a summary line, not a part; skipped")
        return None
    designators = count_source(bom, row)
    counted = _quantity(bom, row, designators)
    if counted is None:
        return None
    quantity, unit = counted
    if quantity == 0:
        bom.warnings.append(f"{where}: quantity 0, line skipped")
        return None
    values = LineValues(name=_name(bom, row), quantity=quantity, designators=designators)
    _fill(bom, row, values)
    if unit and values.unit == "pcs":
        values.unit = _unit(unit)
    if not values.name:
        values.name = values.mpn or " ".join(designators) or f"line {row.line}"
    return values


def _is_header(bom: BomTable, row: Row, known: set[str]) -> bool:
    """A row that names columns again: a repeated header or the header of the next section."""
    quantity = row.get(bom.columns.get("quantity"))
    return header_score(row.cells, known) >= 2 and not re.match(r"^[\d.,]+", quantity)


def _remap(bom: BomTable, row: Row) -> None:
    same = [c.strip() for c in row.cells] == bom.table.header
    bom.warnings.append(
        f"{bom.table.path}, line {row.line}: the header is repeated; skipped"
        if same
        else f"{bom.table.path}, line {row.line}: a new header; the lines below are read by it"
    )
    if not same:
        bom.table.header = [c.strip() for c in row.cells]
        bom.columns = map_columns(bom.table, bom.overrides)


def _is_footer(row: Row) -> bool:
    filled = [c.strip() for c in row.cells if c.strip()]
    # KiBoM ends with "Component Groups:,52" and similar key/value lines.
    return len(filled) <= 2 and filled[0].endswith((":", "："))


def _shown(row: Row) -> str:
    return repr(", ".join(c.strip() for c in row.cells if c.strip())[:60])


def count_source(bom: BomTable, row: Row) -> list[str]:
    """The designators of a row (both JLCPCB columns), ranges such as C1-C6 expanded."""
    refs: list[str] = []
    for role in ("designators", "designators_2"):
        refs += split_designators(bom.cell(row, role))
    return refs


def split_designators(text: str) -> list[str]:
    """'C1, C2 C3;C4' -> four designators; 'C1-C6' -> C1..C6."""
    refs = []
    for token in re.split(r"[,;\s]+", text.strip()):
        match = _RANGE_RE.match(token)
        if match and int(match.group(3)) >= int(match.group(2)):
            prefix, first, last = match.group(1), int(match.group(2)), int(match.group(3))
            refs += [f"{prefix}{n}" for n in range(first, min(last, first + 9999) + 1)]
        elif token:
            refs.append(token)
    return refs


def _quantity(bom: BomTable, row: Row, designators: list[str]) -> tuple[float, str] | None:
    index = bom.columns.get("quantity")
    where = f"{bom.table.path}, line {row.line}"
    dialect_counts = bom.columns.dialect == "jlcpcb-bom-tool"
    if index is None or dialect_counts:
        if designators:
            return float(len(designators)), ""
        bom.warnings.append(f"{where}: {_shown(row)} has no designators to count; skipped")
        return None
    raw = row.get(index)
    if not raw or is_empty(raw):
        # Only cells that read as designators (R1, C12) are counted: "External components" is a heading.
        if designators and all(any(ch.isdigit() for ch in ref) for ref in designators):
            bom.warnings.append(f"{where}: quantity empty; counted {len(designators)} designator(s)")
            return float(len(designators)), ""
        bom.warnings.append(f"{where}: {_shown(row)} has no quantity (a heading or note); skipped")
        return None
    if _TOTAL_RE.match(_name(bom, row) or row.get(0)):
        bom.warnings.append(f"{where}: {_shown(row)} is a total line; skipped")
        return None
    return split_quantity(bom.table, row, index)


def _name(bom: BomTable, row: Row) -> str:
    name, value = bom.cell(row, "name"), bom.cell(row, "value")
    package = bom.cell(row, "package").split(":")[-1].strip()
    if bom.columns.dialect in VALUE_NAMED or not name:
        label = value or name
        if package and package != label and label:
            return f"{label} {package}"
        return label or name
    return name


def _fill(bom: BomTable, row: Row, values: LineValues) -> None:
    values.mpn = bom.cell(row, "mpn")
    values.manufacturer = bom.cell(row, "manufacturer")
    values.url = bom.cell(row, "url")
    values.unit = _unit(bom.cell(row, "unit"))
    values.notes = bom.cell(row, "notes")
    values.part_id = bom.cell(row, "part_id")
    values.currency = _currency(bom, row)
    values.assembled_at = bom.cell(row, "assembled_at")
    values.unit_cost = _number(bom, row, "unit_cost")
    values.lead_time_days = _number(bom, row, "lead_time_days")
    values.labour_h = _number(bom, row, "labour_h")
    _suppliers(bom, row, values)


def _currency(bom: BomTable, row: Row) -> str:
    text = bom.cell(row, "currency").strip().upper()
    if not text:
        # "Unit Price (AUD)": the header names the currency of the whole column.
        index = bom.columns.get("unit_cost")
        header = bom.table.header[index] if index is not None else ""
        found = re.search(r"\b([A-Z]{3})\b", header.upper().replace("UNIT", ""))
        return found.group(1) if found and bom.cell(row, "unit_cost") else ""
    if not re.fullmatch(r"[A-Z]{3}", text):
        bom.warnings.append(
            f"{bom.table.path}, line {row.line}: currency {text!r} is no ISO 4217 code; dropped"
        )
        return ""
    return text


def _unit(text: str) -> str:
    lowered = text.strip().lower().rstrip(".")
    return "pcs" if lowered in _PIECES else lowered


def _number(bom: BomTable, row: Row, role: str) -> float | None:
    text = bom.cell(row, role)
    cleaned = re.sub(r"[^\d.,-]", "", text).replace(",", ".")
    if not text:
        return None
    try:
        return float(cleaned)
    except ValueError:
        label = bom.table.column_label(bom.columns.roles[role])
        bom.warnings.append(f"{bom.table.path}, line {row.line}, {label}: {text!r} is not a number; dropped")
        return None


def _suppliers(bom: BomTable, row: Row, values: LineValues) -> None:
    supplier, sku = bom.cell(row, "supplier"), bom.cell(row, "sku")
    if supplier and sku:
        values.skus[supplier] = sku
    elif sku:
        values.skus["Supplier"] = sku
    for index, name in bom.columns.suppliers:
        code = row.get(index)
        if code and not is_empty(code) and name not in values.skus:
            values.skus[name] = code
    values.supplier = supplier or next(iter(values.skus), "")


def _adopt_subheader(bom: BomTable) -> None:
    """A second header row naming the supplier of each 'SKU' column (seen in real BOMs) is read as such."""
    rows = bom.table.rows
    if not rows or bom.columns.get("quantity") is None:
        return
    first = rows[0]
    filled = [i for i, c in enumerate(first.cells) if c.strip()]
    if not filled or first.get(bom.columns.get("quantity")):
        return
    generic = {i for i, h in enumerate(bom.table.header) if h.strip().lower() in ("sku", "")}
    if not set(filled) <= generic:
        return
    sku_role = bom.columns.roles.pop("sku", None)
    bom.columns.suppliers += [(i, first.get(i)) for i in filled]
    bom.columns.unread = [i for i in bom.columns.unread if i not in filled and i != sku_role]
    bom.table.rows = rows[1:]


def _adopt_url_column(bom: BomTable) -> None:
    """An unnamed column of links is the URL column; other unnamed columns with data are reported."""
    for index, header in enumerate(bom.table.header):
        if header.strip():
            continue
        cells = [row.get(index) for row in bom.table.rows if row.get(index)]
        if not cells or any(index == i for i, _ in bom.columns.suppliers):
            continue
        if bom.columns.get("url") is None and all(c.startswith(("http://", "https://")) for c in cells):
            bom.columns.roles["url"] = index
        else:
            bom.warnings.append(f"{bom.table.path}: {bom.table.column_label(index)} has no header; dropped")
