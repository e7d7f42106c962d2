"""One place that turns errors into JSON: domain errors, HTTP errors, validation errors.

Outside debug mode an unexpected error answers with a fixed text (the traceback goes to the log):
exception texts name server paths, queries and library internals that are nobody else's business.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import current_app
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from protocol.errors import PeerfabError

log = logging.getLogger(__name__)
INTERNAL = "internal error; the coordinator's log has the details"


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

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> tuple[dict[str, Any], int]:
        allowed = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        message = f"the request is larger than {allowed / 1e6:g} MB (limits.max_archive_mb)"
        details = {"limit": "limits.max_archive_mb", "allowed": allowed / 1e6}
        return {"error": _title(413), "message": message, "details": details}, 413

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError) -> tuple[dict[str, Any], int]:
        cause = exc.original_exception or exc
        message = f"{INTERNAL}: {cause!r}" if current_app.debug else INTERNAL
        return {"error": _title(500), "message": message}, 500

    @app.errorhandler(HTTPException)
    def _werkzeug(exc: HTTPException) -> tuple[dict[str, Any], int]:
        code = exc.code or 500
        return {"error": _title(code), "message": exc.description or exc.name}, code


def _title(code: int) -> str:
    try:
        return HTTPStatus(code).phrase.replace(" ", "")
    except ValueError:
        return "Error"
