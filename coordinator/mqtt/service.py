"""The dispatcher: the coordinator's MQTT door onto the job domain, and the agents' transport.

paho runs in a child process (`network.py`) and only queues what arrives. One worker thread turns
what is queued into commands for the bus: bursts of agent messages (`AgentMessages`), and once a
tick the housekeeping (leases, cancels resent, the plan) and a dispatch round. If a burst fails, it
is replayed one message per unit of work, so one bad message never takes others with it. Commands
to agents go out only after their unit of work committed: the bus's outbox hands them here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from coordinator.jobs.commands import AgentMessage, AgentMessages, DispatchRound, Housekeeping, RestartLeases
from coordinator.jobs.dispatch import DispatchPolicy, OfferSettings, dispatch_policy
from coordinator.jobs.lifecycle import cancel_command
from coordinator.jobs.rows import AttemptSnap, Outgoing
from coordinator.mqtt.embedded import EmbeddedBroker
from coordinator.mqtt.handlers import Incoming, decode
from coordinator.mqtt.link import BrokerAddress, parse_mqtt_url
from coordinator.mqtt.network import NetworkProcess
from coordinator.runtime import Runtime
from coordinator.services.planner import Planner
from protocol import payloads as p
from protocol import topics

log = logging.getLogger(__name__)


class _Tick:
    """Marker: time for housekeeping and a dispatch round."""


TICK = _Tick()


class DispatchService:
    """Connects to the broker (or starts the embedded one) and runs the dispatcher's threads."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        policy: DispatchPolicy | None = None,
        planner: Planner | None = None,
        lease_s: float | None = None,
        tick_s: float | None = None,
        burst: int = 500,
        reannounce_every_s: float = 5.0,
        cancel_resend_s: float = 10.0,
    ) -> None:
        self.runtime = runtime
        config = runtime.settings.dispatch
        self.lease_s = config.lease_s if lease_s is None else lease_s
        self.tick_s = config.tick_s if tick_s is None else tick_s
        self.policy: DispatchPolicy = policy or dispatch_policy(runtime.settings)
        self.planner: Planner | None = (
            planner
            if planner is not None
            else Planner(
                time_limit_s=config.plan_time_limit_s,
                replan_every_s=config.replan_every_s,
                learn_every_s=config.learn_every_s,
            )
        )
        self.burst = burst
        self.reannounce_every_s, self.cancel_resend_s = reannounce_every_s, cancel_resend_s
        self.broker: EmbeddedBroker | None = None
        self.link: NetworkProcess | None = None
        self._inbox: queue.Queue[Incoming | _Tick] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reannounced: dict[tuple[str, str], float] = {}
        self._cancels_sent: dict[str, float] = {}
        self._round_wanted = True
        self._housekeeping_due = True
        self._connections_seen = 0
        self.stats = {"messages": 0, "bursts": 0, "fallbacks": 0, "offers": 0, "lease_restarts": 0}
        self.timings = StepTimings()  # where the worker's time goes: what a fleet's lag is made of

    # ---- life cycle ----------------------------------------------------------------------------

    def start(self, wait_s: float = 5.0) -> DispatchService:
        """Connect (starting the embedded broker when no URL is set) and start the threads."""
        deps = self.runtime.bus.deps
        deps.policy, deps.planner = self.policy, self.planner
        deps.offers = OfferSettings(lease_s=self.lease_s, files_url=_files_url(self.runtime))
        self.link = NetworkProcess(
            self._broker_address(),
            self.runtime.settings.mqtt.client_id,
            self._receive,
            self.runtime.settings.mqtt.keepalive_s,
        )
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._work, name="dispatch-worker", daemon=True),
            threading.Thread(target=self._tick, name="dispatch-ticker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        if not self.link.start(wait_s):
            log.warning("broker not reachable yet; retrying in the background")
        self.runtime.outbox.transport = self
        self.runtime.dispatcher = self
        return self

    def _broker_address(self) -> BrokerAddress:
        mqtt = self.runtime.settings.mqtt
        if mqtt.url:
            return parse_mqtt_url(mqtt.url)
        self.broker = EmbeddedBroker(mqtt.embedded_host, mqtt.embedded_port).start()
        return BrokerAddress(mqtt.embedded_host, mqtt.embedded_port)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the threads, announce offline, disconnect and stop the embedded broker."""
        self._detach()
        self._stop.set()
        if self.planner is not None:
            self.planner.stop()
        self._inbox.put(TICK)
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []
        if self.link is not None:
            self.link.stop()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def kill(self) -> None:
        """Crash on purpose (a power cut, in fault tests): no goodbye, the broker keeps our session."""
        self._detach()
        self._stop.set()
        if self.link is not None:
            self.link.kill()
        self._inbox.put(TICK)
        for thread in self._threads:
            thread.join(5.0)
        if self.planner is not None:
            self.planner.stop()

    def _detach(self) -> None:
        if self.runtime.outbox.transport is self:
            self.runtime.outbox.transport = None
        if self.runtime.dispatcher is self:
            self.runtime.dispatcher = None

    # ---- the transport the outbox uses ---------------------------------------------------------

    def send(self, commands: list[Outgoing], reannounce: dict[tuple[str, str], str]) -> None:
        """Publish commands to agents; a re-announcement is asked of an agent at most every few seconds."""
        if self.link is None:
            return
        outgoing = list(commands)
        now = time.monotonic()
        for (fablab, agent), reason in reannounce.items():
            if now - self._reannounced.get((fablab, agent), -1e9) >= self.reannounce_every_s:
                self._reannounced[(fablab, agent)] = now
                outgoing.append(Outgoing(fablab, agent, p.Reannounce(reason=reason)))
        self.link.publish_many([_command_message(item) for item in outgoing])

    def wake(self) -> None:
        """Ask for a dispatch round soon (new jobs, a machine freed, a job back in the queue)."""
        self._round_wanted = True
        self._inbox.put(TICK)

    def replan(self) -> None:
        if self.planner is not None:
            self.planner.work_changed()

    # ---- threads -------------------------------------------------------------------------------

    def _receive(self, topic: str, payload: bytes) -> None:
        self._inbox.put(Incoming(topic, payload))

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_s):
            self._housekeeping_due = True
            self._round_wanted = True
            self._inbox.put(TICK)

    def _work(self) -> None:
        while not self._stop.is_set():
            burst = self._drain()
            messages = [m for m in burst if isinstance(m, Incoming)]
            if messages:
                self._guarded("burst", self._handle_burst, messages)
            if self._housekeeping_due:
                self._housekeeping_due = False
                self._guarded("housekeeping", self._housekeeping)
            if self._round_wanted:
                self._round_wanted = False
                self._guarded("round", self._round)

    def _drain(self) -> list[Incoming | _Tick]:
        try:
            items: list[Incoming | _Tick] = [self._inbox.get(timeout=self.tick_s)]
        except queue.Empty:
            return []
        while len(items) < self.burst:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return items

    def _guarded(self, name: str, step: Callable[..., Any], *args: Any) -> None:
        started = time.perf_counter()
        try:
            step(*args)
        except Exception:  # noqa: BLE001 -- a failed step is logged; the dispatcher goes on
            log.exception("dispatcher step %s failed", name)
        finally:
            self.timings.add(name, time.perf_counter() - started)

    # ---- commands ------------------------------------------------------------------------------

    def _handle_burst(self, incoming: list[Incoming]) -> None:
        messages = tuple(m for m in (decode(item) for item in incoming) if m is not None)
        self.stats["messages"] += len(incoming)
        self.stats["bursts"] += 1
        if not messages:
            return
        try:
            self.runtime.bus.handle(AgentMessages(messages))
        except Exception:  # noqa: BLE001 -- replayed one by one below
            log.warning("burst of %d failed; replaying message by message", len(messages), exc_info=True)
            self.stats["fallbacks"] += 1
            for message in messages:
                self._handle_one(message)

    def _handle_one(self, message: AgentMessage) -> None:
        try:
            self.runtime.bus.handle(AgentMessages((message,)))
        except Exception:  # noqa: BLE001 -- this message alone is at fault
            log.exception("dropped message from %s/%s", message.fablab, message.agent)

    def _housekeeping(self) -> None:
        """Restart leases when the link came back; expire leases only while it is up; resend cancels."""
        link = self.link
        connected = link is not None and link.connected
        if link is not None and link.connections != self._connections_seen and connected:
            self._connections_seen = link.connections
            self.stats["lease_restarts"] += self.runtime.bus.handle(RestartLeases())
        cancelling = self.runtime.bus.handle(Housekeeping(expire_leases=connected))
        self._resend_cancels(cancelling)

    def _round(self) -> None:
        self.stats["offers"] += self.runtime.bus.handle(DispatchRound())

    def _resend_cancels(self, pending: list[AttemptSnap]) -> None:
        now = time.monotonic()
        live = {a.id for a in pending}
        self._cancels_sent = {k: t for k, t in self._cancels_sent.items() if k in live}
        due = []
        for attempt in pending:
            if now - self._cancels_sent.get(attempt.id, 0.0) >= self.cancel_resend_s:
                self._cancels_sent[attempt.id] = now
                due.append(
                    Outgoing(attempt.fablab, attempt.agent, cancel_command(attempt.job_id, attempt.id))
                )
        if due:
            self.send(due, {})


class StepTimings:
    """Seconds the dispatcher's worker spent in each kind of step: total, count and slowest."""

    def __init__(self) -> None:
        self._steps: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float) -> None:
        total, count, slowest = self._steps.get(name, [0.0, 0, 0.0])
        self._steps[name] = [total + seconds, count + 1, max(slowest, seconds)]

    def report(self) -> dict[str, dict[str, float]]:
        """Per step: `total_s`, `count`, `mean_s` and `max_s`."""
        return {
            name: {"total_s": round(total, 3), "count": count, "mean_s": round(total / count, 4),
                   "max_s": round(slowest, 3)}
            for name, (total, count, slowest) in self._steps.items()
        }  # fmt: skip


def _command_message(item: Outgoing) -> tuple[str, bytes, bool]:
    """(topic, payload, retain) of a command to one agent."""
    return topics.agent_topic(item.fablab, item.agent, "commands"), p.encode(item.command), False


def _files_url(runtime: Runtime) -> str:
    server = runtime.settings.server
    base = server.public_url or f"http://{server.host}:{server.port}"
    return f"{base.rstrip('/')}/api/v1/files"
