"""OctoPrint REST client: connection, upload to local storage, job state, pause, resume, cancel.

Calls and fields follow OctoPrint's REST API documentation: the `X-Api-Key` header authenticates;
`GET /api/job` gives `job.file`, `progress.completion` (percent) and `progress.filepos` (bytes)
and the state as text, plus `error` when OctoPrint holds one; `GET /api/printer` gives heater
temperatures and answers 409 while no printer is connected.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from firmware_bridge.http_host import HostClient, HostError, HostState, HostStatus

RUNNING_STATES = frozenset(
    {
        "printing",
        "pausing",  # still moving: JobPaused only once OctoPrint says Paused
        "printing from sd",
        "starting",
        "starting print from sd",
        "finishing",
        "resuming",
        "cancelling",
        "sending file to sd",
        "transferring file to sd",
    }
)
PAUSED_STATES = frozenset({"paused"})
READY_STATES = frozenset({"operational"})


class OctoPrintClient(HostClient):
    """Thin wrapper over OctoPrint's REST API; every failure becomes a HostError."""

    host_name = "OctoPrint"

    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout)
        self.session.headers["X-Api-Key"] = api_key

    def connection_state(self) -> str:
        """OctoPrint's word for its link to the printer: Operational, Printing, Closed, Error: ..."""
        body = self.json("GET", "/api/connection")
        return str(_get(body, "current", "state") or "Unknown")

    def connect(self, port: str | None, baudrate: int | None, wait_s: float) -> None:
        """Ask OctoPrint to connect to its printer (saved or given port) and wait until it is ready."""
        command: dict[str, Any] = {"command": "connect"}
        if port:
            command["port"] = port
        if baudrate:
            command["baudrate"] = baudrate
        self.request("POST", "/api/connection", json=command)
        deadline = time.monotonic() + wait_s
        state = self.connection_state()
        while state.lower() not in READY_STATES | RUNNING_STATES | PAUSED_STATES:
            if time.monotonic() > deadline:
                raise HostError(f"OctoPrint did not connect to its printer within {wait_s:g} s: {state}")
            time.sleep(0.25)
            state = self.connection_state()

    def upload_and_print(self, path: Path) -> str:
        """Upload to local storage, select and start printing; returns the file's path there."""
        with path.open("rb") as handle:
            files = {"file": (path.name, handle, "application/octet-stream")}
            form = {"select": "true", "print": "true"}
            body = self.json("POST", "/api/files/local", files=files, data=form)
        stored = _get(body, "files", "local", "path") or _get(body, "files", "local", "name")
        if not stored:
            raise HostError(f"OctoPrint's upload reply names no file: {body!r}")
        if body.get("effectivePrint") is False:
            raise HostError(f"OctoPrint stored {stored} but did not start printing it")
        return str(stored)

    def status(self) -> HostStatus:
        """The current job, its progress and the heaters, in the driver's terms."""
        job = self.json("GET", "/api/job") or {}
        text = str(job.get("state") or "Unknown")
        file = _get(job, "job", "file")
        name = str(file.get("name") or file.get("path")) if isinstance(file, dict) and file else None
        size = float((file or {}).get("size") or 0) if isinstance(file, dict) else 0.0
        progress = job.get("progress") or {}
        completion = float(progress.get("completion") or 0.0)
        done = float(progress.get("filepos") or 0) or completion / 100.0 * size
        state = _state(text, completion)
        message = str(job.get("error") or "") or (text if state is HostState.FAILED else "")
        temperatures = self._temperatures() if state in (HostState.RUNNING, HostState.PAUSED) else {}
        return HostStatus(state, name, done, size or 1.0, message, temperatures)

    def _temperatures(self) -> dict[str, tuple[float, float | None]]:
        try:
            body = self.json("GET", "/api/printer", params={"exclude": "sd,state"})
        except HostError:
            return {}  # 409 while the printer is not connected: no readings, not a failure
        readings = body.get("temperature", {}) if isinstance(body, dict) else {}
        result: dict[str, tuple[float, float | None]] = {}
        for name, value in readings.items():
            if isinstance(value, dict) and value.get("actual") is not None:
                target = value.get("target")
                result[name] = (float(value["actual"]), float(target) if target is not None else None)
        return result

    def pause(self) -> None:
        """Pause the running print."""
        self.request("POST", "/api/job", json={"command": "pause", "action": "pause"})

    def resume(self) -> None:
        """Resume a paused print."""
        self.request("POST", "/api/job", json={"command": "pause", "action": "resume"})

    def cancel(self) -> None:
        """Cancel the running print."""
        self.request("POST", "/api/job", json={"command": "cancel"})


def _state(text: str, completion: float) -> HostState:
    lower = text.lower()
    if lower in RUNNING_STATES:
        return HostState.RUNNING
    if lower in PAUSED_STATES:
        return HostState.PAUSED
    if lower in READY_STATES:
        # OctoPrint keeps the last job selected: a finished one stands at 100 %, a cancelled one short
        return HostState.DONE if completion >= 100.0 else HostState.CANCELLED
    if lower.startswith("error") or "error" in lower:
        return HostState.FAILED
    return HostState.OFFLINE


def _get(body: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body
