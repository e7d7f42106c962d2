"""Multi-level bills of materials: the OKH-LOSH sBoM and other CSV BOMs with a parent column."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from coordinator.importers.bom_csv import (
    CSV_FIELDS,
    NAME,
    QUANTITY,
    LineValues,
    adopt_url_column,
    line_values,
    row_value,
)
from coordinator.importers.tables import Row, Table, read_table
from protocol.errors import InvalidInput

POS = ("pos", "position", "item no", "item number", "line")
TYPE = ("type", "class")
REFERENCE = ("reference", "ref")
PARENT = ("parent asm", "parent assembly", "parent", "part of")
SBOM_TYPES = {"POSH", "MOSH", "STD", "BUY"}


@dataclass
class BomLine:
    """One line of a structured BOM and the lines below it."""

    line: int
    pos: str
    kind: str
    reference: str
    values: LineValues
    parent_ref: str = ""
    children: list[BomLine] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The line's name, or its reference when the name is empty."""
        return self.values.name or self.reference or self.values.mpn or f"line {self.line}"


@dataclass
class StructuredBom:
    """The top-level lines of a BOM file, each holding its sub-lines."""

    path: Path
    roots: list[BomLine]
    warnings: list[str]


def read_structured_bom(path: Path) -> StructuredBom:
    """Read a CSV/TSV BOM; PARENT-ASM or dotted POS numbers (5.1 under 5) give its levels."""
    table = read_table(path, header_hint=QUANTITY + NAME + POS)
    fields = {**CSV_FIELDS, "pos": POS, "type": TYPE, "reference": REFERENCE, "parent": PARENT}
    columns = {name: table.find(aliases) for name, aliases in fields.items()}
    if columns["quantity"] is None:
        raise table.error(table.header_line, None, "no quantity column (looked for Qty, Units)")
    if columns["name"] is None and columns["reference"] is None:
        raise table.error(table.header_line, None, "no name column (looked for Name, Part Name)")
    adopt_url_column(table, columns)
    read = [_line(table, row, columns) for row in table.rows]
    lines = [line for line in read if line is not None]
    if not lines:
        raise InvalidInput(f"{path}: no BOM lines after the header (line {table.header_line})")
    if columns["parent"] is not None:
        roots = _nest_by_parent(table, lines)
    else:
        roots = _nest_by_position(table, lines)
    return StructuredBom(path, roots, table.warnings)


def _line(table: Table, row: Row, columns: dict[str, int | None]) -> BomLine | None:
    values = line_values(table, row, columns)
    if values.quantity == 0:
        table.warnings.append(f"{table.path}, line {row.line}: quantity 0, line skipped")
        return None
    kind = row_value(row, columns, "type").upper()
    if kind and kind not in SBOM_TYPES:
        table.warnings.append(
            f"{table.path}, line {row.line}: TYPE {kind!r} is not POSH, MOSH, STD or BUY; read as BUY"
        )
        kind = "BUY"
    return BomLine(
        line=row.line,
        pos=row_value(row, columns, "pos").rstrip("."),
        kind=kind,
        reference=row_value(row, columns, "reference"),
        values=values,
        parent_ref=row_value(row, columns, "parent"),
    )


def _nest_by_parent(table: Table, lines: list[BomLine]) -> list[BomLine]:
    by_pos = {line.pos: line for line in lines if line.pos}
    by_name: dict[str, BomLine] = {}
    for line in lines:
        by_name.setdefault(line.name.casefold(), line)
    roots = []
    for line in lines:
        if not line.parent_ref:
            roots.append(line)
            continue
        parent = by_pos.get(line.parent_ref) or by_name.get(line.parent_ref.casefold())
        if parent is None:
            raise table.error(
                line.line,
                table.find(PARENT),
                f"parent {line.parent_ref!r} names no line of the BOM (by POS or NAME)",
            )
        parent.children.append(line)
    _check_acyclic(table, lines, roots)
    return roots


def _nest_by_position(table: Table, lines: list[BomLine]) -> list[BomLine]:
    by_pos: dict[str, BomLine] = {}
    roots = []
    for line in lines:
        parent_pos = line.pos.rpartition(".")[0]
        if parent_pos and parent_pos in by_pos:
            by_pos[parent_pos].children.append(line)
        elif parent_pos and parent_pos.replace(".", "").isdigit():
            raise table.error(
                line.line, table.find(POS), f"position {line.pos} has no line {parent_pos} above it"
            )
        else:
            roots.append(line)
        if line.pos:
            if line.pos in by_pos:
                raise table.error(line.line, table.find(POS), f"position {line.pos} is used twice")
            by_pos[line.pos] = line
    return roots


def _check_acyclic(table: Table, lines: list[BomLine], roots: list[BomLine]) -> None:
    reached: set[int] = set()
    stack = list(roots)
    while stack:
        line = stack.pop()
        reached.add(id(line))
        stack.extend(line.children)
    for line in lines:
        if id(line) not in reached:
            raise table.error(
                line.line,
                table.find(PARENT),
                f"line {line.name!r} is its own parent through PARENT-ASM (a cycle)",
            )
