"""Grbl 1.1 error and alarm codes with the short text shown to people."""

from __future__ import annotations

ERRORS: dict[int, str] = {
    1: "expected command letter",
    2: "bad number format",
    3: "invalid '$' statement",
    4: "negative value",
    5: "setting disabled (homing not enabled)",
    6: "step pulse shorter than 3 microseconds",
    7: "EEPROM read failed, defaults restored",
    8: "'$' command only valid when idle",
    9: "G-code locked out during alarm or jog",
    10: "soft limits need homing enabled",
    11: "line overflow: too many characters in the line",
    12: "step rate above 30 kHz",
    13: "safety door open",
    14: "startup line or build info too long",
    15: "jog target exceeds machine travel",
    16: "invalid jog command",
    17: "laser mode needs a PWM output",
    20: "unsupported or invalid G-code command",
    21: "two G-code commands from the same modal group",
    22: "feed rate not set",
    23: "command value must be an integer",
    24: "two commands both use axis words",
    25: "word repeated in the line",
    26: "no axis words for a command that needs them",
    27: "invalid line number",
    28: "value word missing",
    29: "G59.x work coordinate systems not supported",
    30: "G53 only allowed with G0 and G1",
    31: "axis words found where none are allowed",
    32: "arc without axis words in the selected plane",
    33: "invalid motion target",
    34: "arc radius error",
    35: "arc without offsets in the selected plane",
    36: "unused words in the line",
    37: "tool length offset not on the configured axis",
    38: "tool number above the maximum",
}

ALARMS: dict[int, str] = {
    1: "hard limit triggered; position lost, re-home",
    2: "soft limit: the target is outside the machine travel",
    3: "reset while in motion; position lost, re-home",
    4: "probe not in its expected start state",
    5: "probe did not make contact",
    6: "homing failed: reset during the cycle",
    7: "homing failed: safety door opened",
    8: "homing failed: pull-off did not clear the limit switch",
    9: "homing failed: limit switch not found",
    10: "homing failed: second dual-axis switch not found",
}


def describe_error(code: int) -> str:
    """Return `error:N (text)` for a Grbl error code."""
    return f"error:{code} ({ERRORS.get(code, 'unknown error code')})"


def describe_alarm(code: int) -> str:
    """Return `ALARM:N (text)` for a Grbl alarm code."""
    return f"ALARM:{code} ({ALARMS.get(code, 'unknown alarm code')})"
