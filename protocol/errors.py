"""Domain errors: one message a user can act on, mapped to HTTP status and CLI exit 2."""

from __future__ import annotations

from typing import Any


class PeerfabError(Exception):
    """Base of every error a user can cause and fix; never shown as a traceback."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(PeerfabError):
    """Input that does not parse or does not validate (a file, a payload, an option)."""


class NotFound(PeerfabError):
    status = 404


class Conflict(PeerfabError):
    status = 409


class PayloadTooLarge(PeerfabError):
    status = 413


class Unauthorized(PeerfabError):
    status = 401


class Forbidden(PeerfabError):
    status = 403
