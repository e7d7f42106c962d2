"""Build and parse every MQTT topic of the protocol; no other module writes topic strings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from protocol.errors import InvalidInput

ROOT = "peerfab/v1"
COORDINATOR_STATE = f"{ROOT}/coordinator/state"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

AgentChannel = Literal["state", "events", "commands"]
CHANNELS: tuple[AgentChannel, ...] = ("state", "events", "commands")


def validate_id(value: str, what: str = "id") -> str:
    """Return `value` if it is a valid fablab/agent/machine id, else raise InvalidInput naming it."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise InvalidInput(
            f"invalid {what} {value!r}: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def agent_topic(fablab: str, agent: str, channel: AgentChannel) -> str:
    validate_id(fablab, "fablab id")
    validate_id(agent, "agent id")
    return f"{ROOT}/fablabs/{fablab}/agents/{agent}/{channel}"


def agent_prefix(fablab: str, agent: str) -> str:
    """The topic prefix an agent may publish under (used for ACLs)."""
    return f"{ROOT}/fablabs/{validate_id(fablab, 'fablab id')}/agents/{validate_id(agent, 'agent id')}"


def all_agents(channel: AgentChannel) -> str:
    """Subscription filter for one channel of every agent."""
    return f"{ROOT}/fablabs/+/agents/+/{channel}"


@dataclass(frozen=True)
class AgentAddress:
    fablab: str
    agent: str
    channel: AgentChannel


def parse_agent_topic(topic: str) -> AgentAddress:
    """Split an agent topic into its parts; raise InvalidInput for anything else."""
    parts = topic.split("/")
    if (
        len(parts) != 7
        or "/".join(parts[:2]) != ROOT
        or parts[2] != "fablabs"
        or parts[4] != "agents"
        or parts[6] not in CHANNELS
    ):
        raise InvalidInput(f"not a peerfab agent topic: {topic!r}")
    channel: AgentChannel = parts[6]  # type: ignore[assignment]
    return AgentAddress(validate_id(parts[3], "fablab id"), validate_id(parts[5], "agent id"), channel)
