"""What a RepRap-style firmware's reply line means, sorted the way hosts that survive real printers do.

OctoPrint's comm layer and Pronterface agree on the classes used here: errors about line numbers
and checksums are followed by a `Resend:` and are part of flow control; a missing line number is
reported without one; an unknown command is the firmware saying it skipped a line it does not
support (EEPROM-less builds answer M201, M203, M204, M205, M92 and M500-M504 that way); errors about
the SD card concern the card, not the job; everything else, and any `!!` or `fatal:` line, means
the machine cannot go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from firmware_bridge.gcode import command_code
from firmware_bridge.reports import first_int, parse_temperatures


class Reply(StrEnum):
    """Kinds of reply lines."""

    OK = "ok"
    RESEND = "resend"
    START = "start"
    BUSY = "busy"
    USER_WAIT = "user_wait"
    WAIT = "wait"
    TEMPERATURES = "temperatures"
    LINE_ERROR = "line_error"
    LOST_LINE = "lost_line"
    UNKNOWN_COMMAND = "unknown_command"
    WARNING = "warning"
    ERROR_PREFIX = "error_prefix"
    FATAL = "fatal"
    MESSAGE = "message"


@dataclass(frozen=True)
class ParsedReply:
    """One reply line: its kind, its text without the `Error:` prefix, and what it names."""

    kind: Reply
    text: str
    number: int | None = None
    command: str | None = None
    temperatures: dict[str, tuple[float, float | None]] = field(default_factory=dict)


# Reported without a Resend request: the line was dropped, the host must resend it unasked.
_LOST_LINE = ("no line number with checksum", "missing linenumber")
# Reported just before a Resend request: flow control, nothing to act on by itself.
_LINE_ERRORS = ("line number", "linenumber", "checksum", "format error", "expected line", "last line")
_SD_ERRORS = ("volume.init", "openroot", "workdir", "error writing to file", "cannot open", "open failed")
_USER_WAITS = ("paused for user", "paused for input")
_OK_NUMBER = re.compile(r"^ok\s+N(\d+)", re.IGNORECASE)
_LAST_LINE = re.compile(r"last line:?\s*(\d+)", re.IGNORECASE)
_UNKNOWN = re.compile(r"unknown command:?\s*\"?([^\"]*)\"?", re.IGNORECASE)
_TEMPERATURE_LINE = re.compile(r"^(?:ok\s+)?(?:T\d*|B|C):\s*-?\d")


def classify(line: str) -> ParsedReply:
    """Sort one reply line (already stripped) into its kind."""
    lower = line.lower()
    if lower.startswith("ok"):
        match = _OK_NUMBER.match(line)
        readings = parse_temperatures(line) if "T:" in line or "B:" in line else {}
        return ParsedReply(Reply.OK, line, int(match.group(1)) if match else None, temperatures=readings)
    if lower.startswith("resend") or lower.startswith("rs "):
        number = first_int(line.split(":", 1)[-1] if ":" in line else line[2:])
        return ParsedReply(Reply.RESEND, line, number)
    if lower.startswith(("error:", "fatal:")) or line.startswith("!!"):
        return _classify_error(line, lower)
    if lower == "start":
        return ParsedReply(Reply.START, line)
    return _classify_other(line, lower)


def _classify_error(line: str, lower: str) -> ParsedReply:
    text = line[2:].strip() if line.startswith("!!") else line.split(":", 1)[1].strip()
    if lower.startswith("fatal:") or line.startswith("!!"):
        return ParsedReply(Reply.FATAL, line if lower.startswith("fatal:") else text)
    if text.isdigit():
        return ParsedReply(Reply.ERROR_PREFIX, text)  # "Error:0" then ": Extruder switched off. MAXTEMP..."
    if any(marker in lower for marker in _LOST_LINE):
        match = _LAST_LINE.search(line)
        return ParsedReply(Reply.LOST_LINE, text, int(match.group(1)) if match else None)
    if any(marker in lower for marker in _LINE_ERRORS):
        return ParsedReply(Reply.LINE_ERROR, text)
    if (unknown := _unknown_command(text)) is not None:
        return unknown
    if any(marker in lower for marker in _SD_ERRORS):
        return ParsedReply(Reply.WARNING, f"SD card: {text}")
    return ParsedReply(Reply.FATAL, text)


def _classify_other(line: str, lower: str) -> ParsedReply:
    if lower.startswith(("busy:", "echo:busy")):
        user = any(marker in lower for marker in _USER_WAITS)
        return ParsedReply(Reply.USER_WAIT if user else Reply.BUSY, line)
    if lower == "wait":
        return ParsedReply(Reply.WAIT, line)
    if lower.startswith("echo:") and "unknown command" in lower:
        unknown = _unknown_command(line[5:].strip())
        if unknown is not None:
            return unknown
    if _TEMPERATURE_LINE.match(line) or (" T:" in line and "ok" not in lower):
        readings = parse_temperatures(line)
        if readings:
            return ParsedReply(Reply.TEMPERATURES, line, temperatures=readings)
    return ParsedReply(Reply.MESSAGE, line)


def _unknown_command(text: str) -> ParsedReply | None:
    match = _UNKNOWN.search(text)
    if match is None:
        return None
    command = match.group(1).strip()
    return ParsedReply(Reply.UNKNOWN_COMMAND, text, command=command_code(command) if command else None)
