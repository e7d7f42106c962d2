"""A secured Mosquitto built from config/mosquitto, and a tiny coordinator stand-in (raw paho + HTTP)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fablab_agents import credentials
from fablab_agents.config import AgentConfig, load_agent_config
from protocol import topics
from protocol.payloads import CoordinatorState, encode
from tests.conftest import UNDER_CI
from tests.support.mosquitto import Mosquitto, mosquitto_binary
from tests.support.waiting import wait_until as _wait_until

CONF = Path(__file__).resolve().parents[3] / "config" / "mosquitto" / "mosquitto.conf"
# The fixture writes its own listener and turns persistence off; file paths point into the test dir.
_OWNED_BY_FIXTURE = ("listener", "persistence", "autosave_interval")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    return _wait_until(predicate, timeout, what, poll_s=0.02)


FABLAB = "lab-a"
COORDINATOR_PASSWORD = "coordinator-secret"


def secured_config(folder: Path) -> str:
    """config/mosquitto/mosquitto.conf with this test's password and ACL files."""
    lines = []
    for line in CONF.read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in _OWNED_BY_FIXTURE:
            continue
        if key == "password_file":
            line = f"password_file {folder / 'passwd'}"
        elif key == "acl_file":
            line = f"acl_file {folder / 'acl'}"
        lines.append(line)
    if os.geteuid() == 0:
        # Run as root, Mosquitto drops to user `mosquitto`, which cannot read pytest's private tmp dir.
        lines.append("user root")
    return "\n".join(lines) + "\n"


@dataclass
class Broker:
    mosquitto: Mosquitto
    folder: Path
    passwords: dict[str, str] = field(default_factory=dict)

    def add_agent(self, agent: str, fablab: str = FABLAB) -> str:
        """Create the agent's user with the real credentials code; return its mqtt URL."""
        user = credentials.agent_username(fablab, agent)
        password = f"{agent}-secret"
        credentials.set_password(self.folder / "passwd", user, password)
        credentials.write_acl(self.folder / "acl", self.folder / "passwd")
        self.passwords[user] = password
        self.reload()
        return credentials.mqtt_url(user, password, f"127.0.0.1:{self.mosquitto.port}")

    def reload(self) -> None:
        assert self.mosquitto.process is not None
        self.mosquitto.process.send_signal(1)  # SIGHUP: Mosquitto rereads password and ACL files
        time.sleep(0.2)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """Mosquitto with allow_anonymous false, a password file and an ACL made by our credentials code."""
    if mosquitto_binary() is None:
        if UNDER_CI:
            pytest.fail("mosquitto is required under CI")
        pytest.skip("mosquitto is not installed")
    folder = tmp_path / "broker"
    folder.mkdir()
    credentials.set_password(
        folder / "passwd", credentials.COORDINATOR_USER, COORDINATOR_PASSWORD, use_tool=False
    )
    credentials.write_acl(folder / "acl", folder / "passwd")
    mosquitto = Mosquitto(workdir=folder, extra_config=secured_config(folder)).start()
    yield Broker(mosquitto, folder)
    mosquitto.stop()


class Coordinator:
    """Publishes the retained coordinator state and records everything agents send."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.events: list[dict[str, Any]] = []
        self.states: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-coordinator")
        self.client.username_pw_set(credentials.COORDINATOR_USER, COORDINATOR_PASSWORD)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.will_set(topics.COORDINATOR_STATE, encode(CoordinatorState(online=False)), 1, True)

    def start(self) -> Coordinator:
        self.client.connect("127.0.0.1", self.broker.mosquitto.port, keepalive=10)
        self.client.loop_start()
        wait_until(self.client.is_connected, what="coordinator connection")
        return self

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(topics.all_agents("events"), 1), (topics.all_agents("state"), 1)])
        client.publish(topics.COORDINATOR_STATE, encode(CoordinatorState(online=True)), qos=1, retain=True)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        body = json.loads(message.payload) if message.payload else {}
        with self._lock:
            (self.states if message.topic.endswith("/state") else self.events).append(body)

    def go_offline(self) -> None:
        info = self.client.publish(topics.COORDINATOR_STATE, encode(CoordinatorState(online=False)), 1, True)
        info.wait_for_publish(5)

    def go_online(self) -> None:
        info = self.client.publish(topics.COORDINATOR_STATE, encode(CoordinatorState(online=True)), 1, True)
        info.wait_for_publish(5)

    def command(self, agent: str, payload: Any) -> None:
        info = self.client.publish(topics.agent_topic(FABLAB, agent, "commands"), encode(payload), qos=1)
        info.wait_for_publish(5)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("type") == kind]

    def births(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s for s in self.states if s.get("online")]

    def wait_event(self, kind: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """The first event of `kind` whose fields equal the given ones (or satisfy a given check)."""

        def matches(event: dict[str, Any]) -> bool:
            return all(v(event.get(k)) if callable(v) else event.get(k) == v for k, v in fields.items())

        def found() -> dict[str, Any] | None:
            return next((e for e in self.of_type(kind) if matches(e)), None)

        return wait_until(found, timeout, f"{kind} {fields}")  # type: ignore[no-any-return]


@pytest.fixture
def coordinator(broker: Broker) -> Iterator[Coordinator]:
    stand_in = Coordinator(broker).start()
    yield stand_in
    stand_in.stop()


class FileServer:
    """Serves bytes by sha256 on 127.0.0.1, like GET /api/v1/files/<sha256>; counts requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                data = server.files.get(self.path.rsplit("/", 1)[-1])
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, data: bytes, key: str | None = None) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.files[key or digest] = data
        return f"{self.base_url}/api/v1/files/{key or digest}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.stop()


def agent_section(mqtt_url: str, coordinator_url: str, agent: str = "agent-1") -> dict[str, Any]:
    """The `[agent]` section of a test agent: short timers, a free local port."""
    return {
        "fablab": FABLAB,
        "id": agent,
        "coordinator_url": coordinator_url,
        "mqtt_url": mqtt_url,
        "heartbeat_s": 0.5,
        "local_port": 0,
        "reconnect_max_s": 0.5,
        "progress_interval_s": 0.2,
    }


def agent_config(mqtt_url: str, coordinator_url: str, agent: str = "agent-1", **machine: Any) -> AgentConfig:
    """A one-printer agent on a fast simulated machine, with short timers for tests."""
    printer = {
        "driver": "simulated",
        "process": "fdm_print",
        "build_volume_mm": [250, 210, 210],
        "materials": ["pla"],
        "max_hotend_c": 260,
        "max_bed_c": 110,
        "operator_confirm": True,
        "time_scale": 1000,
    } | machine
    return load_agent_config(
        {"agent": agent_section(mqtt_url, coordinator_url, agent), "machine printer-1": printer}
    )
