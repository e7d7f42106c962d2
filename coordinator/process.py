"""A whole coordinator in one object: database, HTTP server and (when built in) the dispatcher.

`peerfab coordinator`, `peerfab demo` and the end-to-end tests all run the coordinator this way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from waitress.server import create_server

from coordinator.app import create_app
from coordinator.runtime import Runtime
from coordinator.settings import Settings

log = logging.getLogger(__name__)


class CoordinatorProcess:
    """Start and stop the HTTP API and the background services around one Runtime."""

    def __init__(self, settings: Settings, *, with_dispatcher: bool = True) -> None:
        self.settings = settings
        self.with_dispatcher = with_dispatcher
        self.runtime: Runtime | None = None
        self.dispatcher: Any = None
        self.notifier: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.effective_host, self._server.effective_port
        return f"http://{host}:{port}"

    def start(self) -> CoordinatorProcess:
        self.runtime = Runtime.open(self.settings)
        app = create_app(rt=self.runtime)
        self._server = create_server(
            app,
            host=self.settings.server.host,
            port=self.settings.server.port,
            # each open live page holds a thread and a connection: room for all of them beside the requests
            threads=self.settings.server.threads + self.settings.server.event_streams,
            connection_limit=self.settings.server.threads + self.settings.server.event_streams + 100,
            channel_request_lookahead=1,  # notice closed event streams without waiting for a write
        )
        if not self.settings.server.public_url:
            self.settings.server.public_url = self.url
        if self.with_dispatcher:
            self.dispatcher = _start_dispatcher(self.runtime)
            self.notifier = _start_notifier(self.runtime)
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)
        self._thread.start()
        log.info("coordinator listening on %s", self.url)
        return self

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the socket is closed by stop()
            self._server.run()

    def stop(self) -> None:
        if self.notifier is not None:
            self.notifier.stop()
            self.notifier = None
        if self.dispatcher is not None:
            self.dispatcher.stop()
            self.dispatcher = None
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.runtime is not None:
            self.runtime.engine.dispose()

    def wait(self) -> None:
        """Block until the HTTP server stops (Ctrl-C stops it)."""
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)


def _start_notifier(rt: Runtime) -> Any:
    """The worker that tells people (webhooks, apprise) and syncs Spoolman, fed after every commit."""
    from coordinator.fablab.delivery import DeliverySettings, Notifier
    from coordinator.fablab.spoolman import sync_all

    settings = DeliverySettings(retention_days=rt.settings.notifications.retention_days)
    notifier = Notifier(rt.engine, lambda: rt.settings.server.public_url or "", settings, periodic=[sync_all])
    rt.outbox.listeners.append(notifier.receive)
    return notifier.start()


def _start_dispatcher(rt: Runtime) -> Any:
    from coordinator.mqtt.service import DispatchService

    return DispatchService(rt).start()
