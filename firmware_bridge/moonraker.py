"""Moonraker HTTP client for Klipper printers: upload, start, poll, pause, resume, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

QUERY_PATH = "/printer/objects/query?print_stats&virtual_sdcard&heater_bed&extruder"


class MoonrakerError(Exception):
    """Moonraker refused a request or could not be reached."""


@dataclass(frozen=True)
class PrintStatus:
    """The parts of Moonraker's printer objects a job needs."""

    state: str
    message: str
    progress: float
    file_position: int
    file_size: int
    print_duration: float
    extruder: tuple[float, float] | None
    bed: tuple[float, float] | None


def parse_status(result: dict[str, Any]) -> PrintStatus:
    """Build a PrintStatus from the `result` of an objects query."""
    status = result.get("status", {})
    stats = status.get("print_stats", {})
    card = status.get("virtual_sdcard", {})
    return PrintStatus(
        state=str(stats.get("state", "standby")),
        message=str(stats.get("message", "")),
        progress=float(card.get("progress", 0.0)),
        file_position=int(card.get("file_position", 0)),
        file_size=int(card.get("file_size", 0)),
        print_duration=float(stats.get("print_duration", 0.0)),
        extruder=_heater(status.get("extruder")),
        bed=_heater(status.get("heater_bed")),
    )


def _heater(data: dict[str, Any] | None) -> tuple[float, float] | None:
    if not data:
        return None
    return float(data.get("temperature", 0.0)), float(data.get("target", 0.0))


class MoonrakerClient:
    """Thin wrapper over Moonraker's HTTP API; every failure becomes a MoonrakerError."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if api_key:
            self.session.headers["X-Api-Key"] = api_key

    def upload(self, path: Path) -> str:
        """Upload a G-code file to the `gcodes` root and return its name on the printer."""
        with path.open("rb") as handle:
            files = {"file": (path.name, handle, "application/octet-stream")}
            result = self._request("POST", "/server/files/upload", files=files, data={"root": "gcodes"})
        item = result.get("item", {}) if isinstance(result, dict) else {}
        return str(item.get("path", path.name))

    def start_print(self, filename: str) -> None:
        """Start printing an uploaded file."""
        self._request("POST", "/printer/print/start", params={"filename": filename})

    def query(self) -> PrintStatus:
        """Fetch print_stats, virtual_sdcard and the heaters."""
        return parse_status(self._request("GET", QUERY_PATH))

    def pause(self) -> None:
        """Pause the running print."""
        self._request("POST", "/printer/print/pause")

    def resume(self) -> None:
        """Resume a paused print."""
        self._request("POST", "/printer/print/resume")

    def cancel(self) -> None:
        """Cancel the running print."""
        self._request("POST", "/printer/print/cancel")

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise MoonrakerError(f"cannot reach Moonraker at {self.base_url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            message = error.get("message") if isinstance(error, dict) else None
            raise MoonrakerError(
                f"Moonraker {method} {path} failed with HTTP {response.status_code}: "
                f"{message or response.reason}"
            )
        return body.get("result") if isinstance(body, dict) else None
