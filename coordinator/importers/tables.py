"""Delimited tables (CSV, TSV) read with the line of every row, for errors that point at a cell."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from protocol.errors import InvalidInput

_SEPARATORS = ",;\t"
_EMPTY_VALUES = {"", "n/a", "na", "-", "--", "none", "~", "any"}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_WITH_UNIT = re.compile(r"^([+-]?[\d.,]+)\s*([A-Za-zµ²³]{1,6})$")
_HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class Row:
    """One record of a table and the line it starts on (1-based)."""

    line: int
    cells: list[str]

    def get(self, index: int | None) -> str:
        """The stripped cell at index, '' when absent or the column is unknown."""
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index].strip()


@dataclass
class Table:
    """A header and its rows; blank rows are dropped."""

    path: Path
    header: list[str]
    header_line: int
    rows: list[Row]
    delimiter: str
    warnings: list[str] = field(default_factory=list)

    def column_label(self, index: int) -> str:
        """'column 4 "Count"' for messages."""
        name = self.header[index].strip() if index < len(self.header) else ""
        return f'column {index + 1} "{name}"' if name else f"column {index + 1} (unnamed)"

    def error(self, line: int, index: int | None, message: str) -> InvalidInput:
        """An InvalidInput naming this file, the line and the column."""
        column = f", {self.column_label(index)}" if index is not None else ""
        return InvalidInput(f"{self.path}, line {line}{column}: {message}")

    def find(self, aliases: Iterable[str]) -> int | None:
        """Index of the first header matching one of aliases (in alias order), else None."""
        normalized = [normalize_header(name) for name in self.header]
        for alias in aliases:
            if alias in normalized:
                return normalized.index(alias)
        return None

    def find_all(self, alias: str) -> list[int]:
        """Indexes of every header equal to alias (repeated columns such as MPN)."""
        return [i for i, name in enumerate(self.header) if normalize_header(name) == alias]


def normalize_header(name: str) -> str:
    """'MANUFACTURER_PART_NUMBER' -> 'manufacturer part number', 'Qty.' -> 'qty'."""
    return re.sub(r"[\s_\-./#:()]+", " ", name.lower()).strip()


def is_empty(value: str) -> bool:
    """True for cells that only say 'nothing here' (n/a, -, ~)."""
    return value.strip().lower() in _EMPTY_VALUES


def read_table(path: Path, header_hint: Iterable[str] = ()) -> Table:
    """Read a CSV/TSV file; the header is the row among the first ones naming most of header_hint."""
    text, warnings = _decode(path)
    delimiter = _delimiter(text)
    records = _records(path, text, delimiter)
    if not records:
        raise InvalidInput(f"{path}: the file is empty")
    header_at = _header_index(records, set(header_hint))
    header_line, header = records[header_at]
    rows = [Row(line, cells) for line, cells in records[header_at + 1 :]]
    return Table(path, [h.strip() for h in header], header_line, rows, delimiter, warnings)


def parse_quantity(table: Table, row: Row, index: int) -> float:
    """The positive number in a quantity cell; an error naming the cell otherwise."""
    return split_quantity(table, row, index)[0]


def split_quantity(table: Table, row: Row, index: int) -> tuple[float, str]:
    """A quantity cell as number and unit: '12 cm' -> (12.0, 'cm'), '3' -> (3.0, '')."""
    raw = row.get(index)
    match = _WITH_UNIT.match(raw)
    number, unit = (match.group(1), match.group(2)) if match else (raw, "")
    text = number.replace(",", ".") if _DECIMAL_COMMA.match(number) else number
    if not _NUMBER.match(text):
        shown = repr(raw) if raw else "empty"
        raise table.error(row.line, index, f"quantity {shown} is not a number")
    value = float(text)
    if value < 0:
        raise table.error(row.line, index, f"quantity {raw} is negative")
    return value, unit.lower()


def _decode(path: Path) -> tuple[str, list[str]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        note = f"{path}: not UTF-8 (byte {exc.start}); read as Windows-1252"
        return data.decode("cp1252", errors="replace"), [note]


def _delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:_HEADER_SEARCH_ROWS])
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_SEPARATORS).delimiter
    except csv.Error:
        sniffed = None
    widths = {sep: _first_row_width(sample, sep) for sep in _SEPARATORS}
    if sniffed is not None and widths[sniffed] > 1:
        return sniffed
    return max(_SEPARATORS, key=lambda sep: widths[sep])


def _first_row_width(sample: str, delimiter: str) -> int:
    for cells in csv.reader(io.StringIO(sample), delimiter=delimiter):
        if any(cell.strip() for cell in cells):
            return len(cells)
    return 0


def _records(path: Path, text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records, line = [], 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"{path}, line {reader.line_num}: {exc}") from exc
    return records


def _header_index(records: list[tuple[int, list[str]]], hint: set[str]) -> int:
    """The row naming the most known columns (titles and totals often come first); ties: the first."""
    if not hint:
        return 0
    best, best_score = 0, 0
    for index, (_, cells) in enumerate(records[:_HEADER_SEARCH_ROWS]):
        score = header_score(cells, hint)
        if score > best_score:
            best, best_score = index, score
    return best


def header_score(cells: list[str], hint: set[str]) -> int:
    """How many cells of a row are known column names."""
    return sum(1 for cell in cells if cell.strip() and normalize_header(cell) in hint)
