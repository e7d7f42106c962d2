"""Moonraker HTTP client for Klipper printers: upload, start, poll, pause, resume, cancel.

Calls and reply shapes follow Moonraker's web API documentation: JSON replies are wrapped in
`{"result": ...}` except the file upload, which answers HTTP 201 with the upload item at the top
level (`{"item": {"path", "root", ...}, "print_started", "print_queued", "action"}`); errors are
`{"error": {"code", "message"}}`. The tests run it against the real Moonraker 0.11.0 server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_bridge.http_host import HostClient, HostError, HostState, HostStatus

QUERY_PATH = "/printer/objects/query?print_stats&virtual_sdcard&heater_bed&extruder"
_STATES = {
    "standby": HostState.IDLE,
    "printing": HostState.RUNNING,
    "paused": HostState.PAUSED,
    "complete": HostState.DONE,
    "cancelled": HostState.CANCELLED,
    "error": HostState.FAILED,
}


class MoonrakerError(HostError):
    """Moonraker refused a request or could not be reached."""


@dataclass(frozen=True)
class PrintStatus:
    """The parts of Moonraker's printer objects a job needs."""

    state: str
    message: str
    filename: str
    progress: float
    file_position: int
    file_size: int
    print_duration: float
    filament_used_mm: float  # Klipper's count of the filament the current or last print extruded
    extruder: tuple[float, float] | None
    bed: tuple[float, float] | None

    def as_host_status(self) -> HostStatus:
        """The same status in the driver's terms."""
        heaters = {"hotend": self.extruder, "bed": self.bed}
        temperatures: dict[str, tuple[float, float | None]] = {
            name: (v[0], v[1]) for name, v in heaters.items() if v is not None
        }
        return HostStatus(
            state=_STATES.get(self.state, HostState.IDLE),
            file=self.filename or None,
            done=self.file_position,
            total=self.file_size,
            message=self.message,
            temperatures=temperatures,
            filament_mm=self.filament_used_mm,
        )


def parse_status(result: dict[str, Any]) -> PrintStatus:
    """Build a PrintStatus from the `result` of an objects query."""
    status = result.get("status", {})
    stats = status.get("print_stats", {})
    card = status.get("virtual_sdcard", {})
    return PrintStatus(
        state=str(stats.get("state", "standby")),
        message=str(stats.get("message", "")),
        filename=str(stats.get("filename", "")),
        progress=float(card.get("progress", 0.0)),
        file_position=int(card.get("file_position", 0)),
        file_size=int(card.get("file_size", 0)),
        print_duration=float(stats.get("print_duration", 0.0)),
        filament_used_mm=float(stats.get("filament_used", 0.0)),
        extruder=_heater(status.get("extruder")),
        bed=_heater(status.get("heater_bed")),
    )


def _heater(data: dict[str, Any] | None) -> tuple[float, float] | None:
    if not data:
        return None
    return float(data.get("temperature", 0.0)), float(data.get("target", 0.0))


class MoonrakerClient(HostClient):
    """Thin wrapper over Moonraker's HTTP API; every failure becomes a MoonrakerError."""

    host_name = "Moonraker"

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout)
        if api_key:
            self.session.headers["X-Api-Key"] = api_key

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.json(method, path, **kwargs)
        except MoonrakerError:
            raise
        except HostError as exc:
            raise MoonrakerError(str(exc)) from exc

    def upload(self, path: Path) -> str:
        """Upload a G-code file to the `gcodes` root and return its path there."""
        with path.open("rb") as handle:
            files = {"file": (path.name, handle, "application/octet-stream")}
            body = self._call("POST", "/server/files/upload", files=files, data={"root": "gcodes"})
        item = body.get("item") if isinstance(body, dict) else None
        if not isinstance(item, dict) or not item.get("path"):
            raise MoonrakerError(f"Moonraker's upload reply names no file: {body!r}")
        return str(item["path"])

    def start_print(self, filename: str) -> None:
        """Start printing an uploaded file."""
        self._call("POST", "/printer/print/start", params={"filename": filename})

    def query(self) -> PrintStatus:
        """Fetch print_stats, virtual_sdcard and the heaters."""
        body = self._call("GET", QUERY_PATH)
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise MoonrakerError(f"Moonraker's objects query reply has no result: {body!r}")
        return parse_status(result)

    def status(self) -> HostStatus:
        """The printer's job in the driver's terms."""
        return self.query().as_host_status()

    def pause(self) -> None:
        """Pause the running print."""
        self._call("POST", "/printer/print/pause")

    def resume(self) -> None:
        """Resume a paused print."""
        self._call("POST", "/printer/print/resume")

    def cancel(self) -> None:
        """Cancel the running print."""
        self._call("POST", "/printer/print/cancel")
