"""Serial transport: opens a port with pyserial and drives a sans-io engine until the job ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import serial

from firmware_bridge.events import Event, Failed
from protocol.errors import InvalidInput

READ_TIMEOUT = 0.02  # seconds a read may block; bounds the latency of timeouts and pause/cancel


class Engine(Protocol):
    """What the runner needs from a protocol engine (MarlinEngine, GrblEngine)."""

    @property
    def finished(self) -> bool: ...

    def receive(self, data: bytes, now: float) -> list[Event]: ...

    def poll(self, now: float) -> list[Event]: ...

    def data_to_send(self, now: float) -> bytes: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def cancel(self) -> None: ...


def open_port(port: str, baud: int) -> serial.SerialBase:
    """Open a device path or a pyserial URL (`loop://`, `socket://host:port`, `rfc2217://...`)."""
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=READ_TIMEOUT, write_timeout=10)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise InvalidInput(f"cannot open serial port {port!r}: {exc}") from exc


class StreamRunner:
    """Pumps bytes between a port and an engine until the engine reaches a terminal state."""

    def __init__(
        self,
        engine: Engine,
        port: serial.SerialBase,
        on_event: Callable[[Event], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.port = port
        self._on_event = on_event
        self._clock = clock
        self._lock = threading.Lock()
        self._abort: str | None = None

    def run(self) -> None:
        """Stream until done, cancelled or failed; returns once the engine has finished."""
        try:
            while not self._step():
                pass
        except (serial.SerialException, OSError) as exc:
            self._on_event(Failed(f"serial port error: {exc}"))

    def pause(self) -> None:
        """Ask the engine to pause; safe from any thread."""
        with self._lock:
            self.engine.pause()

    def resume(self) -> None:
        """Ask the engine to resume; safe from any thread."""
        with self._lock:
            self.engine.resume()

    def cancel(self) -> None:
        """Ask the engine to cancel; safe from any thread."""
        with self._lock:
            self.engine.cancel()

    def abort(self, reason: str) -> None:
        """Stop the loop at once without a stop sequence (the host is shutting down)."""
        self._abort = reason

    def _step(self) -> bool:
        waiting = self.port.in_waiting
        data = self.port.read(max(1, waiting))
        with self._lock:
            now = self._clock()
            events = self.engine.receive(data, now) if data else []
            events += self.engine.poll(now)
            outgoing = self.engine.data_to_send(now)
            finished = self.engine.finished
        if outgoing:
            self.port.write(outgoing)
        for event in events:
            self._on_event(event)
        if self._abort is not None and not finished:
            self._on_event(Failed(self._abort))
            return True
        return finished
