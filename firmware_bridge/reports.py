"""Parsers for the report lines firmwares print: temperatures and integers after a keyword."""

from __future__ import annotations

import re

_TEMPERATURE = re.compile(r"(?<![\w@])(T\d*|B|C|P|A):\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*(-?\d+(?:\.\d+)?))?")
_NAMES = {"T": "hotend", "B": "bed", "C": "chamber", "P": "probe", "A": "ambient"}
_FIRST_INT = re.compile(r"-?\d+")


def parse_temperatures(line: str) -> dict[str, tuple[float, float | None]]:
    """Parse `T:210.1 /210.0 B:60.0 /60.0 T1:...` into {'hotend': (210.1, 210.0), ...}."""
    readings: dict[str, tuple[float, float | None]] = {}
    for key, actual, target in _TEMPERATURE.findall(line):
        name = _NAMES.get(key, f"hotend{key[1:]}")
        readings[name] = (float(actual), float(target) if target else None)
    return readings


def first_int(text: str) -> int | None:
    """Return the first integer in `text`, or None."""
    match = _FIRST_INT.search(text)
    return int(match.group(0)) if match else None
