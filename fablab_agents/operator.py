"""The operator's local HTTP endpoint (127.0.0.1 only): list machines, confirm a cleared bed."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

MachinesView = Callable[[], list[dict[str, Any]]]
ConfirmClear = Callable[[str], str]  # machine id -> "cleared" | "not_waiting" | "unknown"


class OperatorEndpoint:
    """A tiny JSON API: GET /machines, POST /machines/<id>/confirm-clear."""

    def __init__(self, port: int, machines: MachinesView, confirm_clear: ConfirmClear) -> None:
        handler = _handler_class(machines, confirm_clear)
        self._server = ThreadingHTTPServer((LOOPBACK, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="agent-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


def _handler_class(machines: MachinesView, confirm_clear: ConfirmClear) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/machines":
                self._reply(200, {"machines": machines()})
            else:
                self._reply(404, {"error": f"no such resource {self.path}"})

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "machines" or parts[2] != "confirm-clear":
                self._reply(404, {"error": f"no such resource {self.path}"})
                return
            outcome = confirm_clear(parts[1])
            if outcome == "unknown":
                self._reply(404, {"error": f"no machine {parts[1]!r} on this agent"})
            elif outcome == "not_waiting":
                self._reply(409, {"error": f"machine {parts[1]} is not waiting for the operator"})
            else:
                self._reply(200, {"machine": parts[1], "status": "idle"})

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("operator endpoint: " + format, *args)

    return Handler
