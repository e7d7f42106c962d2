"""The agent's MQTT link: connect with a will, wait for the coordinator, publish the birth, send the journal.

One network thread owns the paho client, so publishes, acknowledgements and the send cursor never race.
Every connection uses a fresh client: paho would otherwise resend unacknowledged messages with the
boot_seq/seq of the old connection, which the coordinator rightly drops as stale.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from fablab_agents import SOFTWARE
from fablab_agents.config import AgentConfig
from fablab_agents.journal import Journal
from protocol import topics
from protocol.errors import InvalidInput
from protocol.payloads import (
    AgentState,
    MachineInfo,
    decode_command,
    decode_coordinator_state,
    encode,
)

log = logging.getLogger(__name__)

INFLIGHT_WINDOW = 20  # Mosquitto's default max_inflight_messages
INITIAL_BACKOFF_S = 0.25
LOOP_TIMEOUT_S = 0.05
CONNACK_TIMEOUT_S = 10.0
GOODBYE_TIMEOUT_S = 2.0

CommandHandler = Callable[[Any], None]
BirthSource = Callable[[], tuple[MachineInfo, ...]]


class MqttLink:
    """Keeps one agent connected to the broker and its journal flowing, until stopped or killed."""

    def __init__(
        self, config: AgentConfig, journal: Journal, on_command: CommandHandler, machines: BirthSource
    ) -> None:
        self.config = config
        self.journal = journal
        self._on_command = on_command
        self._machines = machines
        self._target = config.mqtt
        self._state_topic = topics.agent_topic(config.fablab, config.id, "state")
        self._events_topic = topics.agent_topic(config.fablab, config.id, "events")
        self._commands_topic = topics.agent_topic(config.fablab, config.id, "commands")
        self._stop = threading.Event()
        self._attempted = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._killed = False
        self._reset_session(0)
        self.last_error = ""

    # ---- public ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def ready(self) -> bool:
        """Connected, the coordinator is online and our birth is out: events flow."""
        return self._ready

    @property
    def boot_seq(self) -> int:
        return self._boot_seq

    def start(self, wait_s: float = 5.0) -> None:
        """Start the network thread; return after the first connection attempt (or `wait_s`)."""
        self._thread = threading.Thread(target=self._run, name="agent-mqtt", daemon=True)
        self._thread.start()
        self._attempted.wait(wait_s)

    def stop(self) -> None:
        """Say goodbye (retained offline state), disconnect and join the thread."""
        self._stop.set()
        self._join()

    def kill(self) -> None:
        """Drop the connection without a DISCONNECT, so the broker publishes our will."""
        self._killed = True
        self._stop.set()
        self._join()

    def notify(self) -> None:
        """New journal entries are waiting."""
        self._dirty = True

    def request_rebirth(self) -> None:
        """Publish a fresh birth on a new connection (new boot_seq, so seq restarts at 0 validly)."""
        self._rebirth = True

    # ---- network thread ----------------------------------------------------------------------

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=CONNACK_TIMEOUT_S + GOODBYE_TIMEOUT_S + 2)
            self._thread = None

    def _reset_session(self, boot_seq: int) -> None:
        self._boot_seq = boot_seq
        self._seq = 0
        self._connected = False
        self._answered = False
        self._ready = False
        self._born = False
        self._birth_due = False
        self._rebirth = False
        self._coordinator_online = False
        self._cursor = 0
        self._inflight: dict[int, int] = {}
        self._dirty = True

    def _run(self) -> None:
        delay = INITIAL_BACKOFF_S
        while not self._stop.is_set():
            was_connected = self._session()
            self._attempted.set()
            if self._stop.is_set():
                break
            if was_connected:
                delay = INITIAL_BACKOFF_S
                if self._rebirth:
                    continue
            self._stop.wait(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.config.reconnect_max_s)

    def _session(self) -> bool:
        """One connection from CONNECT to its end; True when the broker accepted us."""
        self._reset_session(self.journal.next_boot_seq())
        client = self._new_client()
        try:
            client.connect(self._target.host, self._target.port, keepalive=self.config.keepalive_s)
        except (OSError, ValueError) as exc:
            self.last_error = f"cannot reach broker {self._target.host}:{self._target.port}: {exc}"
            log.warning(self.last_error)
            return False
        self._client = client
        self._pump(client)
        accepted = self._connected
        self._finish(client)
        self._client = None
        self._connected = self._ready = False
        return accepted

    def _pump(self, client: mqtt.Client) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            if client.loop(timeout=LOOP_TIMEOUT_S) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            if not self._answered and time.monotonic() - started > CONNACK_TIMEOUT_S:
                self.last_error = "broker did not answer CONNECT"
                return
            if self._answered and not self._connected:
                return
            if self._rebirth:
                return
            self._tick(client)

    def _finish(self, client: mqtt.Client) -> None:
        if self._killed:
            sock = client.socket()
            if sock is not None:
                sock.close()
            return
        if self._connected and self._stop.is_set():
            self._say_goodbye(client)
        if self._connected:
            client.disconnect()
            client.loop(timeout=LOOP_TIMEOUT_S)

    def _say_goodbye(self, client: mqtt.Client) -> None:
        info = client.publish(self._state_topic, encode(self._state(online=False)), qos=1, retain=True)
        deadline = time.monotonic() + GOODBYE_TIMEOUT_S
        while not info.is_published() and time.monotonic() < deadline:
            if client.loop(timeout=LOOP_TIMEOUT_S) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return

    def _tick(self, client: mqtt.Client) -> None:
        if self._birth_due:
            self._publish_birth(client)
        if self._ready and self._dirty:
            self._send_pending(client)

    def _publish_birth(self, client: mqtt.Client) -> None:
        self._birth_due = False
        birth = self._state(online=True, machines=self._machines())
        client.publish(self._state_topic, encode(birth), qos=1, retain=True)
        self._seq = 0
        self._born = self._ready = True
        self._dirty = True
        log.info("birth published (boot_seq %d, %d machines)", self._boot_seq, len(birth.machines))

    def _send_pending(self, client: mqtt.Client) -> None:
        self._dirty = False
        room = INFLIGHT_WINDOW - len(self._inflight)
        if room <= 0:
            return
        for entry in self.journal.pending(after=self._cursor, limit=room):
            self._seq += 1
            info = client.publish(self._events_topic, entry.stamped(self._boot_seq, self._seq), qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            self._inflight[info.mid] = entry.id
            self._cursor = entry.id

    def _state(self, online: bool, machines: tuple[MachineInfo, ...] = ()) -> AgentState:
        return AgentState(
            boot_seq=self._boot_seq,
            seq=0,
            fablab=self.config.fablab,
            agent=self.config.id,
            online=online,
            software=SOFTWARE,
            machines=machines,
        )

    def _new_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"peerfab-agent-{self.config.fablab}-{self.config.id}",
            clean_session=True,
            reconnect_on_failure=False,
        )
        if self._target.username:
            client.username_pw_set(self._target.username, self._target.password)
        if self._target.tls:
            client.tls_set()
        client.will_set(self._state_topic, encode(self._state(online=False)), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # ---- paho callbacks (run on the network thread) ------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._answered = True
        self._attempted.set()
        if reason.is_failure:
            self.last_error = f"broker refused the connection: {reason}"
            log.error("%s (check the user and password in mqtt_url)", self.last_error)
            return
        self._connected = True
        self.last_error = ""
        client.subscribe([(topics.COORDINATOR_STATE, 1), (self._commands_topic, 1)])
        log.info("connected to %s:%d (boot_seq %d)", self._target.host, self._target.port, self._boot_seq)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self._connected and not self._stop.is_set():
            log.warning("disconnected from broker: %s", reason)
        self._connected = self._ready = False

    def _on_publish(self, _c: Any, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        entry_id = self._inflight.pop(mid, None)
        if entry_id is not None:
            self.journal.remove(entry_id)
            self._dirty = True

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic == topics.COORDINATOR_STATE:
                self._coordinator_state(bytes(message.payload))
            elif message.topic == self._commands_topic:
                self._on_command(decode_command(bytes(message.payload)))
        except InvalidInput as exc:
            log.warning("dropped message on %s: %s", message.topic, exc.message)
        except Exception:  # a bad command must not take the network thread down
            log.exception("command on %s failed", message.topic)

    def _coordinator_state(self, payload: bytes) -> None:
        online = bool(payload) and decode_coordinator_state(payload).online
        if not online:
            self._coordinator_online = self._ready = False
            return
        if self._coordinator_online:
            return
        self._coordinator_online = True
        if self._born:
            self.request_rebirth()
        else:
            self._birth_due = True
