"""A fake Moonraker (Klipper's API server) answering with the shapes of Moonraker's web API documentation.

No Klipper runs here. JSON replies are wrapped in `result`, except the upload (HTTP 201, the item
at the top level); errors are `{"error": {"code", "message"}}`. A running print moves on by `step`
at each objects query, and stands still while paused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlparse

from tests.support.http_fakes import JsonHandler, serving

# what Klipper's print_stats.message says after an MCU shutdown
SHUTDOWN_MESSAGE = "MCU 'mcu' shutdown: Timer too close"
_UPLOAD_NAME = re.compile(rb'filename="([^"]+)"')


class FakeMoonraker:
    """Printer state behind the fake API: each query moves a running print on by `step`."""

    def __init__(self, fail_at: float | None = None, step: float = 0.25, filament_mm: float = 1250.0) -> None:
        self.calls: list[str] = []
        self.files: dict[str, bytes] = {}
        self.state = "standby"
        self.progress = 0.0
        self.fail_at = fail_at
        self.step = step
        self.filament_mm = filament_mm  # what a whole print extrudes; Klipper counts it as the print goes
        self.error_message = SHUTDOWN_MESSAGE
        self.file_size = 0
        self.filename = ""

    def status(self) -> dict:
        if self.state == "printing":
            self.progress = min(1.0, self.progress + self.step)
            if self.fail_at is not None and self.progress >= self.fail_at:
                self.state = "error"
            elif self.progress >= 1.0:
                self.state = "complete"
        message = self.error_message if self.state == "error" else ""
        stats = {"state": self.state, "message": message, "filename": self.filename,
                 "filament_used": self.filament_mm * self.progress}  # fmt: skip
        card = {
            "progress": self.progress,
            "file_size": self.file_size,
            "file_position": int(self.file_size * self.progress),
        }
        heater = {"temperature": 60.0, "target": 60.0}
        return {
            "status": {"print_stats": stats, "virtual_sdcard": card, "heater_bed": heater, "extruder": heater}
        }

    def upload(self, body: bytes) -> dict:
        """Store a multipart upload under its own file name; the reply's upload item."""
        found = _UPLOAD_NAME.search(body)
        name = found.group(1).decode() if found else "job.gcode"
        self.files[name] = body
        self.file_size = len(body)
        item = {"path": name, "root": "gcodes", "modified": 1.0, "size": len(body)}
        return {"item": item, "print_started": False, "print_queued": False, "action": "create_file"}


def make_handler(printer: FakeMoonraker) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            printer.calls.append(f"GET {url.path}?{url.query}")
            if url.path == "/printer/objects/query":
                self.reply(200, {"result": printer.status()})
            else:
                self.reply(404, {"error": {"code": 404, "message": "Not Found"}})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            printer.calls.append(f"POST {url.path}")
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if url.path == "/server/files/upload":
                self.reply(201, printer.upload(body))
            elif url.path == "/printer/print/start":
                name = parse_qs(url.query).get("filename", [""])[0]
                if name not in printer.files:
                    self.reply(400, {"error": {"code": 400, "message": f"File {name} not found"}})
                    return
                printer.state, printer.progress, printer.filename = "printing", 0.0, name
                self.reply(200, {"result": "ok"})
            elif url.path in ("/printer/print/pause", "/printer/print/resume", "/printer/print/cancel"):
                action = url.path.rsplit("/", 1)[1]
                printer.state = {"pause": "paused", "resume": "printing", "cancel": "cancelled"}[action]
                self.reply(200, {"result": "ok"})
            else:
                self.reply(404, {"error": {"code": 404, "message": "Not Found"}})

    return Handler


@contextmanager
def fake_moonraker(printer: FakeMoonraker) -> Iterator[str]:
    """Serve `printer` behind the fake API; yield its base URL."""
    with serving(make_handler(printer)) as url:
        yield url
