"""The dispatcher: one worker thread turns agent messages and ticks into service calls.

paho's network thread only queues what arrives. The worker drains the queue in bursts; a burst
is one transaction in which every transition is still complete with its event row. If anything
in a burst fails, the burst is rolled back and its messages are replayed one per transaction,
so one bad message never takes others with it. Commands go out only after their commit.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from coordinator.db import session_scope
from coordinator.mqtt.embedded import EmbeddedBroker
from coordinator.mqtt.handlers import Incoming, handle_burst
from coordinator.mqtt.link import BrokerAddress, parse_mqtt_url
from coordinator.mqtt.network import NetworkProcess
from coordinator.runtime import Runtime
from coordinator.services import jobs
from coordinator.services.dispatch import DispatchPolicy, OfferSettings, dispatch_round
from coordinator.services.jobs import Effects
from coordinator.services.plan_dispatch import PlanPolicy
from coordinator.services.planner import Planner
from protocol import payloads as p
from protocol import topics

log = logging.getLogger(__name__)


class _Tick:
    """Marker: time for lease expiry, cancel resends and a dispatch round."""


TICK = _Tick()


class DispatchService:
    """Connects to the broker (or starts the embedded one) and runs the dispatcher threads."""

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
        lease_s = config.lease_s if lease_s is None else lease_s
        tick_s = config.tick_s if tick_s is None else tick_s
        self.policy: DispatchPolicy = policy or PlanPolicy()
        self.planner: Planner | None = (
            planner
            if planner is not None
            else Planner(time_limit_s=config.plan_time_limit_s, replan_every_s=config.replan_every_s)
        )
        self.offers = OfferSettings(lease_s=lease_s, files_url=_files_url(runtime))
        self.tick_s, self.burst = tick_s, burst
        self.reannounce_every_s, self.cancel_resend_s = reannounce_every_s, cancel_resend_s
        self.broker: EmbeddedBroker | None = None
        self.link: NetworkProcess | None = None
        self._inbox: queue.Queue[Incoming | _Tick] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reannounced: dict[tuple[str, str], float] = {}
        self._cancels_sent: dict[str, float] = {}
        self._round_wanted = True
        self._housekept_at = -math.inf
        self.stats = {"messages": 0, "bursts": 0, "fallbacks": 0, "offers": 0}

    # ---- life cycle ----------------------------------------------------------------------------

    def start(self, wait_s: float = 5.0) -> DispatchService:
        """Connect (starting the embedded broker when no URL is set) and start the threads."""
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
        self.runtime.services["dispatch"] = self
        return self

    def _broker_address(self) -> BrokerAddress:
        mqtt = self.runtime.settings.mqtt
        if mqtt.url:
            return parse_mqtt_url(mqtt.url)
        self.broker = EmbeddedBroker(mqtt.embedded_host, mqtt.embedded_port).start()
        return BrokerAddress(mqtt.embedded_host, mqtt.embedded_port)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the threads, announce offline, disconnect and stop the embedded broker."""
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
        if self.runtime.services.get("dispatch") is self:
            del self.runtime.services["dispatch"]

    def wake(self) -> None:
        """Ask for a dispatch round soon (new jobs, a cancelled job)."""
        self._round_wanted = True
        self._inbox.put(TICK)

    def send(self, fablab: str, agent: str, command: BaseModel) -> None:
        """Publish a command to one agent."""
        if self.link is None:
            raise RuntimeError("the dispatcher is not started")
        self.link.publish_many([_command_message(fablab, agent, command)])

    # ---- threads -------------------------------------------------------------------------------

    def _receive(self, topic: str, payload: bytes) -> None:
        self._inbox.put(Incoming(topic, payload))

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_s):
            self._round_wanted = True
            self._inbox.put(TICK)

    def _work(self) -> None:
        while not self._stop.is_set():
            burst = self._drain()
            messages = [m for m in burst if isinstance(m, Incoming)]
            effects = Effects()
            if messages:
                self._guarded(self._handle_burst, messages, effects)
            if effects.dispatch_needed or self._round_wanted:
                self._round_wanted = False
                self._guarded(self._round, effects)
            self._publish(effects)

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

    def _guarded(self, step: Callable[..., Any], *args: Any) -> None:
        try:
            step(*args)
        except Exception:  # noqa: BLE001 -- a failed step is logged; the dispatcher goes on
            log.exception("dispatcher step failed")

    # ---- units of work -------------------------------------------------------------------------

    def _handle_burst(self, messages: list[Incoming], effects: Effects) -> None:
        self.stats["messages"] += len(messages)
        self.stats["bursts"] += 1
        try:
            self._apply(messages, effects)
        except Exception:  # noqa: BLE001 -- replayed one by one below
            log.warning("burst of %d failed; replaying message by message", len(messages))
            self.stats["fallbacks"] += 1
            for message in messages:
                try:
                    self._apply([message], effects)
                except Exception:  # noqa: BLE001 -- this message alone is at fault
                    log.exception("dropped message on %s", message.topic)

    def _apply(self, messages: list[Incoming], effects: Effects) -> None:
        local = Effects()
        with session_scope(self.runtime.engine) as session:
            handle_burst(session, local, messages)
        _merge(effects, local)

    def _round(self, effects: Effects) -> None:
        """Offer queued jobs to idle machines; once a tick, expire leases, resend cancels and plan first."""
        local = Effects()
        with session_scope(self.runtime.engine) as session, session.no_autoflush:
            if self._housekeeping_due():
                jobs.expire_leases(session, local)
                self._resend_cancels(session, local)
                if self.planner is not None:
                    self.planner.tick(session)
            self.stats["offers"] += dispatch_round(session, self.policy, local, self.offers)
        _merge(effects, local)

    def _housekeeping_due(self) -> bool:
        """Whether a tick has passed since leases, cancels and the plan were last looked at.

        Under load a round follows every burst, many a second; none of the three needs noticing
        sooner than a tick, and together they cost the round about a sixth of its time.
        """
        now = time.monotonic()
        if now - self._housekept_at < self.tick_s:
            return False
        self._housekept_at = now
        return True

    def _resend_cancels(self, session: Any, effects: Effects) -> None:
        now = time.monotonic()
        pending = jobs.cancelling_attempts(session)
        live = {a.id for a in pending}
        self._cancels_sent = {k: t for k, t in self._cancels_sent.items() if k in live}
        for attempt in pending:
            if now - self._cancels_sent.get(attempt.id, 0.0) >= self.cancel_resend_s:
                self._cancels_sent[attempt.id] = now
                effects.send(attempt.fablab, attempt.agent, jobs.cancel_command(attempt.job_id, attempt.id))

    def _publish(self, effects: Effects) -> None:
        if self.link is None:
            return
        outgoing = list(effects.commands)
        now = time.monotonic()
        for (fablab, agent), reason in effects.reannounce.items():
            if now - self._reannounced.get((fablab, agent), -1e9) >= self.reannounce_every_s:
                self._reannounced[(fablab, agent)] = now
                outgoing.append((fablab, agent, p.Reannounce(reason=reason)))
        self.link.publish_many(
            [_command_message(fablab, agent, command) for fablab, agent, command in outgoing]
        )


def _command_message(fablab: str, agent: str, command: BaseModel) -> tuple[str, bytes, bool]:
    """(topic, payload, retain) of a command to one agent."""
    return topics.agent_topic(fablab, agent, "commands"), p.encode(command), False


def _merge(into: Effects, local: Effects) -> None:
    into.commands.extend(local.commands)
    into.reannounce.update(local.reannounce)
    into.dispatch_needed = into.dispatch_needed or local.dispatch_needed


def _files_url(runtime: Runtime) -> str:
    server = runtime.settings.server
    base = server.public_url or f"http://{server.host}:{server.port}"
    return f"{base.rstrip('/')}/api/v1/files"
