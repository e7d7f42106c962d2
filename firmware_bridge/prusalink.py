"""PrusaLink client (Prusa MK4, XL, MINI and PrusaLink on a Pi), after Prusa's published OpenAPI description.

`PUT /api/v1/files/{storage}/{name}` uploads (headers `Print-After-Upload: ?1`, `Overwrite: ?1`,
`Content-Type: text/x.gcode`, 201 Created); `GET /api/v1/status` reports `printer.state` (IDLE, BUSY,
PRINTING, PAUSED, FINISHED, STOPPED, ERROR, ATTENTION, READY), temperatures and `job.progress` in
percent; `GET /api/v1/job` names the file and the job id (204 when there is no job);
`PUT /api/v1/job/{id}/pause|resume` and `DELETE /api/v1/job/{id}` control it. Authentication is HTTP
digest (user `maker` and the password shown on the printer); older firmwares take the same password as
an `X-Api-Key` header instead.

Checked against PrusaLink 0.8.1 itself (the MK3 adapter on a Pi): it answers 500 to an upload of a new
file sent as `application/octet-stream`, and it drops the job from both replies as soon as the job ends
while `printer.state` says FINISHED, STOPPED or ERROR (at times a poll before it leaves PRINTING), so the
client keeps the last job's file for a reply that names no job.
Its `status_printer` is `{"ok": true, "message": "OK"}` whenever nothing is wrong, ATTENTION included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from requests.auth import HTTPDigestAuth

from firmware_bridge.http_host import HostClient, HostError, HostState, HostStatus

_STATES = {
    "IDLE": HostState.IDLE,
    "READY": HostState.IDLE,
    "BUSY": HostState.RUNNING,
    "PRINTING": HostState.RUNNING,
    "PAUSED": HostState.PAUSED,
    "ATTENTION": HostState.PAUSED,  # the printer waits for the operator (filament runout, crash)
    "FINISHED": HostState.DONE,
    "STOPPED": HostState.CANCELLED,
    "ERROR": HostState.FAILED,
}
ENDED = ("FINISHED", "STOPPED", "ERROR")  # states in which PrusaLink has already dropped the job
# states in which a reply without a job still means the last job: PrusaLink drops it as it ends,
# sometimes a poll before `printer.state` leaves PRINTING
UNNAMED_LAST_JOB = ("PRINTING", "PAUSED", "ATTENTION", *ENDED)
SHOWN_AFTER_END = ("FINISHED", "STOPPED")  # held for a while after a job; no new print meanwhile


class PrusaLinkClient(HostClient):
    """Thin wrapper over PrusaLink's v1 API; every failure becomes a HostError."""

    host_name = "PrusaLink"

    def __init__(
        self,
        base_url: str,
        *,
        username: str = "maker",
        password: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(base_url, timeout)
        self.session.headers["Accept"] = "application/json"  # errors as JSON rather than text
        if password:
            self.session.auth = HTTPDigestAuth(username, password)
        if api_key:
            self.session.headers["X-Api-Key"] = api_key
        self._job_id: int | None = None
        self._last_job: tuple[str, float] | None = None  # name and size of the last job file seen or sent

    def writable_storage(self) -> str:
        """The first available storage that is not read-only, e.g. `usb` on a MK4, `local` on a Pi."""
        body = self.json("GET", "/api/v1/storage") or {}
        for storage in body.get("storage_list", []):
            if storage.get("available") and not storage.get("read_only"):
                return str(storage["path"]).strip("/")
        raise HostError("PrusaLink has no writable storage available (is a USB stick inserted?)")

    def upload_and_print(self, path: Path, storage: str) -> str:
        """Upload a file into `storage` and ask the printer to start it."""
        url = f"/api/v1/files/{quote(storage)}/{quote(path.name)}"
        headers = {
            "Content-Type": "text/x.gcode",
            "Print-After-Upload": "?1",
            "Overwrite": "?1",
        }
        with path.open("rb") as handle:
            self.request("PUT", url, data=handle, headers=headers)
        self._last_job = (path.name, float(path.stat().st_size))
        return path.name

    def showing_last_end(self) -> bool:
        """PrusaLink still shows the last job FINISHED or STOPPED, and refuses a new print with 409."""
        printer = (self.json("GET", "/api/v1/status") or {}).get("printer") or {}
        return str(printer.get("state", "")).upper() in SHOWN_AFTER_END

    def status(self) -> HostStatus:
        """Printer state, temperatures and job progress in the driver's terms."""
        body = self.json("GET", "/api/v1/status") or {}
        printer = body.get("printer") or {}
        job = body.get("job") or {}
        reported = str(printer.get("state", "")).upper()
        state = _STATES.get(reported, HostState.OFFLINE)
        file, size, job_id = self._job_file() if job else self._unnamed_job(reported)
        progress = float(job.get("progress") or 0.0)
        message = _problem(printer)
        if reported == "ATTENTION":
            message = message or "the printer needs attention"
        return HostStatus(
            state=state,
            file=file,
            done=progress / 100.0 * (size or 100.0),
            total=size or 100.0,
            message=message,
            temperatures=_temperatures(printer),
            job_id=str(job_id) if job_id is not None else None,
        )

    def _job_file(self) -> tuple[str | None, float, int | None]:
        response = self.request("GET", "/api/v1/job")
        if response.status_code == 204 or not response.content:
            return self._last_file()  # the job ended between the two requests
        try:
            job = response.json()
        except requests.JSONDecodeError as exc:
            raise HostError("PrusaLink's job reply is not JSON") from exc
        self._job_id = job.get("id")
        file = job.get("file") or {}
        name = file.get("display_name") or file.get("name")
        if name:
            self._last_job = (str(name), float(file.get("size") or 0.0))
        return (str(name) if name else None), float(file.get("size") or 0.0), self._job_id

    def _unnamed_job(self, reported: str) -> tuple[str | None, float, int | None]:
        """The job a printing or ended state is about when PrusaLink names none: the last one."""
        return self._last_file() if reported in UNNAMED_LAST_JOB else (None, 0.0, None)

    def _last_file(self) -> tuple[str | None, float, int | None]:
        if self._last_job is None:
            return None, 0.0, None
        return (*self._last_job, None)

    def pause(self) -> None:
        """Pause the current job."""
        self.request("PUT", f"/api/v1/job/{self._current_job()}/pause")

    def resume(self) -> None:
        """Resume the current job."""
        self.request("PUT", f"/api/v1/job/{self._current_job()}/resume")

    def cancel(self) -> None:
        """Stop the current job."""
        self.request("DELETE", f"/api/v1/job/{self._current_job()}")

    def _current_job(self) -> int:
        if self._job_id is None:
            self._job_file()
        if self._job_id is None:
            raise HostError("PrusaLink has no current job")
        return self._job_id


def _problem(printer: dict[str, Any]) -> str:
    """What `status_printer` says is wrong; PrusaLink says `{"ok": true, "message": "OK"}` otherwise."""
    status = printer.get("status_printer") or {}
    return "" if status.get("ok", False) else str(status.get("message") or "")


def _temperatures(printer: dict[str, Any]) -> dict[str, tuple[float, float | None]]:
    readings: dict[str, tuple[float, float | None]] = {}
    heaters = (("hotend", "temp_nozzle", "target_nozzle"), ("bed", "temp_bed", "target_bed"))
    for name, actual, target in heaters:
        if printer.get(actual) is not None:
            goal = printer.get(target)
            readings[name] = (float(printer[actual]), float(goal) if goal is not None else None)
    return readings
