"""The fleet benchmark's load: many agents' machines on a few MQTT connections, and dashboard viewers.

Two process mains, started by `fleet.py`:

- `run_fleet`: agents as the protocol has them (births, statuses, progress, heartbeats, job events with
  their boot and sequence numbers), many per paho connection, driven by one scheduler thread. A machine
  that is offered a job accepts it at once, reports progress while it prints, and reports done and idle
  when it ends. What was published when, and when each offer arrived, is written to a JSON file.
- `run_viewers`: dashboard pages following `/dashboard/events`, each recording when it first saw each
  event-log row.
- `run_floor`: the baseline, a bare MQTT subscriber to every agent's events that does nothing but note
  when each progress report arrived: the lag the broker and the loaded machine add before any
  coordinator work.

Payloads are built as plain dicts (the benchmark measures the coordinator, not pydantic here), in the
exact shape `protocol.payloads` validates.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = "peerfab/v1"
TICK_S = 0.05
CAPABILITIES = {"process": "fdm_print", "materials": ["pla"], "build_volume_mm": [250, 210, 210]}


@dataclass
class FleetPlan:
    """What the simulated fleet does (sent to the harness process as a dict)."""

    host: str
    port: int
    fablabs: int
    agents_per_fablab: int
    machines_per_agent: int
    job_s: float
    status_every_s: float = 5.0
    progress_every_s: float = 10.0
    heartbeat_s: float = 10.0
    connections: int = 8
    stop_at: float = 0.0  # wall clock
    out: str = ""


@dataclass
class Job:
    job_id: str
    attempt_id: str
    started: float
    ends: float
    next_progress: float


@dataclass
class Machine:
    id: str
    status: str = "idle"
    next_status: float = 0.0
    job: Job | None = None


@dataclass
class Agent:
    fablab: str
    id: str
    shard: int
    machines: dict[str, Machine]
    seq: int = 0
    next_heartbeat: float = 0.0
    boot_seq: int = 1

    def topic(self, channel: str) -> str:
        return f"{ROOT}/fablabs/{self.fablab}/agents/{self.id}/{channel}"


@dataclass
class Records:
    """What the harness saw, for fleet.py to join with the coordinator's side."""

    progress: dict[str, float] = field(default_factory=dict)  # "job|progress" -> publish time
    offers: list[tuple[str, str, float]] = field(default_factory=list)  # job, machine key, arrival
    idle: dict[str, list[float]] = field(default_factory=dict)  # machine key -> times it said idle
    ended: dict[str, float] = field(default_factory=dict)  # job -> time its done was published
    published: int = 0


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _envelope(agent: Agent, kind: str, **fields: Any) -> bytes:
    agent.seq += 1
    body = {
        "schema": 1,
        "msg_id": secrets.token_hex(16),
        "sent_at": _now_iso(),
        "boot_seq": agent.boot_seq,
        "seq": agent.seq,
        "type": kind,
        **fields,
    }
    return json.dumps(body, separators=(",", ":")).encode()


class Fleet:
    """The simulated agents, their connections and their scheduler."""

    def __init__(self, plan: FleetPlan) -> None:
        self.plan = plan
        self.records = Records()
        self.agents = self._agents()
        self.clients = [self._client(i) for i in range(plan.connections)]
        self.offers: deque[tuple[str, dict[str, Any], float]] = deque()

    def _agents(self) -> dict[tuple[str, str], Agent]:
        plan, agents = self.plan, {}
        for lab in range(plan.fablabs):
            for n in range(plan.agents_per_fablab):
                # machine ids are unique within a fablab, whichever agent drives them
                machines = {f"a{n}m{k}": Machine(f"a{n}m{k}") for k in range(plan.machines_per_agent)}
                agent = Agent(f"lab-{lab}", f"agent-{n}", len(agents) % plan.connections, machines)
                agents[(agent.fablab, agent.id)] = agent
        return agents

    def _client(self, shard: int) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-{shard}-{secrets.token_hex(3)}")
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.on_message = self._on_message
        client.connect(self.plan.host, self.plan.port, keepalive=60)
        client.loop_start()
        return client

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        self.offers.append(((parts[3], parts[5]), json.loads(message.payload), time.time()))  # type: ignore[arg-type]

    # ---- the run -------------------------------------------------------------------------------

    def run(self) -> None:
        for agent in self.agents.values():
            self.clients[agent.shard].subscribe(agent.topic("commands"), qos=1)
        time.sleep(1.0)
        self._births()
        while time.time() < self.plan.stop_at:
            started = time.time()
            self._answer_offers(started)
            self._tick(started)
            time.sleep(max(0.0, TICK_S - (time.time() - started)))
        Path(self.plan.out).write_text(json.dumps(self.records.__dict__))
        for client in self.clients:
            client.disconnect()
            client.loop_stop()

    def _births(self) -> None:
        now = time.time()
        for agent in self.agents.values():
            machines = [
                {
                    "id": m.id,
                    "driver": "simulated",
                    "status": "idle",
                    "capabilities": CAPABILITIES,
                    "operator_confirm": False,
                }
                for m in agent.machines.values()
            ]
            birth = {
                "schema": 1,
                "msg_id": secrets.token_hex(16),
                "sent_at": _now_iso(),
                "boot_seq": 1,
                "seq": 0,
                "fablab": agent.fablab,
                "agent": agent.id,
                "online": True,
                "software": "fleet",
                "machines": machines,
            }
            self._publish(agent, "state", json.dumps(birth).encode(), retain=True)
            agent.next_heartbeat = now + random.uniform(0, self.plan.heartbeat_s)
            for machine in agent.machines.values():
                machine.next_status = now + random.uniform(0, self.plan.status_every_s)

    def _answer_offers(self, now: float) -> None:
        while self.offers:
            (fablab, agent_id), offer, arrived = self.offers.popleft()
            if offer.get("type") != "job:offer":
                continue
            agent = self.agents[(fablab, agent_id)]
            machine = agent.machines[offer["machine_id"]]
            self.records.offers.append((offer["job_id"], f"{fablab}/{agent_id}/{machine.id}", arrived))
            first = not self.records.ended and len(self.records.offers) <= self._machine_count()
            length = random.uniform(1.0, self.plan.job_s) if first else self.plan.job_s  # spread the ends
            machine.job = Job(
                offer["job_id"],
                offer["attempt_id"],
                now,
                now + length,
                now + random.uniform(0, self.plan.progress_every_s),
            )
            ids = {"job_id": offer["job_id"], "attempt_id": offer["attempt_id"], "machine_id": machine.id}
            self._publish(agent, "events", _envelope(agent, "job:accepted", **ids))
            self._set_status(agent, machine, "running", now)

    def _machine_count(self) -> int:
        return len(self.agents) * self.plan.machines_per_agent

    def _tick(self, now: float) -> None:
        for agent in self.agents.values():
            for machine in agent.machines.values():
                self._machine_tick(agent, machine, now)
            if now >= agent.next_heartbeat:
                agent.next_heartbeat = now + self.plan.heartbeat_s
                running = [
                    {
                        "job_id": m.job.job_id,
                        "attempt_id": m.job.attempt_id,
                        "progress": self._progress(m.job, now),
                    }
                    for m in agent.machines.values()
                    if m.job
                ]
                self._publish(agent, "events", _envelope(agent, "agent:heartbeat", jobs=running))

    def _machine_tick(self, agent: Agent, machine: Machine, now: float) -> None:
        job = machine.job
        if job is not None and now >= job.ends:
            ids = {"job_id": job.job_id, "attempt_id": job.attempt_id, "machine_id": machine.id}
            self._publish(
                agent, "events", _envelope(agent, "job:done", **ids, duration_s=round(now - job.started, 3))
            )
            self.records.ended[job.job_id] = now
            machine.job = None
            self._set_status(agent, machine, "idle", now)
        elif job is not None and now >= job.next_progress:
            job.next_progress = now + self.plan.progress_every_s
            progress = self._progress(job, now)
            ids = {"job_id": job.job_id, "attempt_id": job.attempt_id, "machine_id": machine.id}
            self._publish(
                agent,
                "events",
                _envelope(agent, "job:progress", **ids, progress=progress, eta_s=round(job.ends - now, 1)),
            )
            self.records.progress[f"{job.job_id}|{progress}"] = time.time()
        if now >= machine.next_status:
            self._set_status(agent, machine, machine.status, now)

    def _progress(self, job: Job, now: float) -> float:
        return round(min(0.999999, max(0.0, (now - job.started) / (job.ends - job.started))), 6)

    def _set_status(self, agent: Agent, machine: Machine, status: str, now: float) -> None:
        machine.status, machine.next_status = status, now + self.plan.status_every_s
        self._publish(
            agent, "events", _envelope(agent, "machine:status", machine_id=machine.id, status=status)
        )
        if status == "idle":
            self.records.idle.setdefault(f"{agent.fablab}/{agent.id}/{machine.id}", []).append(time.time())

    def _publish(self, agent: Agent, channel: str, payload: bytes, retain: bool = False) -> None:
        self.clients[agent.shard].publish(agent.topic(channel), payload, qos=1, retain=retain)
        self.records.published += 1


def run_fleet(plan: dict[str, Any]) -> None:
    """Process main: simulate the fleet until `stop_at`, then write what was seen to `out`."""
    Fleet(FleetPlan(**plan)).run()


# ---- the baseline: a subscriber that only receives ----------------------------------------------


def run_floor(host: str, port: int, stop_at: float, out: str) -> None:
    """Process main: note when each progress report reached a bare subscriber, until `stop_at`."""
    arrived: dict[str, float] = {}

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        at = time.time()
        body = json.loads(message.payload)
        if body.get("type") == "job:progress":
            arrived.setdefault(f"{body['job_id']}|{body['progress']}", at)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-floor-{secrets.token_hex(3)}")
    client.on_message = on_message
    client.connect(host, port, keepalive=60)
    client.subscribe(f"{ROOT}/fablabs/+/agents/+/events", qos=1)
    client.loop_start()
    while time.time() < stop_at:
        time.sleep(0.5)
    client.loop_stop()
    client.disconnect()
    Path(out).write_text(json.dumps(arrived))


# ---- dashboard viewers -------------------------------------------------------------------------

_EVENT_ID = re.compile(rb"(?m)^id: (\d+)$")


def _view(url: str, after: int, stop_at: float, seen: dict[int, float], errors: list[str]) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request("GET", f"/dashboard/events?after={after}", headers={"Accept": "text/event-stream"})
        response = connection.getresponse()
        pending = b""
        while time.time() < stop_at:
            chunk = response.read1(1 << 16)
            if not chunk:
                break
            arrived = time.time()
            pending += chunk
            cut = pending.rfind(b"\n\n") + 2
            for match in _EVENT_ID.finditer(pending, 0, cut):
                seen.setdefault(int(match.group(1)), arrived)
            pending = pending[cut:]
    except OSError as exc:
        errors.append(str(exc))
    finally:
        connection.close()


def run_viewers(url: str, count: int, after: int, stop_at: float, out: str) -> None:
    """Process main: `count` pages following the live stream until `stop_at`; what each saw, when."""
    seen: list[dict[int, float]] = [{} for _ in range(count)]
    errors: list[str] = []
    threads = [
        threading.Thread(target=_view, args=(url, after, stop_at, seen[i], errors), daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, stop_at - time.time() + 10))
    Path(out).write_text(
        json.dumps({"seen": [{str(k): v for k, v in s.items()} for s in seen], "errors": errors})
    )
