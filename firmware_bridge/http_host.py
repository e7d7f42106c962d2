"""What the HTTP clients of printer hosts (OctoPrint, Moonraker, PrusaLink) share.

Each client turns every failure into a HostError carrying the host's own message, and reports the
job the host is running as a HostStatus, so one driver loop can follow any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests


class HostError(Exception):
    """The host refused a request or could not be reached; the text is meant for people."""


class HostState(StrEnum):
    """Where the host's current job stands, in the driver's terms."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    OFFLINE = "offline"


@dataclass(frozen=True)
class HostStatus:
    """A host's job and printer, read in one poll."""

    state: HostState
    file: str | None = None
    done: float = 0.0
    total: float = 0.0
    message: str = ""
    temperatures: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    job_id: str | None = None
    filament_mm: float | None = None  # filament the host measured the job extrude, when it measures it


class HostClient:
    """A requests session against one host; subclasses say how the host words its errors."""

    host_name = "host"

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request; an unreachable host or an HTTP error becomes a HostError."""
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise HostError(f"cannot reach {self.host_name} at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            detail = self.error_text(response) or response.reason
            raise HostError(
                f"{self.host_name} {method} {path} failed with HTTP {response.status_code}: {detail}"
            )
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and decode its JSON body (None when the body is empty)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise HostError(f"{self.host_name} {method} {path} answered with something not JSON") from exc

    def error_text(self, response: requests.Response) -> str:
        """The host's own words for an error response."""
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:500]
        return describe_error_body(body)


def describe_error_body(body: Any) -> str:
    """Pull a message out of the usual JSON error shapes ({"error": ...}, {"message": ...})."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("text") or error.get("title") or "")
        return str(error)
    return str(body)[:500]
