"""Text that people read: bounded length, no control characters, no bidirectional overrides.

A NUL ends a string in C and in PostgreSQL's text type; the bidirectional controls (U+202A-U+202E,
U+2066-U+2069, and the marks U+200E, U+200F, U+061C) make a name display differently from what it
is ("Trojan Source"), so a part or design could pose as another in every list that shows it.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

from protocol.errors import InvalidInput

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_LINE_BREAKS = frozenset("\n\r\t")


def text_problem(value: str, multiline: bool = False) -> str | None:
    """What is wrong with `value` as displayed text, or None."""
    for index, char in enumerate(value):
        if char in BIDI_CONTROLS:
            return f"holds the bidirectional control character U+{ord(char):04X} at position {index}"
        if multiline and char in _LINE_BREAKS:
            continue
        if unicodedata.category(char) == "Cc":
            return f"holds the control character U+{ord(char):04X} at position {index}"
    return None


def check_name(value: str, what: str) -> str:
    """Raise InvalidInput naming `what` unless `value` is a printable one-line name."""
    problem = text_problem(value)
    if problem:
        raise InvalidInput(f"{what} {value!r} {problem}")
    return value


def _line(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _paragraphs(value: str) -> str:
    problem = text_problem(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value


_LINE = AfterValidator(_line)
_PARAGRAPHS = AfterValidator(_paragraphs)

# The lengths every text field of a manifest is held to (docs/design-format.md lists them); the
# length is checked before the characters, so an oversized field costs nothing to refuse.
Name = Annotated[str, Field(min_length=1, max_length=200), _LINE]
Label = Annotated[str, Field(max_length=200), _LINE]
Code = Annotated[str, Field(max_length=100), _LINE]
Url = Annotated[str, Field(max_length=1000), _LINE]
FileName = Annotated[str, Field(min_length=1, max_length=500), _LINE]
MaterialName = Annotated[str, Field(min_length=1, max_length=64), _LINE]
Unit = Annotated[str, Field(min_length=1, max_length=16), _LINE]
Notes = Annotated[str, Field(max_length=5000), _PARAGRAPHS]
Description = Annotated[str, Field(max_length=20_000), _PARAGRAPHS]
