"""The coordinator-agent wire contract: topics and payloads (see docs/protocol.md).

Imports nothing of the coordinator but errors, so agents can use it on their own.
"""

PROTOCOL_VERSION = 1
