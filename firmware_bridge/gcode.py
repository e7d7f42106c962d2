"""G-code text helpers shared by the engines and the safety check: comments, words, checksums."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from protocol.errors import InvalidInput

_PAREN_COMMENT = re.compile(r"\([^)]*\)")
_CODE = re.compile(r"([GMT])(\d+)(\.\d+)?")
WORD = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")  # a letter and its number: X10, E-0.8
_MOVES = frozenset({"G0", "G1", "G2", "G3"})
# what each code makes of the extruder's moves: relative (True) or absolute (False)
_E_MODE = {"G90": False, "G91": True, "M82": False, "M83": True}


@dataclass(frozen=True)
class SourceLine:
    """One command ready to send, with the 1-based line number it came from in the file."""

    source_line: int
    text: str


def strip_comment(raw: str) -> str:
    """Return the command part of a G-code line without `;` and `( )` comments or outer blanks."""
    if "(" in raw:
        raw = _PAREN_COMMENT.sub("", raw)
    semi = raw.find(";")
    if semi >= 0:
        raw = raw[:semi]
    return raw.strip()


def prepare_lines(raw_lines: Iterable[str]) -> Iterator[SourceLine]:
    """Yield the sendable commands of a file, skipping blank, comment-only and `%` lines."""
    for number, raw in enumerate(raw_lines, start=1):
        text = strip_comment(raw)
        if text and text != "%":
            yield SourceLine(number, text)


GCODE_SUFFIXES = frozenset({".gcode", ".gco", ".g", ".nc", ".ngc", ".tap", ".cnc"})


def is_gcode_file(path: Path) -> bool:
    """Whether a job file is machine G-code (by its name); meshes and work orders are not."""
    return path.suffix.lower() in GCODE_SUFFIXES


def read_job(path: Path) -> list[SourceLine]:
    """Read a G-code file into sendable commands; a missing or binary file is bad input."""
    try:
        with path.open("r", encoding="utf-8", errors="strict") as handle:
            lines = list(prepare_lines(handle))
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such G-code file") from exc
    except IsADirectoryError as exc:
        raise InvalidInput(f"{path}: is a directory, not a G-code file") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not a text G-code file ({exc.reason})") from exc
    if not lines:
        raise InvalidInput(f"{path}: contains no G-code commands")
    return lines


def checksum(payload: str) -> int:
    """Return the RepRap checksum: XOR of every byte of the payload."""
    value = 0
    for byte in payload.encode("ascii", errors="replace"):
        value ^= byte
    return value


def number_line(number: int, command: str) -> str:
    """Return `N<n> <command>*<checksum>` as RepRap firmwares expect it (no newline)."""
    payload = f"N{number} {command}"
    return f"{payload}*{checksum(payload)}"


def command_code(command: str) -> str:
    """Return the first word of a command in upper case, e.g. `M109` for `m109 s210`."""
    head = command.split(None, 1)[0].upper() if command else ""
    match = _CODE.match(head)
    if match is None:
        return head
    return f"{match.group(1)}{int(match.group(2))}{match.group(3) or ''}"


def extruded_mm(lines: Iterable[SourceLine]) -> float | None:
    """Filament (mm) the lines push through the nozzle: E moves, absolute (G90, M82) or relative (G91,
    M83), counted from each G92 E; a retraction counts back, so one undone counts nothing (and a file
    that only pulls back counts 0). None when no line moves the extruder: the file is not a print."""
    relative, position, total, moved = False, 0.0, 0.0, False
    for line in lines:
        code = command_code(line.text)
        relative = _E_MODE.get(code, relative)
        if code not in _MOVES and code != "G92":
            continue
        words = dict(WORD.findall(line.text.upper()))
        if "E" not in words:
            continue
        value = float(words["E"])
        if code == "G92":
            position = value
            continue
        moved = True
        step = value if relative else value - position
        total, position = total + step, position + step
    return max(total, 0.0) if moved else None
