"""Safety check of a G-code file against machine limits, before anything is sent to a machine."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from firmware_bridge.gcode import WORD, strip_comment
from protocol.payloads import Capabilities

# Firmware and EEPROM commands a job file must never carry: they change or wipe the machine's
# stored configuration, flash firmware, run unattended heater tuning or restart a halted machine.
FORBIDDEN: dict[str, str] = {
    "M500": "saves settings to EEPROM",
    "M501": "reloads settings from EEPROM",
    "M502": "resets settings to factory defaults",
    "M504": "validates EEPROM contents",
    "M303": "runs PID autotune (unattended heating)",
    "M997": "starts a firmware update",
    "M999": "restarts a machine halted by an error",
}

_GRBL_SETTING = re.compile(r"^\$(\d+|RST)\s*=", re.IGNORECASE)
_HOTEND = frozenset({"M104", "M109"})
_BED = frozenset({"M140", "M190"})
_SPINDLE = frozenset({"M3", "M4"})
_MOVES = frozenset({"G0", "G1", "G2", "G3"})
_AXES = "XYZ"
_INCH = 25.4


@dataclass(frozen=True)
class Limits:
    """Machine limits; None switches a check off."""

    max_hotend: float | None = None
    max_bed: float | None = None
    max_spindle: float | None = None
    volume_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    volume_max: tuple[float, float, float] | None = None
    tolerance: float = 0.001


@dataclass(frozen=True)
class Problem:
    """One thing the machine must not be asked to do, with its 1-based line in the file."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class _Motion:
    absolute: bool = True
    scale: float = 1.0
    position: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    offset: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    known: list[bool] = field(default_factory=lambda: [False, False, False])


UNCHECKED_MIN = (-1e12, -1e12, -1e12)  # no lower bound on the axes


def machine_limits(caps: Capabilities, volume_min: tuple[float, float, float] = UNCHECKED_MIN) -> Limits:
    """The limits of a machine from its announced capabilities (and its lowest coordinates, when known)."""
    return Limits(
        max_hotend=caps.max_hotend_c,
        max_bed=caps.max_bed_c,
        max_spindle=caps.max_spindle_rpm,
        volume_min=volume_min,
        volume_max=caps.build_volume_mm if any(caps.build_volume_mm) else None,
    )


def check_file(path: Path, limits: Limits) -> list[str]:
    """Every problem of a G-code file against `limits`, as text; a file that is not text is one problem."""
    try:
        with path.open(encoding="utf-8") as handle:
            return [str(problem) for problem in check_gcode(handle, limits)]
    except UnicodeDecodeError:
        return [f"{path.name} is not a text G-code file"]


def check_gcode(lines: Iterable[str], limits: Limits) -> list[Problem]:
    """Scan G-code text lines and return every problem found, in file order."""
    problems: list[Problem] = []
    motion = _Motion()
    for number, raw in enumerate(lines, start=1):
        if raw.startswith(";"):
            continue  # most slicer lines are comments: skip them before any parsing
        text = strip_comment(raw).upper()
        if text:
            _check_line(number, text, limits, motion, problems)
    return problems


def _check_line(number: int, text: str, limits: Limits, motion: _Motion, problems: list[Problem]) -> None:
    if text.startswith("$"):
        if _GRBL_SETTING.match(text):
            problems.append(Problem(number, "forbidden", f"'{text}' writes a Grbl setting"))
        return
    words = WORD.findall(text)
    codes = [f"{letter}{_int_text(value)}" for letter, value in words if letter in "GM"]
    params = {letter: float(value) for letter, value in words if letter not in "GMN"}
    for code in codes:
        _check_code(number, code, params, limits, motion, problems)


def _int_text(value: str) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else value


def _check_code(
    number: int,
    code: str,
    params: dict[str, float],
    limits: Limits,
    motion: _Motion,
    problems: list[Problem],
) -> None:
    if code in FORBIDDEN:
        problems.append(Problem(number, "forbidden", f"{code} {FORBIDDEN[code]}"))
    elif code in _HOTEND:
        _check_max(number, code, params, limits.max_hotend, "hotend temperature", problems)
    elif code in _BED:
        _check_max(number, code, params, limits.max_bed, "bed temperature", problems)
    elif code in _SPINDLE:
        _check_max(number, code, params, limits.max_spindle, "spindle speed", problems)
    elif code in ("G90", "G91"):
        motion.absolute = code == "G90"
    elif code in ("G20", "G21"):
        motion.scale = _INCH if code == "G20" else 1.0
    elif code == "G92":
        _set_offset(params, motion)
    elif code == "G28":
        _home(params, motion)
    elif code in _MOVES:
        _move(number, code, params, limits, motion, problems)


def _check_max(
    number: int,
    code: str,
    params: dict[str, float],
    limit: float | None,
    what: str,
    problems: list[Problem],
) -> None:
    value = max(params.get("S", float("-inf")), params.get("R", float("-inf")))
    if limit is not None and value > limit:
        problems.append(
            Problem(number, "limit", f"{code} sets {what} {value:g}, above the maximum {limit:g}")
        )


def _set_offset(params: dict[str, float], motion: _Motion) -> None:
    for axis, letter in enumerate(_AXES):
        if letter in params:
            # G92 renames the current machine position; the offset maps new names back to it
            motion.offset[axis] = motion.position[axis] - params[letter] * motion.scale


def _home(params: dict[str, float], motion: _Motion) -> None:
    chosen = [letter for letter in _AXES if letter in params] or list(_AXES)
    for axis, letter in enumerate(_AXES):
        if letter in chosen:
            motion.position[axis] = 0.0
            motion.offset[axis] = 0.0
            motion.known[axis] = True


def _move(
    number: int,
    code: str,
    params: dict[str, float],
    limits: Limits,
    motion: _Motion,
    problems: list[Problem],
) -> None:
    for axis, letter in enumerate(_AXES):
        if letter not in params:
            continue
        value = params[letter] * motion.scale
        if motion.absolute:
            motion.position[axis] = value + motion.offset[axis]
            motion.known[axis] = True
        else:
            motion.position[axis] += value
        if motion.known[axis]:
            _check_volume(number, code, axis, motion.position[axis], limits, problems)


def _check_volume(
    number: int, code: str, axis: int, position: float, limits: Limits, problems: list[Problem]
) -> None:
    if limits.volume_max is None:
        return
    low, high = limits.volume_min[axis], limits.volume_max[axis]
    if low - limits.tolerance <= position <= high + limits.tolerance:
        return
    letter = _AXES[axis]
    problems.append(
        Problem(
            number,
            "volume",
            f"{code} moves {letter} to {position:.3f} mm, outside the build volume {low:g}..{high:g} mm",
        )
    )
