"""One place that turns errors into JSON: domain errors, HTTP errors, validation errors."""

from __future__ import annotations

import logging
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from werkzeug.exceptions import HTTPException

from protocol.errors import PeerfabError

log = logging.getLogger(__name__)


def register_error_handlers(app: APIFlask) -> None:
    @app.errorhandler(PeerfabError)
    def _domain(exc: PeerfabError) -> tuple[dict[str, Any], int]:
        return exc.to_dict(), exc.status

    @app.error_processor
    def _http(exc: HTTPError) -> tuple[dict[str, Any], int, Any]:
        body: dict[str, Any] = {"error": _title(exc.status_code), "message": exc.message}
        if exc.detail:
            body["details"] = exc.detail
        return body, exc.status_code, exc.headers

    @app.errorhandler(HTTPException)
    def _werkzeug(exc: HTTPException) -> tuple[dict[str, Any], int]:
        code = exc.code or 500
        return {"error": _title(code), "message": exc.description or exc.name}, code


def _title(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase.replace(" ", "")
    except ValueError:
        return "Error"
