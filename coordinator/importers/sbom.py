"""Multi-level bills of materials: the OKH-LOSH sBoM and other CSV BOMs with a parent column."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from coordinator.importers.lines import BomTable, LineValues, open_bom, read_lines
from coordinator.importers.tables import Row
from protocol.errors import InvalidInput

POS = ("pos", "position", "item no", "item number", "line")
TYPE = ("type", "class", "supply type")
REFERENCE = ("reference", "ref", "doc ref")
PARENT = ("parent asm", "parent assembly", "parent", "part of")
_SBOM_COLUMNS = {"pos": POS, "type": TYPE, "reference": REFERENCE, "parent": PARENT}
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


def read_structured_bom(path: Path, overrides: dict[str, str] | None = None) -> StructuredBom:
    """Read a CSV/TSV BOM; PARENT-ASM or dotted POS numbers (5.1 under 5) give its levels."""
    bom = open_bom(path, overrides)
    table = bom.table
    extra = {name: table.find(aliases) for name, aliases in _SBOM_COLUMNS.items()}
    if extra["reference"] in bom.columns.roles.values():
        # KiCad's "Reference" holds designators, not the sBoM's REFERENCE (a link or a standard).
        extra["reference"] = None
    read = [_line(bom, row, values, extra) for row, values in read_lines(bom)]
    lines = [line for line in read if line is not None]
    if not lines:
        raise InvalidInput(f"{path}: no BOM lines after the header (line {table.header_line})")
    roots = _nest_by_parent(bom, lines) if extra["parent"] is not None else _nest_by_position(bom, lines)
    return StructuredBom(path, roots, bom.warnings)


def _line(bom: BomTable, row: Row, values: LineValues, extra: dict[str, int | None]) -> BomLine | None:
    kind = row.get(extra["type"]).upper()
    if kind and kind not in SBOM_TYPES:
        bom.warnings.append(
            f"{bom.table.path}, line {row.line}: TYPE {kind!r} is not POSH, MOSH, STD or BUY; read as BUY"
        )
        kind = "BUY"
    return BomLine(
        line=row.line,
        pos=row.get(extra["pos"]).rstrip("."),
        kind=kind,
        reference=row.get(extra["reference"]),
        values=values,
        parent_ref=row.get(extra["parent"]),
    )


def _nest_by_parent(bom: BomTable, lines: list[BomLine]) -> list[BomLine]:
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
            raise bom.table.error(
                line.line,
                bom.table.find(PARENT),
                f"parent {line.parent_ref!r} names no line of the BOM (by POS or NAME)",
            )
        parent.children.append(line)
    _check_acyclic(bom, lines, roots)
    return roots


def _nest_by_position(bom: BomTable, lines: list[BomLine]) -> list[BomLine]:
    by_pos: dict[str, BomLine] = {}
    roots = []
    for line in lines:
        parent_pos = line.pos.rpartition(".")[0]
        if parent_pos and parent_pos in by_pos:
            by_pos[parent_pos].children.append(line)
        elif parent_pos and parent_pos.replace(".", "").isdigit():
            raise bom.table.error(
                line.line, bom.table.find(POS), f"position {line.pos} has no line {parent_pos} above it"
            )
        else:
            roots.append(line)
        if line.pos:
            if line.pos in by_pos:
                raise bom.table.error(line.line, bom.table.find(POS), f"position {line.pos} is used twice")
            by_pos[line.pos] = line
    return roots


def _check_acyclic(bom: BomTable, lines: list[BomLine], roots: list[BomLine]) -> None:
    reached: set[int] = set()
    stack = list(roots)
    while stack:
        line = stack.pop()
        reached.add(id(line))
        stack.extend(line.children)
    for line in lines:
        if id(line) not in reached:
            raise bom.table.error(
                line.line,
                bom.table.find(PARENT),
                f"line {line.name!r} is its own parent through PARENT-ASM (a cycle)",
            )
