"""Serving a fake host's HTTP handler on a free loopback port, for the fakes of printer hosts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.live import running


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet handler that answers JSON (or nothing) with a Content-Length."""

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


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` in a thread on 127.0.0.1; yield the base URL; stop it afterwards."""
    with running(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url
