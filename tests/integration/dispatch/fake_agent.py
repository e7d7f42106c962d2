"""A scripted agent on raw paho: it says exactly what a test tells it to, in the order given."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import payloads as p
from protocol import topics

FDM = p.Capabilities(
    process="fdm_print",
    make="Prusa",
    model="i3 MK3S",
    build_volume_mm=(250, 210, 210),
    nozzle_mm=0.4,
    materials=("pla", "petg"),
)


def machine(
    machine_id: str, status: str = "idle", job: p.MachineJob | None = None, **caps: Any
) -> p.MachineInfo:
    capabilities = FDM.model_copy(update=caps) if caps else FDM
    return p.MachineInfo(
        id=machine_id,
        driver="simulated",
        status=status,  # type: ignore[arg-type]
        capabilities=capabilities,
        job=job,
        operator_confirm=False,
    )


class FakeAgent:
    """One agent connection; `auto` answers every offer with accepted then done."""

    def __init__(self, host: str, port: int, fablab: str, agent: str, *, auto: bool = False) -> None:
        self.host, self.port, self.fablab, self.agent, self.auto = host, port, fablab, agent, auto
        self.boot_seq, self.seq = 1, 0
        self.commands: list[Any] = []
        self.coordinator_online = threading.Event()
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fake-{fablab}-{agent}")
        will = p.AgentState(fablab=fablab, agent=agent, online=False, boot_seq=self.boot_seq)
        self.client.will_set(self.topic("state"), p.encode(will), qos=1, retain=True)
        self.client.on_connect = lambda c, *_: self._connected.set()
        self.client.on_message = self._on_message

    def topic(self, channel: topics.AgentChannel) -> str:
        return topics.agent_topic(self.fablab, self.agent, channel)

    def start(self, timeout_s: float = 10.0) -> FakeAgent:
        self.client.connect(self.host, self.port, keepalive=10)
        self.client.loop_start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError("fake agent could not connect")
        self.client.subscribe([(self.topic("commands"), 1), (topics.COORDINATOR_STATE, 1)])
        if not self.coordinator_online.wait(timeout_s):
            raise TimeoutError("no coordinator online")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def kill(self) -> None:
        """Drop the socket without DISCONNECT, so the broker publishes the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    # ---- sending -------------------------------------------------------------------------------

    def birth(self, *machines: p.MachineInfo, boot_seq: int | None = None) -> p.AgentState:
        if boot_seq is not None:
            self.boot_seq = boot_seq
        self.seq = 0
        state = p.AgentState(
            fablab=self.fablab,
            agent=self.agent,
            online=True,
            boot_seq=self.boot_seq,
            seq=0,
            machines=machines,
            software="fake-agent",
        )
        self.publish_raw("state", p.encode(state), retain=True)
        return state

    def event(self, model: type[Any], *, seq: int | None = None, send: bool = True, **fields: Any) -> Any:
        """Build (and send) an event with the next sequence number, or the given one."""
        with self._lock:
            if seq is None:
                self.seq += 1
                seq = self.seq
        message = model(boot_seq=self.boot_seq, seq=seq, **fields)
        if send:
            self.send(message)
        return message

    def send(self, message: Any) -> None:
        self.publish_raw("events", p.encode(message))

    def publish_raw(self, channel: topics.AgentChannel, payload: bytes, *, retain: bool = False) -> None:
        self.client.publish(self.topic(channel), payload, qos=1, retain=retain).wait_for_publish(5)

    def job_event(self, model: type[Any], offer: p.JobOffer, **fields: Any) -> Any:
        ids = {"job_id": offer.job_id, "attempt_id": offer.attempt_id, "machine_id": offer.machine_id}
        return self.event(model, **ids, **fields)

    # ---- receiving -----------------------------------------------------------------------------

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == topics.COORDINATOR_STATE:
            if p.decode_coordinator_state(message.payload).online:
                self.coordinator_online.set()
            else:
                self.coordinator_online.clear()
            return
        command = p.decode_command(message.payload)
        self.commands.append(command)
        if self.auto and isinstance(command, p.JobOffer):
            threading.Thread(target=self._finish, args=(command,), daemon=True).start()

    def _finish(self, offer: p.JobOffer) -> None:
        self.job_event(p.JobAccepted, offer)
        self.job_event(p.JobDone, offer, duration_s=0.0)

    def offers(self) -> list[p.JobOffer]:
        return [c for c in self.commands if isinstance(c, p.JobOffer)]

    def wait_command(self, match: Callable[[Any], bool], timeout_s: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for command in list(self.commands):
                if match(command):
                    return command
            time.sleep(0.02)
        raise TimeoutError(f"no matching command; got {[c.type for c in self.commands]}")

    def wait_offer(self, timeout_s: float = 10.0, exclude: set[str] | None = None) -> p.JobOffer:
        skip = exclude or set()
        return self.wait_command(lambda c: isinstance(c, p.JobOffer) and c.attempt_id not in skip, timeout_s)
