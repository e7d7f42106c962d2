"""Refuse at the door what no database column can hold: a NUL character in the path, a parameter or a body.

PostgreSQL text and JSON columns cannot store U+0000, and a query that compares with one fails inside the
driver; SQLite stores it. Either way it is never a slug, an id or a name, so a request carrying one is bad
input (400, naming where), checked before any route reads the database.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from protocol.errors import InvalidInput

NUL = "\x00"
MAX_DEPTH = 64  # deeper JSON is refused by the routes' own schemas; the walk never recurses past this


def register_input_guards(app: Flask) -> None:
    """Check every request (API and pages) for NUL characters before its route runs."""

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
