"""The coordinator's MQTT connection in a process of its own.

paho parses every packet, acknowledges every QoS 1 message and builds every outgoing packet in
Python. In the coordinator's process that work shares one interpreter lock with the dispatcher's
worker; in a child process it runs on another core. The child holds an `MqttLink` (will, retained
online state, resubscription, back-off) and talks to the coordinator over two pipes: incoming
messages go up in batches, commands to publish come down. What the link promises does not
change: a message is acknowledged to the broker once it is in the coordinator's hands, and the
database, the agents' journals and re-announcements cover what is lost between.

If the child dies, the coordinator starts a new one (its client id is the same, so the broker
hands it the session). If the coordinator dies, the child sees its pipe close and exits without
a clean disconnect, so the broker publishes the coordinator's will.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import pickle
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from coordinator.mqtt.link import BrokerAddress, MqttLink

log = logging.getLogger(__name__)

READER_THREAD = "mqtt-network-reader"
RESTART_DELAY_S = 1.0
_STOPPED = b"stopped"


class NetworkProcess:
    """An `MqttLink` served by a child process: start, stop, connected, and publish_many."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        on_message: Callable[[str, bytes], None],
        keepalive_s: int = 30,
    ) -> None:
        self.address, self.client_id, self.keepalive_s = address, client_id, keepalive_s
        self._on_message = on_message
        self._context = mp.get_context("spawn")  # no fork of a process that runs threads
        self._connected = self._context.Event()
        self._connections = self._context.Value("l", 0)  # connections made so far, by every child
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._life = threading.Lock()  # one child at a time: a restart never races a stop
        self._process: Any = None
        self._down: Connection | None = None
        self._up: Connection | None = None
        self._reader: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def connections(self) -> int:
        """How many times a connection to the broker was made: a change means the link came back."""
        return int(self._connections.value)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, wait_s: float = 5.0) -> bool:
        """Start the child and its reader; return whether the child connected within `wait_s`."""
        self._stopping.clear()
        self._spawn()
        self._reader = threading.Thread(target=self._read, name=READER_THREAD, daemon=True)
        self._reader.start()
        return self._connected.wait(wait_s)

    def stop(self, timeout_s: float = 3.0) -> None:
        """Ask the child to announce offline and disconnect cleanly, then wait for it."""
        self._stopping.set()
        with contextlib.suppress(OSError):  # a child that is gone already has nothing to stop
            self._send(("stop",))
        if self._reader is not None:
            self._reader.join(timeout_s + 2.0)
        with self._life:
            self._end_child(timeout_s)

    def kill(self) -> None:
        """Crash on purpose (a power cut): the child dies without a clean disconnect, so the broker
        keeps the persistent session and publishes the will."""
        self._stopping.set()
        with self._life:
            if self._process is not None:
                self._process.kill()
            self._end_child(1.0)
        if self._reader is not None:
            self._reader.join(2.0)

    def publish_many(self, messages: list[tuple[str, bytes, bool]]) -> None:
        """Hand messages to the child in one write.

        While no child is running they are dropped, as a broker that is down would drop them: an
        offer comes back when its lease runs out, and a cancel is sent again until it is confirmed.
        """
        if not messages:
            return
        try:
            self._send(("publish", messages))
        except OSError:
            log.warning("network process gone; %d messages not sent", len(messages))

    # ---- the coordinator's side --------------------------------------------------------------------

    def _spawn(self) -> None:
        down_read, down_write = self._context.Pipe(duplex=False)
        up_read, up_write = self._context.Pipe(duplex=False)
        self._process = self._context.Process(
            target=serve,
            args=(
                self.address,
                self.client_id,
                self.keepalive_s,
                down_read,
                up_write,
                self._connected,
                self._connections,
            ),  # fmt: skip
            name=f"peerfab-mqtt-{self.client_id}",
            daemon=True,
        )
        self._process.start()
        down_read.close()
        up_write.close()
        self._down, self._up = down_write, up_read

    def _send(self, message: tuple[Any, ...]) -> None:
        if self._down is None:
            raise OSError("no network process")
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._send_lock:
            self._down.send_bytes(data)

    def _read(self) -> None:
        while True:
            up = self._up
            if up is None:  # stopped meanwhile
                return
            try:
                data = up.recv_bytes()
            except (EOFError, OSError):
                if self._stopping.is_set():
                    return
                self._restart()
                continue
            if data == _STOPPED:
                return
            for topic, payload in pickle.loads(data):
                self._on_message(topic, payload)

    def _restart(self) -> None:
        with self._life:
            process = self._process
            self._end_child(0.5)
        code = process.exitcode if process is not None else None
        log.error("the MQTT network process ended (exit code %s); starting another", code)
        time.sleep(RESTART_DELAY_S)
        with self._life:
            if not self._stopping.is_set():
                self._spawn()

    def _end_child(self, timeout_s: float) -> None:
        process = self._process
        if process is not None:
            process.join(timeout_s)
            if process.is_alive():
                process.kill()
                process.join(1.0)
        for conn in (self._down, self._up):
            if conn is not None:
                conn.close()
        self._process = self._down = self._up = None
        self._connected.clear()


# ---- the child -------------------------------------------------------------------------------------


def serve(
    address: BrokerAddress,
    client_id: str,
    keepalive_s: int,
    down: Connection,
    up: Connection,
    connected: Any,
    connections: Any,
) -> None:
    """The child's main: run the link, forward what arrives, publish what comes down."""
    outbox = _Outbox(up)
    link = MqttLink(address, client_id, outbox.add, keepalive_s, on_connection=_flag(connected, connections))
    outbox.start()
    link.start(wait_s=0)
    while True:
        try:
            message = pickle.loads(down.recv_bytes())
        except (EOFError, OSError):
            os._exit(0)  # the coordinator is gone: no clean disconnect, so the broker sends the will
        if message[0] == "stop":
            link.stop()
            outbox.close()
            return
        for topic, payload, retain in message[1]:
            link.publish(topic, payload, retain=retain)


def _flag(event: Any, connections: Any) -> Callable[[bool], None]:
    def changed(up: bool) -> None:
        if up:
            with connections.get_lock():
                connections.value += 1
            event.set()
        else:
            event.clear()

    return changed


class _Outbox:
    """Messages from paho's thread, sent up the pipe in batches by a thread of their own."""

    def __init__(self, up: Connection) -> None:
        self.up = up
        self._items: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="forward", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self._items.append((topic, payload))
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._items and not self._closed:
                    self._ready.wait()
                items, self._items = self._items, []
                closed = self._closed
            if items:
                self.up.send_bytes(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
            if closed:
                self.up.send_bytes(_STOPPED)
                return

    def close(self, timeout_s: float = 2.0) -> None:
        """Send what is left and the stop marker, then return."""
        with self._lock:
            self._closed = True
            self._ready.notify()
        self._thread.join(timeout_s)
