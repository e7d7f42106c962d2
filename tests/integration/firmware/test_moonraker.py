"""The Moonraker driver against a small fake Moonraker HTTP server on 127.0.0.1.

No Klipper runs here; the fake answers with the shapes of Moonraker's web API documentation: JSON
wrapped in `result`, except the upload (HTTP 201, the item at the top level), errors as
`{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from firmware_bridge.drivers import JobDone, JobFailed, JobPaused, JobProgress, make_driver
from firmware_bridge.moonraker import MoonrakerClient, MoonrakerError


class FakeMoonraker:
    """Printer state behind the fake API: each query moves a running print on by a quarter."""

    def __init__(self, fail_at: float | None = None) -> None:
        self.calls: list[str] = []
        self.files: dict[str, bytes] = {}
        self.state = "standby"
        self.progress = 0.0
        self.fail_at = fail_at
        self.file_size = 0
        self.filename = ""

    def status(self) -> dict:
        if self.state == "printing":
            self.progress = min(1.0, self.progress + 0.25)
            if self.fail_at is not None and self.progress >= self.fail_at:
                self.state = "error"
            elif self.progress >= 1.0:
                self.state = "complete"
        message = "MCU 'mcu' shutdown" if self.state == "error" else ""
        stats = {"state": self.state, "message": message, "filename": self.filename}
        card = {
            "progress": self.progress,
            "file_size": self.file_size,
            "file_position": int(self.file_size * self.progress),
        }
        heater = {"temperature": 60.0, "target": 60.0}
        return {
            "status": {"print_stats": stats, "virtual_sdcard": card, "heater_bed": heater, "extruder": heater}
        }


def make_handler(printer: FakeMoonraker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def reply(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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
                printer.files["job.gcode"] = body
                printer.file_size = len(body)
                item = {"path": "job.gcode", "root": "gcodes", "modified": 1.0, "size": len(body)}
                reply = {"item": item, "print_started": False, "print_queued": False, "action": "create_file"}
                self.reply(201, reply)
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


@pytest.fixture
def moonraker() -> Iterator[tuple[FakeMoonraker, str]]:
    printer = FakeMoonraker()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(printer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield printer, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "job.gcode"
    path.write_text("G28\nG1 X10 Y10 F3000\n" * 50)
    return path


def run(driver, job: Path) -> tuple[list, list]:
    progress: list = []
    done: list = []
    driver.start(job, progress.append, done.append)
    assert driver.wait(10)
    return progress, done


def test_upload_start_poll_until_complete(moonraker, job: Path) -> None:
    printer, url = moonraker
    driver = make_driver({"driver": "moonraker", "url": url, "poll_interval": 0.01})
    progress, done = run(driver, job)
    assert done == [JobDone()]
    assert printer.files["job.gcode"].count(b"G28") == 50  # multipart body holds the file
    assert printer.calls[1:3] == ["POST /server/files/upload", "POST /printer/print/start"]
    assert any(c.endswith("?print_stats&virtual_sdcard&heater_bed&extruder") for c in printer.calls)
    fractions = [p.fraction for p in progress if isinstance(p, JobProgress)]
    assert fractions[-1] == 1.0


def test_klipper_error_fails_the_job(moonraker, job: Path) -> None:
    printer, url = moonraker
    printer.fail_at = 0.5
    driver = make_driver({"driver": "moonraker", "url": url, "poll_interval": 0.01})
    _, done = run(driver, job)
    assert isinstance(done[0], JobFailed) and "MCU 'mcu' shutdown" in done[0].reason


def test_pause_and_cancel_reach_the_printer(moonraker, job: Path) -> None:
    printer, url = moonraker
    driver = make_driver({"driver": "moonraker", "url": url, "poll_interval": 0.2})
    progress: list = []
    done: list = []
    driver.start(job, progress.append, done.append)
    threading.Event().wait(0.1)  # the print has started before the first poll
    driver.pause()
    threading.Event().wait(0.3)
    driver.cancel()
    assert driver.wait(10)
    assert "POST /printer/print/pause" in printer.calls
    assert "POST /printer/print/cancel" in printer.calls
    assert any(isinstance(p, JobPaused) for p in progress)
    assert done == [JobDone(cancelled=True)]


def test_reattach_follows_the_print_a_new_driver_finds_running(moonraker, job: Path) -> None:
    printer, url = moonraker
    first = make_driver({"driver": "moonraker", "url": url, "poll_interval": 5})
    first.start(job, ignore, ignore)
    threading.Event().wait(0.2)  # uploaded and started; the agent now "restarts"
    first.release()
    second = make_driver({"driver": "moonraker", "url": url, "poll_interval": 0.01})
    assert not second.reattach("other.gcode", ignore, ignore)
    done: list = []
    assert second.reattach("job.gcode", ignore, done.append)
    assert second.wait(10)
    assert done == [JobDone()]
    idle = make_driver({"driver": "moonraker", "url": url})
    assert not idle.reattach("job.gcode", ignore, ignore)  # complete: nothing to follow


def ignore(_event: object) -> None:
    """A driver callback for events the test does not look at."""


def test_unreachable_moonraker_is_reported(job: Path) -> None:
    client = MoonrakerClient("http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(MoonrakerError, match="cannot reach Moonraker"):
        client.query()
