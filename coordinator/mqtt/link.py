"""The coordinator's MQTT connection: will, retained online state, resubscription, back-off."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import payloads as p
from protocol import topics
from protocol.errors import InvalidInput

log = logging.getLogger(__name__)

SUBSCRIPTIONS = [(topics.all_agents("state"), 1), (topics.all_agents("events"), 1)]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_mqtt_url(url: str) -> BrokerAddress:
    """mqtt://user:pass@host:port -> its parts; anything else is an error naming the URL."""
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "tcp"} or not parts.hostname:
        raise InvalidInput(f"mqtt.url {url!r}: expected mqtt://[user:pass@]host[:port]")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise InvalidInput(f"mqtt.url {url!r}: bad port") from exc
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return BrokerAddress(parts.hostname, port, user, password)


class MqttLink:
    """A paho client that announces the coordinator and feeds every agent message to `on_message`."""

    def __init__(
        self,
        address: BrokerAddress,
        client_id: str,
        on_message: Callable[[str, bytes], None],
        keepalive_s: int = 30,
        on_connection: Callable[[bool], None] | None = None,
    ) -> None:
        self.address = address
        self.keepalive_s = keepalive_s
        self._on_message = on_message
        self._on_connection = on_connection or (lambda _up: None)
        self._connected = threading.Event()
        self._started_at = datetime.now(UTC)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self._configure()

    def _configure(self) -> None:
        client = self.client
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        client.will_set(topics.COORDINATOR_STATE, self._state(False), qos=1, retain=True)
        # paho waits fractions of a second fine; its hint says int
        client.reconnect_delay_set(min_delay=0.2, max_delay=5)  # type: ignore[arg-type]
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(100)
        client.on_connect = self._connected_cb
        client.on_disconnect = self._disconnected_cb
        client.on_message = self._message_cb

    def _state(self, online: bool) -> bytes:
        return p.encode(p.CoordinatorState(online=online, started_at=self._started_at))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self, wait_s: float = 5.0) -> bool:
        """Connect in the background (retrying with back-off); return whether it connected in time."""
        self.client.connect_async(self.address.host, self.address.port, self.keepalive_s)
        self.client.loop_start()
        return self._connected.wait(wait_s)

    def stop(self, timeout_s: float = 3.0) -> None:
        """Announce offline (a clean disconnect sends no will), then disconnect."""
        if self.connected:
            info = self.client.publish(topics.COORDINATOR_STATE, self._state(False), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                log.warning("could not announce the coordinator offline")
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain)

    def _connected_cb(self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker refused the connection: %s", reason)
            return
        client.subscribe(SUBSCRIPTIONS)
        client.publish(topics.COORDINATOR_STATE, self._state(True), qos=1, retain=True)
        self._connected.set()
        self._on_connection(True)
        log.info("connected to %s:%s", self.address.host, self.address.port)

    def _disconnected_cb(self, _c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        self._connected.clear()
        self._on_connection(False)
        log.info("disconnected from the broker (%s); reconnecting", reason)

    def _message_cb(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self._on_message(message.topic, bytes(message.payload))  # no copy when it is bytes already
