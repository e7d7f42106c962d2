"""Decode agent messages: topic -> (fablab, agent, channel), payload -> a validated protocol model.

A message that does not decode, or whose ids disagree with its topic, is logged and dropped; the
dispatcher carries on with the next one. What a message means is the job domain's business
(`coordinator.jobs.agents`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from coordinator.jobs.commands import AgentMessage
from protocol import payloads as p
from protocol.errors import InvalidInput
from protocol.topics import AgentChannel, parse_agent_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes


# the same few topics arrive over and over; a bad topic raises and is not cached
_parse_topic = lru_cache(maxsize=8192)(parse_agent_topic)


def decode(message: Incoming) -> AgentMessage | None:
    """Parse topic and payload; bad input is logged and dropped (None)."""
    try:
        address = _parse_topic(message.topic)
        decoded = DECODERS[address.channel](message.payload)
        if isinstance(decoded, p.AgentState):
            _same_ids(address.fablab, address.agent, decoded)
    except (InvalidInput, KeyError) as exc:
        log.warning("dropped message on %s: %s", message.topic, getattr(exc, "message", exc))
        return None
    return AgentMessage(address.fablab, address.agent, address.channel, decoded)


def _same_ids(fablab: str, agent: str, state: p.AgentState) -> None:
    if (state.fablab, state.agent) != (fablab, agent):
        raise InvalidInput(f"payload names {state.fablab}/{state.agent} but arrived on {fablab}/{agent}")


DECODERS: dict[AgentChannel, Callable[[bytes], Any]] = {
    "state": p.decode_agent_state,
    "events": p.decode_event,
}
