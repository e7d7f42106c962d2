"""Paging of the dashboard's lists: a bounded ?offset=, a page of rows and whether more follow."""

from __future__ import annotations

from flask import request

from protocol.errors import InvalidInput

MAX_OFFSET = 1_000_000


def offset_arg() -> int:
    """The request's ?offset= (0 when absent); a 400 naming it when it is not a whole number in bounds."""
    raw = request.args.get("offset", "0")
    # isdigit alone admits "²" and other digits int() refuses; a bound keeps the database's skip cheap
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_OFFSET:
        raise InvalidInput(f"offset must be a whole number from 0 to {MAX_OFFSET}, got {raw[:20]!r}")
    return int(raw)
