"""SPDX licence expressions, checked against the SPDX licence list that `license-expression` ships."""

from __future__ import annotations

import re
from functools import cache

from license_expression import ExpressionError, Licensing, get_spdx_licensing

# Custom licences are written LicenseRef-<idstring>; they are not on the list by design.
_CUSTOM_RE = re.compile(r"^(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$")
# Words that template manifests leave in place of a real value.
_PLACEHOLDER_RE = re.compile(
    r"^(?:x{2,}|tbd|tba|todo|fixme|n/?a|none|null|unknown|your[ -].*|<[^>]*>|\[[^\]]*\]|\.\.\.|-+|\?+)$"
    r"|\bfixme\b|\btodo\b|\bxxx+\b|\bthe[- ]spdx[- ]id\b|\blorem ipsum\b",
    re.IGNORECASE,
)


@cache
def _licensing() -> Licensing:
    return get_spdx_licensing()


def check_spdx_expression(expression: str) -> str:
    """The expression in SPDX's own spelling; ValueError naming what is not on the SPDX list."""
    text = expression.strip()
    if not text:
        raise ValueError("empty licence")
    if is_placeholder(text):
        raise ValueError(f"{text!r} is a placeholder, not a licence")
    licensing = _licensing()
    try:
        parsed = licensing.parse(text, validate=False)
    except ExpressionError as exc:
        raise ValueError(f"{text!r} is not an SPDX licence expression ({exc})") from exc
    if parsed is None:
        raise ValueError("empty licence")
    unknown = [key for key in licensing.unknown_license_keys(parsed) if not _CUSTOM_RE.match(key)]
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise ValueError(
            f"{text!r}: {names} is not on the SPDX licence list "
            "(use an id from https://spdx.org/licenses/ or LicenseRef-<name> for a custom licence)"
        )
    return str(licensing.validate(text).normalized_expression or text) if not _has_custom(parsed) else text


def _has_custom(parsed: object) -> bool:
    return any(_CUSTOM_RE.match(key) for key in _licensing().license_keys(parsed))


def split_conjunction(expression: str) -> list[str]:
    """'A AND (B OR C)' -> ['A', 'B OR C']: the licences that all apply, each one expression."""
    licensing = _licensing()
    try:
        parsed = licensing.parse(expression, validate=False)
    except ExpressionError:
        return [expression]
    if parsed is None or type(parsed).__name__ != "AND":
        return [expression]
    return [str(arg) for arg in parsed.args]


def is_placeholder(text: str) -> bool:
    """True for the values templates ship with: 'xxx', 'FIXME Name', 'the-SPDX-ID', '<your name>'."""
    return bool(_PLACEHOLDER_RE.search(text.strip()))
