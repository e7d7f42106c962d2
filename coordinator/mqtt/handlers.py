"""Topic -> handler table: decode agent messages and hand them to the services.

A message that does not decode, or whose ids disagree with its topic, is logged and dropped;
the dispatcher carries on with the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlmodel import Session, col, select

from coordinator.db import one_of
from coordinator.models.jobs import JobEvent
from coordinator.services import jobs, machines
from coordinator.services.jobs import Effects, utcnow
from coordinator.services.machines import LinkCache, Order
from protocol import payloads as p
from protocol.errors import InvalidInput
from protocol.topics import AgentAddress, AgentChannel, parse_agent_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes


@dataclass(frozen=True)
class Decoded:
    """A message whose topic parsed and whose payload validated."""

    address: AgentAddress
    message: Any


@dataclass
class Context:
    """One unit of work over a burst of messages: a session, its agent links and its effects."""

    session: Session
    effects: Effects
    links: LinkCache
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def first_time(self, address: AgentAddress, msg_id: str) -> bool:
        key = (address.fablab, address.agent, msg_id)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def handle_burst(session: Session, effects: Effects, burst: Iterable[Incoming]) -> None:
    """Decode a burst, load what it touches in a few queries, then apply it in arrival order."""
    decoded = [d for d in (decode(m) for m in burst) if d is not None]
    ctx = Context(session=session, effects=effects, links=LinkCache(session))
    ctx.seen = _recorded_msg_ids(session, decoded)
    agents = {(d.address.fablab, d.address.agent) for d in decoded}
    # a birth or death queries its agent's jobs and machines through the ORM: then no records
    as_records = not any(d.address.channel == "state" for d in decoded)
    machines.prefetch(session, agents, _attempt_ids(decoded), as_records)
    with session.no_autoflush:  # one flush at commit: inserts and updates go out batched
        for item in decoded:
            apply(ctx, item)


def _attempt_ids(decoded: list[Decoded]) -> set[str]:
    """The attempts a burst's job events and heartbeats name."""
    ids: set[str] = set()
    for item in decoded:
        message = item.message
        if isinstance(message, p.Heartbeat):
            ids.update(entry.attempt_id for entry in message.jobs)
        elif hasattr(message, "attempt_id"):
            ids.add(message.attempt_id)
    return ids


# the same few topics arrive over and over; a bad topic raises and is not cached
_parse_topic = lru_cache(maxsize=8192)(parse_agent_topic)


def decode(message: Incoming) -> Decoded | None:
    """Parse topic and payload; bad input is logged and dropped."""
    try:
        address = _parse_topic(message.topic)
        return Decoded(address, DECODERS[address.channel](message.payload))
    except (InvalidInput, KeyError) as exc:
        log.warning("dropped message on %s: %s", message.topic, exc)
        return None


def apply(ctx: Context, item: Decoded) -> None:
    """Hand one decoded message to its handler; a payload naming another agent is dropped."""
    try:
        HANDLERS[item.address.channel](ctx, item.address, item.message)
    except InvalidInput as exc:
        log.warning("dropped message from %s/%s: %s", item.address.fablab, item.address.agent, exc)


def _recorded_msg_ids(session: Session, decoded: list[Decoded]) -> set[tuple[str, str, str]]:
    """Message ids of this burst that already have an event row (a replayed journal entry)."""
    ids = [d.message.msg_id for d in decoded if d.address.channel == "events"]
    if not ids:
        return set()
    # uq_job_event_msg_source leads with msg_id: without it this scanned every event row ever written
    seen = one_of(session, col(JobEvent.msg_id), ids)
    query = select(JobEvent.fablab, JobEvent.agent, JobEvent.msg_id).where(seen)
    return {(f, a, m) for f, a, m in session.exec(query).all() if f and a and m}


def on_agent_state(ctx: Context, address: AgentAddress, state: p.AgentState) -> None:
    """Birth or death of an agent."""
    _same_ids(address, state.fablab, state.agent)
    link = ctx.links.get(address.fablab, address.agent)
    if not state.online:
        if state.boot_seq >= link.boot_seq:
            machines.record_death(ctx.session, link)
        return
    verdict = machines.check_birth_order(link, state)
    if verdict in machines.PROCESS:
        machines.record_birth(ctx.session, link, state, ctx.effects)
    else:
        log.info("%s/%s: %s birth ignored", address.fablab, address.agent, verdict)


def on_agent_event(ctx: Context, address: AgentAddress, event: Any) -> None:
    """One agent event: order check, duplicate check, then the service that applies it."""
    link = ctx.links.get(address.fablab, address.agent)
    verdict = machines.check_event_order(link, event.boot_seq, event.seq)
    if verdict in (Order.DUPLICATE, Order.STALE):
        log.debug("%s/%s: %s %s seq %s", address.fablab, address.agent, verdict, event.type, event.seq)
        return
    if verdict in (Order.GAP, Order.NEW_BOOT):
        ctx.effects.reannounce[(address.fablab, address.agent)] = f"{verdict} at seq {event.seq}"
    link.last_seen = utcnow()
    if not ctx.first_time(address, event.msg_id):
        return
    EVENT_HANDLERS[event.type](ctx, address, event)


def _same_ids(address: AgentAddress, fablab: str, agent: str) -> None:
    if (fablab, agent) != (address.fablab, address.agent):
        raise InvalidInput(f"payload names {fablab}/{agent} but arrived on {address.fablab}/{address.agent}")


def _job_event(ctx: Context, address: AgentAddress, event: Any) -> None:
    outcome = jobs.apply_job_event(ctx.session, address.fablab, address.agent, event, ctx.effects)
    if outcome != "applied":
        log.info("%s/%s: %s %s was %s", address.fablab, address.agent, event.type, event.job_id, outcome)


def _status(ctx: Context, address: AgentAddress, event: p.MachineStatusEvent) -> None:
    if machines.record_status(ctx.session, address.fablab, address.agent, event):
        ctx.effects.dispatch_needed = True


def _heartbeat(ctx: Context, address: AgentAddress, event: p.Heartbeat) -> None:
    jobs.apply_heartbeat(ctx.session, address.fablab, address.agent, event, ctx.effects)


DECODERS: dict[AgentChannel, Callable[[bytes], Any]] = {
    "state": p.decode_agent_state,
    "events": p.decode_event,
}

HANDLERS: dict[AgentChannel, Callable[[Context, AgentAddress, Any], None]] = {
    "state": on_agent_state,
    "events": on_agent_event,
}

EVENT_HANDLERS: dict[str, Callable[[Context, AgentAddress, Any], None]] = {
    **{name: _job_event for name in jobs.EVENT_TRIGGERS},
    "machine:status": _status,
    "agent:heartbeat": _heartbeat,
}
