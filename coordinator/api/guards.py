"""Refuse at the door what no database column can hold: a NUL character in the path, a parameter or a body,
and a row id past the columns' integer range.

PostgreSQL text and JSON columns cannot store U+0000, and a query that compares with one fails inside the
driver; SQLite stores it. Either way it is never a slug, an id or a name, so a request carrying one is bad
input (400, naming where), checked before any route reads the database. Integer row ids (spools,
maintenance tasks, subscriptions) are 32-bit columns on PostgreSQL: a larger one in a path names no row
(404), instead of failing in the driver.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from protocol.errors import InvalidInput

NUL = "\x00"
MAX_DEPTH = 64  # deeper JSON is refused by the routes' own schemas; the walk never recurses past this
MAX_ROW_ID = 2**31 - 1  # the largest value of an integer primary key on PostgreSQL


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: a whole number from 0 to MAX_ROW_ID, else the route does not match."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def register_input_guards(app: Flask) -> None:
    """Check every request (API and pages) for NUL characters before its route runs; bound integer ids."""
    app.url_map.converters["int"] = RowIdConverter

    @app.before_request
    def _refuse_nul() -> None:
        if NUL in request.path:
            raise InvalidInput("the path holds a NUL character")
        for where, values in (("query parameter", request.args), ("form field", request.form)):
            for name, value in values.items(multi=True):
                if NUL in name or NUL in value:
                    raise InvalidInput(f"{where} {name[:40]!r} holds a NUL character")
        if request.is_json:
            found = _nul_at(request.get_json(silent=True), "body", 0)
            if found:
                raise InvalidInput(f"{found} holds a NUL character")


def _nul_at(value: Any, where: str, depth: int) -> str:
    """Where in a JSON value a string holds NUL ('' when none does)."""
    if isinstance(value, str):
        return where if NUL in value else ""
    if depth > MAX_DEPTH:
        return ""
    if isinstance(value, dict):
        items = [(f"{where}.{key[:40]}", key) for key in value] + [
            (f"{where}.{k[:40]}", v) for k, v in value.items()
        ]
    elif isinstance(value, list):
        items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
    else:
        return ""
    return next((found for path, item in items if (found := _nul_at(item, path, depth + 1))), "")


def declare_refusal(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
    """Every operation may answer 400 from these guards: say so in the OpenAPI document."""
    if isinstance(spec, str):  # YAML, which this coordinator never asks for
        return spec
    refused = {
        "description": "bad input: the message says what and where (a NUL character anywhere, for one)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}},
    }
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            operation["responses"].setdefault("400", refused)
    return spec
