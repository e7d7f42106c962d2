"""A fake Klipper host (klippy) behind a real Moonraker: its API server on a Unix socket, and a print that
runs through the virtual SD card.

Klipper is not on PyPI or in Debian, so the Moonraker peer tests put this in its place. It speaks what
Moonraker 0.11 asks of klippy (read from its klippy_connection and klippy_apis): JSON requests
`{"id", "method", "params"}` each ended by 0x03, answered `{"id", "result"}` or `{"id", "error":
{"message"}}`; `info` says `ready`; `list_endpoints`, `objects/list`, `objects/query` and
`objects/subscribe` (then `process_status_update` notifications with the changed fields, in the
`response_template` the subscription gave); `gcode/script` runs `SDCARD_PRINT_FILE FILENAME="..."`;
`pause_resume/pause|resume|cancel`. A print moves through the file at `bytes_per_s`, counting the
filament its extrusion moves use, as Klipper's print_stats does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import threading
import time
from bisect import bisect_right
from itertools import accumulate
from pathlib import Path
from typing import Any

# what Klipper's print_stats.message says after an MCU shutdown
SHUTDOWN_MESSAGE = "MCU 'mcu' shutdown: Timer too close"
ENDPOINTS = [
    "list_endpoints", "info", "emergency_stop", "register_remote_method", "objects/list", "objects/query",
    "objects/subscribe", "gcode/help", "gcode/script", "gcode/restart", "gcode/firmware_restart",
    "gcode/subscribe_output", "pause_resume/cancel", "pause_resume/pause", "pause_resume/resume",
]  # fmt: skip
_PRINT_FILE = re.compile(r'^SDCARD_PRINT_FILE\s+FILENAME="?(?P<name>.+?)"?\s*$', re.I)
_E_WORD = re.compile(r"\bE(-?\d*\.?\d+)")
READY = {"state": "ready", "state_message": "Printer is ready"}  # webhooks of a klippy that is ready
# print_stats before any print
STANDBY = {"state": "standby", "filename": "", "message": "", "print_duration": 0.0, "total_duration": 0.0,
           "filament_used": 0.0}  # fmt: skip
_PAUSE_RESUME = {"PAUSE": "pause", "RESUME": "resume", "CANCEL_PRINT": "cancel"}  # the macros' endpoints
TICK_S = 0.05  # how often a running print moves on and subscribers hear of changes


def extruded_mm(lines: list[bytes]) -> list[float]:
    """The filament each line's moves have fed by its end, net of retractions, as Klipper's print_stats
    counts it (M82/M83 modes and G92 E resets honoured)."""
    relative, position, total, fed = False, 0.0, 0.0, []
    for raw in lines:
        line = raw.split(b";", 1)[0].decode("ascii", "replace").strip().upper()
        word = line.split(" ", 1)[0] if line else ""
        found = _E_WORD.search(line)
        if word in ("M82", "M83"):
            relative = word == "M83"
        elif word == "G92" and found:
            position = float(found.group(1))
        elif word in ("G0", "G1") and found:
            target = float(found.group(1))
            delta = target if relative else target - position
            position = position + target if relative else target
            total += delta  # Klipper counts the extruder's net travel: retractions take away
        fed.append(total)
    return fed


class FakeKlippy:
    """Klipper's host process as Moonraker sees it; `start()` listens on `socket_path`."""

    def __init__(self, socket_path: Path, gcodes: Path, bytes_per_s: float = 2000.0) -> None:
        self.socket_path = socket_path
        self.gcodes = gcodes
        self.bytes_per_s = bytes_per_s
        self.fail_at: float | None = None  # an MCU shutdown once the print has read this share of its file
        self.scripts: list[str] = []  # every G-code script Moonraker sent
        self.requests: list[str] = []  # every endpoint Moonraker called, in order
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: socket.socket | None = None
        self._clients: list[_Client] = []
        self._job: _Job | None = None
        self._stats: dict[str, Any] = dict(STANDBY)
        self._webhooks = dict(READY)

    def restart(self) -> None:
        """FIRMWARE_RESTART as a test needs it: ready, no print, no fault to come."""
        with self._lock:
            self.fail_at = None
            self._job = None
            self._stats = dict(STANDBY)
            self._webhooks = dict(READY)

    # ---- the socket ------------------------------------------------------------------------------

    def start(self) -> FakeKlippy:
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.socket_path))
        self._server.listen(4)
        threading.Thread(target=self._accept, daemon=True, name="klippy-accept").start()
        threading.Thread(target=self._tick, daemon=True, name="klippy-tick").start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            client = _Client(conn, self)
            self._clients.append(client)
            threading.Thread(target=client.serve, daemon=True, name="klippy-client").start()

    # ---- requests --------------------------------------------------------------------------------

    def handle(self, client: _Client, method: str, params: dict[str, Any]) -> Any:
        """The result of one request; ValueError is an error reply with its message."""
        self.requests.append(method)
        if method == "info":
            return self._info()
        if method == "list_endpoints":
            return {"endpoints": ENDPOINTS}
        if method == "objects/list":
            return {"objects": list(self._objects())}
        if method in ("objects/query", "objects/subscribe"):
            wanted = params.get("objects", {})
            if method == "objects/subscribe":
                client.subscribe(wanted, params.get("response_template", {}))
            return {"eventtime": time.monotonic(), "status": _pick(self._objects(), wanted)}
        if method in ("gcode/subscribe_output", "register_remote_method", "emergency_stop"):
            return {}
        if method == "gcode/script":
            return self._script(str(params.get("script", "")))
        if method.startswith("pause_resume/"):
            return self._pause_resume(method.split("/", 1)[1])
        raise ValueError(f"unknown endpoint {method!r}")

    def _info(self) -> dict[str, Any]:
        """klippy's `info`: its state, and where its source and Python are (Moonraker reserves the source
        folder: no upload may go there)."""
        return {
            **self._webhooks,
            "hostname": socket.gethostname(),
            "klipper_path": str(self.socket_path.parent / "klipper"),
            "python_path": sys.executable,
            "process_id": os.getpid(),
            "user_id": os.getuid(),
            "group_id": os.getgid(),
            "log_file": "",
            "config_file": "",
            "software_version": "fake",
            "cpu_info": "",
        }

    def _script(self, script: str) -> dict[str, Any]:
        self.scripts.append(script)
        for line in script.splitlines():
            found = _PRINT_FILE.match(line.strip())
            if found:
                self._print_file(found.group("name"))
            elif line.strip().upper() in _PAUSE_RESUME:
                self._pause_resume(_PAUSE_RESUME[line.strip().upper()])
        return {}

    def _print_file(self, name: str) -> None:
        with self._lock:
            if self._job is not None and self._stats["state"] in ("printing", "paused"):
                raise ValueError("SD busy")
            path = self.gcodes / name
            if not path.is_file():
                raise ValueError(f"Unable to open file {name!r}")
            self._job = _Job(path)
            self._stats.update(state="printing", filename=name, message="", print_duration=0.0,
                               total_duration=0.0, filament_used=0.0)  # fmt: skip

    def _pause_resume(self, action: str) -> dict[str, Any]:
        with self._lock:
            state = self._stats["state"]
            if action == "pause" and state == "printing":
                self._stats["state"] = "paused"
            elif action == "resume" and state == "paused":
                self._stats["state"] = "printing"
            elif action == "cancel" and state in ("printing", "paused"):
                self._stats["state"] = "cancelled"
            elif action != "cancel":
                raise ValueError(f"cannot {action} while {state}")
        return {}

    # ---- the printer -----------------------------------------------------------------------------

    def _objects(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            job = self._job
            position, size = (job.position, job.size) if job else (0, 0)
            share = position / size if size else 0.0
            active = self._stats["state"] == "printing"
            heater = {
                "temperature": 60.0 if active else 25.0,
                "target": 60.0 if active else 0.0,
                "power": 0.0,
            }
            card = {"file_path": str(job.path) if job else None, "progress": share, "is_active": active,
                    "file_position": position, "file_size": size}  # fmt: skip
            return {
                "webhooks": dict(self._webhooks),
                "print_stats": dict(self._stats),
                "virtual_sdcard": card,
                "pause_resume": {"is_paused": self._stats["state"] == "paused"},
                "display_status": {"progress": share, "message": None},
                "extruder": dict(heater),
                "heater_bed": dict(heater),
                "configfile": {"config": {"virtual_sdcard": {"path": str(self.gcodes)}}},
            }

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            self._advance(TICK_S)
            status = self._objects()
            for client in list(self._clients):
                client.notify(status)

    def _advance(self, seconds: float) -> None:
        with self._lock:
            job = self._job
            if job is None or self._stats["state"] != "printing":
                return
            job.read(int(self.bytes_per_s * seconds))
            self._stats["print_duration"] += seconds
            self._stats["total_duration"] += seconds
            self._stats["filament_used"] = job.fed()
            if self.fail_at is not None and job.position >= self.fail_at * job.size:
                self._stats.update(state="error", message=SHUTDOWN_MESSAGE)
                self._webhooks.update(state="shutdown", state_message=SHUTDOWN_MESSAGE)
            elif job.position >= job.size:
                self._stats["state"] = "complete"


class _Job:
    """A file on the virtual SD card and how far the print has read it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        lines = path.read_bytes().splitlines(keepends=True)
        self.ends = list(accumulate(len(line) for line in lines))  # where each line ends in the file
        self.size = self.ends[-1] if self.ends else 0
        self.fed_by_line = extruded_mm(lines)
        self.position = 0

    def read(self, amount: int) -> None:
        self.position = min(self.size, self.position + amount)

    def fed(self) -> float:
        """Filament fed by the lines read so far."""
        done = bisect_right(self.ends, self.position)  # lines read whole
        return self.fed_by_line[done - 1] if done else 0.0


class _Client:
    """One connection from Moonraker: requests in, replies and subscription notifications out."""

    def __init__(self, conn: socket.socket, klippy: FakeKlippy) -> None:
        self.conn = conn
        self.klippy = klippy
        self.send_lock = threading.Lock()
        self.subscribed: dict[str, list[str] | None] = {}
        self.template: dict[str, Any] = {}
        self.sent: dict[str, dict[str, Any]] = {}

    def serve(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self.conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\x03" in buffer:
                raw, buffer = buffer.split(b"\x03", 1)
                self._answer(json.loads(raw))

    def _answer(self, request: dict[str, Any]) -> None:
        try:
            reply = {
                "id": request.get("id"),
                "result": self.klippy.handle(self, request["method"], request.get("params") or {}),
            }
        except ValueError as exc:
            reply = {"id": request.get("id"), "error": {"error": "WebRequestError", "message": str(exc)}}
        self.send(reply)

    def subscribe(self, wanted: dict[str, list[str] | None], template: dict[str, Any]) -> None:
        self.subscribed, self.template = dict(wanted), dict(template)
        self.sent = _pick(self.klippy._objects(), self.subscribed)

    def notify(self, objects: dict[str, dict[str, Any]]) -> None:
        """Send the subscribed fields that changed since the last notification."""
        if not self.template:
            return
        now = _pick(objects, self.subscribed)
        changed = {name: {k: v for k, v in fields.items() if self.sent.get(name, {}).get(k) != v}
                   for name, fields in now.items()}  # fmt: skip
        changed = {name: fields for name, fields in changed.items() if fields}
        if changed:
            self.sent = now
            self.send({**self.template, "params": {"eventtime": time.monotonic(), "status": changed}})

    def send(self, message: dict[str, Any]) -> None:
        with self.send_lock, contextlib.suppress(OSError):
            self.conn.sendall(json.dumps(message).encode() + b"\x03")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()


def _pick(
    objects: dict[str, dict[str, Any]], wanted: dict[str, list[str] | None]
) -> dict[str, dict[str, Any]]:
    """The asked-for objects, each whole (None) or with the asked-for fields."""
    picked = {}
    for name, fields in wanted.items():
        if name in objects:
            found = objects[name]
            picked[name] = dict(found) if fields is None else {k: found[k] for k in fields if k in found}
    return picked
