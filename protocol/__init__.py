"""The coordinator-agent wire contract: topics, payloads and errors (see docs/protocol.md).

Imported by the coordinator, the agent and the firmware bridge; it imports none of them, and needs only
pydantic, so an agent installs without the coordinator's libraries.
"""

PROTOCOL_VERSION = 1
