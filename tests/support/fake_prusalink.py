"""A fake PrusaLink built from Prusa's published OpenAPI description of its v1 API.

No Prusa printer or PrusaLink server runs here. The fake implements the v1 endpoints the driver
uses with the status codes, headers and JSON fields of that description (digest login included),
and moves a started print on by `step` percent at each status poll; a paused print stands still.
Where the real PrusaLink 0.8.1 differs from the description, the fake does what PrusaLink does (see
tests/integration/firmware/test_prusalink_peer.py): MD5-sess digest in realm "Administrator", a 500 for
a new file sent as application/octet-stream, 409 for a print asked while another is on or while the
last one is still shown FINISHED or STOPPED (`end_hold` polls here, 11 s there), no job in
`/api/v1/status` or `/api/v1/job` once the job has ended, and `status_printer` "OK" unless in ERROR.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.http_fakes import JsonHandler, serving

PASSWORD = "Xq7Kp2"
REALM = "Administrator"
# what status_printer.message says after the firmware halted on an error such as a thermal runaway
HARDWARE_ISSUE = "Firmware detected a hardware issue"
ENDED = ("FINISHED", "STOPPED", "ERROR")  # PrusaLink drops the job from its replies in these states
SHOWN_AFTER_END = ("FINISHED", "STOPPED")  # PrusaLink holds these 11 s, refusing prints, then says IDLE
NOT_READY = ("PRINTING", "PAUSED", "ERROR", "ATTENTION", "BUSY", *SHOWN_AFTER_END)
UPLOAD_TYPES = ("application/octet-stream", "text/x.gcode")


class FakePrusaLink:
    """Printer state behind the fake API."""

    def __init__(self, step: float = 25.0) -> None:
        self.calls: list[str] = []
        self.files: dict[str, bytes] = {}
        self.headers: dict[str, str] = {}
        self.state = "IDLE"
        self.progress = 0.0
        self.step = step
        self.job_id = 41
        self.file = ""
        self.fail_at: float | None = None
        self.hold = False  # keep printing without progress (for pause tests)
        self.unnamed_at: float | None = None  # progress at which one poll says PRINTING but names no job
        self.end_hold = 2  # status polls a FINISHED or STOPPED state lasts before the printer is IDLE
        self._end_polls = 0

    def status(self) -> dict:
        self._leave_shown_end()
        if self.state == "PRINTING" and not self.hold:
            self.progress = min(100.0, self.progress + self.step)
            if self.fail_at is not None and self.progress >= self.fail_at:
                self.state = "ERROR"
            elif self.progress >= 100.0:
                self.state = "FINISHED"
        printer = {"state": self.state, "temp_nozzle": 214.8, "target_nozzle": 215.0, "temp_bed": 59.9}
        printer["target_bed"] = 60.0
        printer["status_printer"] = {"ok": True, "message": "OK"}
        if self.state == "ERROR":
            printer["status_printer"] = {"ok": False, "message": HARDWARE_ISSUE}
        body: dict = {"printer": printer}
        if self.file and self.state not in ENDED and not self._unnamed():
            body["job"] = {"id": self.job_id, "progress": self.progress, "time_printing": 12}
        return body

    def _unnamed(self) -> bool:
        """PrusaLink drops a job as it ends, at times a poll before its state leaves PRINTING."""
        if self.unnamed_at is None or self.progress < self.unnamed_at:
            return False
        self.unnamed_at = None
        return True

    def _leave_shown_end(self) -> None:
        if self.state not in SHOWN_AFTER_END:
            self._end_polls = 0
        elif self._end_polls >= self.end_hold:
            self.state, self.file = "IDLE", ""
        else:
            self._end_polls += 1

    def job(self) -> dict | None:
        if not self.file or self.state in ENDED:
            return None
        file: dict[str, object] = {
            "name": self.file.upper()[:8] + ".GCO",
            "display_name": self.file,
            "path": "/usb",
        }
        file["size"] = len(self.files[self.file])
        return {
            "id": self.job_id,
            "state": self.state,
            "progress": self.progress,
            "time_printing": 12,
            "file": file,
        }


def digest_ok(header: str, method: str, nonce: str) -> bool:
    """Check an Authorization: Digest header as RFC 7616 (MD5-sess, qop=auth) computes it."""
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header.removeprefix("Digest ")))
    if fields.get("username") != "maker" or fields.get("nonce") != nonce:
        return False

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{md5(f'maker:{REALM}:{PASSWORD}')}:{nonce}:{fields.get('cnonce', '')}")
    ha2 = md5(f"{method}:{fields.get('uri')}")
    parts = [ha1, nonce, fields.get("nc", ""), fields.get("cnonce", ""), fields.get("qop", ""), ha2]
    return fields.get("response") == md5(":".join(parts))


def make_handler(printer: FakePrusaLink, nonce: str) -> type[JsonHandler]:
    class Handler(JsonHandler):
        def authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            if header.startswith("Digest ") and digest_ok(header, self.command, nonce):
                return True
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(401)
            challenge = f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm="MD5-sess"'
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
            kind = self.headers.get("Content-Type", "application/octet-stream")
            if storage != "usb":
                self.reply(404, {"title": "Not Found", "text": f"no storage {storage}"})
            elif kind not in UPLOAD_TYPES:
                self.reply(415, {"title": "Unsupported Media Type", "text": "Unsupported media type."})
            elif kind == "application/octet-stream" and name not in printer.files:
                # PrusaLink 0.8.1 sniffs the type of the stored file before it has stored it
                self.reply(500, {"title": "Internal Server Error", "text": f"No such file: '{name}'"})
            else:
                self.store(name, body)

        def store(self, name: str, body: bytes) -> None:
            printer.headers = dict(self.headers)
            printer.files[name] = body
            if self.headers.get("Print-After-Upload") != "?1":
                self.reply(201)
            elif printer.state in NOT_READY:
                self.reply(
                    409, {"title": "Not in state to print", "text": "Printer is not in state to print."}
                )
            else:
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


@contextmanager
def fake_prusalink(printer: FakePrusaLink) -> Iterator[str]:
    """Serve `printer` behind the fake API with a fresh digest nonce; yield its base URL."""
    with serving(make_handler(printer, secrets.token_hex(8))) as url:
        yield url
