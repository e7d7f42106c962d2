"""The PrusaLink driver against a fake PrusaLink built from Prusa's published OpenAPI description.

No Prusa printer or PrusaLink server runs here. The fake implements the v1 endpoints the driver
uses with the status codes, headers and JSON fields of that description (digest login included),
and moves a started print on by a quarter at each status poll.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from firmware_bridge.drivers import JobDone, JobFailed, JobPaused, JobProgress, JobResumed, make_driver

PASSWORD = "Xq7Kp2"
REALM = "Printer API"


class FakePrusaLink:
    """Printer state behind the fake API."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.files: dict[str, bytes] = {}
        self.headers: dict[str, str] = {}
        self.state = "IDLE"
        self.progress = 0.0
        self.job_id = 41
        self.file = ""
        self.fail_at: float | None = None
        self.hold = False  # keep printing without progress (for pause tests)

    def status(self) -> dict:
        if self.state == "PRINTING" and not self.hold:
            self.progress = min(100.0, self.progress + 25.0)
            if self.fail_at is not None and self.progress >= self.fail_at:
                self.state = "ERROR"
            elif self.progress >= 100.0:
                self.state = "FINISHED"
        printer = {"state": self.state, "temp_nozzle": 214.8, "target_nozzle": 215.0, "temp_bed": 59.9}
        printer["target_bed"] = 60.0
        if self.state == "ERROR":
            printer["status_printer"] = {"ok": False, "message": "Thermal runaway on the heatbed"}
        body: dict = {"printer": printer}
        if self.file:
            body["job"] = {"id": self.job_id, "progress": self.progress, "time_printing": 12}
        return body

    def job(self) -> dict | None:
        if not self.file:
            return None
        file = {"name": self.file.upper()[:8] + ".GCO", "display_name": self.file, "path": "/usb"}
        file["size"] = len(self.files[self.file])
        state = (
            self.state if self.state in ("PRINTING", "PAUSED", "FINISHED", "STOPPED", "ERROR") else "PRINTING"
        )
        return {
            "id": self.job_id,
            "state": state,
            "progress": self.progress,
            "time_printing": 12,
            "file": file,
        }


def digest_ok(header: str, method: str, nonce: str) -> bool:
    """Check an Authorization: Digest header as RFC 7616 (MD5, qop=auth) computes it."""
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header.removeprefix("Digest ")))
    if fields.get("username") != "maker" or fields.get("nonce") != nonce:
        return False

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"maker:{REALM}:{PASSWORD}")
    ha2 = md5(f"{method}:{fields.get('uri')}")
    parts = [ha1, nonce, fields.get("nc", ""), fields.get("cnonce", ""), fields.get("qop", ""), ha2]
    return fields.get("response") == md5(":".join(parts))


def make_handler(printer: FakePrusaLink, nonce: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def reply(self, code: int, body: object = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(code)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            if header.startswith("Digest ") and digest_ok(header, self.command, nonce):
                return True
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(401)
            challenge = f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=MD5'
            self.send_header("WWW-Authenticate", challenge)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def handle_any(self) -> None:
            if not self.authorised():
                return
            printer.calls.append(f"{self.command} {self.path}")
            route = ROUTES.get((self.command, re.sub(r"/\d+(?=/|$)", "/{id}", self.path).split("/files/")[0]))
            if route is None:
                self.reply(404, {"title": "Not Found", "text": self.path})
            else:
                route(self)

        do_GET = do_PUT = do_DELETE = do_POST = handle_any

        def storage(self) -> None:
            usb = {"name": "usb", "type": "USB", "path": "/usb", "available": True, "read_only": False}
            local = {
                "name": "local",
                "type": "LOCAL",
                "path": "/local",
                "available": False,
                "read_only": True,
            }
            self.reply(200, {"storage_list": [local, usb]})

        def upload(self) -> None:
            storage, name = self.path.removeprefix("/api/v1/files/").split("/", 1)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if storage != "usb":
                self.reply(404, {"title": "Not Found", "text": f"no storage {storage}"})
                return
            if printer.state == "PRINTING":
                self.reply(409, {"title": "Conflict", "text": "Printer is printing"})
                return
            printer.headers = dict(self.headers)
            printer.files[name] = body
            if self.headers.get("Print-After-Upload") == "?1":
                printer.file, printer.state, printer.progress = name, "PRINTING", 0.0
                printer.job_id += 1
            self.reply(201)

        def status(self) -> None:
            self.reply(200, printer.status())

        def job(self) -> None:
            job = printer.job()
            self.reply(200, job) if job else self.reply(204)

        def job_control(self) -> None:
            number = int(re.findall(r"/job/(\d+)", self.path)[0])
            if number != printer.job_id:
                self.reply(404, {"title": "Not Found", "text": f"no job {number}"})
                return
            action = self.path.rsplit("/", 1)[-1] if self.command == "PUT" else "stop"
            printer.state = {"pause": "PAUSED", "resume": "PRINTING", "stop": "STOPPED"}[action]
            self.reply(204)

    ROUTES = {
        ("GET", "/api/v1/storage"): Handler.storage,
        ("PUT", "/api/v1"): Handler.upload,
        ("GET", "/api/v1/status"): Handler.status,
        ("GET", "/api/v1/job"): Handler.job,
        ("PUT", "/api/v1/job/{id}/pause"): Handler.job_control,
        ("PUT", "/api/v1/job/{id}/resume"): Handler.job_control,
        ("DELETE", "/api/v1/job/{id}"): Handler.job_control,
    }
    return Handler


@pytest.fixture
def prusalink() -> Iterator[tuple[FakePrusaLink, str]]:
    printer = FakePrusaLink()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(printer, secrets.token_hex(8)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield printer, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "bracket_0.2mm_PETG.gcode"
    path.write_text("G28\nG1 X10 Y10 F3000\n" * 40)
    return path


def driver(url: str, **options: object):  # type: ignore[no-untyped-def]
    return make_driver(
        {"driver": "prusalink", "url": url, "password": PASSWORD, "poll_interval": 0.01, **options}
    )


def run(drv, job: Path) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    progress: list = []
    done: list = []
    drv.start(job, progress.append, done.append)
    assert drv.wait(10)
    return progress, done


def test_upload_with_digest_login_then_print_to_finished(prusalink, job: Path) -> None:
    printer, url = prusalink
    progress, done = run(driver(url), job)
    assert done == [JobDone()]
    assert printer.files[job.name] == job.read_bytes()
    assert printer.headers["Print-After-Upload"] == "?1" and printer.headers["Overwrite"] == "?1"
    assert f"PUT /api/v1/files/usb/{job.name}" in printer.calls  # the writable storage was found
    assert [p.fraction for p in progress if isinstance(p, JobProgress)][-1] == 1.0


def test_a_wrong_password_is_a_failure_naming_the_http_status(prusalink, job: Path) -> None:
    _, url = prusalink
    _, done = run(driver(url, password="wrong"), job)
    assert isinstance(done[0], JobFailed) and "HTTP 401" in done[0].reason


def test_printer_error_fails_the_job_with_the_printers_message(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.fail_at = 50.0
    _, done = run(driver(url), job)
    assert isinstance(done[0], JobFailed) and "Thermal runaway on the heatbed" in done[0].reason


def test_pause_resume_cancel_use_the_job_id(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.hold = True
    drv = driver(url, poll_interval=0.05)
    progress: list = []
    done: list = []
    drv.start(job, progress.append, done.append)
    wait_until(lambda: printer.state == "PRINTING" and any(isinstance(p, JobProgress) for p in progress))
    drv.pause()
    wait_until(lambda: any(isinstance(p, JobPaused) for p in progress))
    drv.resume()
    wait_until(lambda: any(isinstance(p, JobResumed) for p in progress))
    drv.cancel()
    assert drv.wait(10)
    assert done == [JobDone(cancelled=True)]
    job_id = printer.job_id
    assert [c for c in printer.calls if "/job/" in c] == [
        f"PUT /api/v1/job/{job_id}/pause",
        f"PUT /api/v1/job/{job_id}/resume",
        f"DELETE /api/v1/job/{job_id}",
    ]


def test_a_stop_at_the_printer_is_a_failure_and_reattach_follows_a_running_job(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.hold = True
    first = driver(url, poll_interval=30)
    first.start(job, ignore, ignore)
    wait_until(lambda: printer.state == "PRINTING")
    first.release()  # the agent restarts: the first driver stops watching, the print goes on
    second = driver(url)
    assert not second.reattach("other.gcode", ignore, ignore)
    done: list = []
    assert second.reattach(job.name, ignore, done.append)
    printer.state = "STOPPED"  # someone pressed stop on the printer
    assert second.wait(10)
    assert isinstance(done[0], JobFailed) and "stopped at the printer" in done[0].reason
    assert not driver(url).reattach(job.name, ignore, ignore)


def ignore(_event: object) -> None:
    """A driver callback for events the test does not look at."""


def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("timed out")
