"""An embedded amqtt broker on loopback, for a coordinator run without an external Mosquitto."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class EmbeddedBroker:
    """amqtt in its own thread and event loop; anonymous, so it only ever listens on loopback."""

    def __init__(self, host: str = "127.0.0.1", port: int = 11883) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the embedded broker is anonymous and binds loopback only, not {host!r}")
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    def start(self, timeout_s: float = 10.0) -> EmbeddedBroker:
        """Start serving; return once the listener is bound."""
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"embedded broker did not start on {self.host}:{self.port}")
        if self._error is not None:
            raise RuntimeError(f"embedded broker failed to start: {self._error}") from self._error
        log.info("embedded MQTT broker on %s", self.url)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
            loop.run_forever()
        except BaseException as exc:  # noqa: BLE001 -- reported to start() in the caller's thread
            self._error = exc
        finally:
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        from amqtt.broker import Broker

        self._broker = Broker(self.config())
        await self._broker.start()
        self._ready.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut the broker down and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        if self._broker is not None:
            done = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), loop)
            try:
                done.result(timeout_s)
            except Exception:  # noqa: BLE001 -- shutting down regardless
                log.exception("embedded broker did not shut down cleanly")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        self._thread = None
