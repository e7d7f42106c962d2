"""The fablab agent: drives a lab's machines for the coordinator over MQTT (see docs/agent.md)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _version() -> str:
    try:
        return version("peerfab")
    except PackageNotFoundError:
        return "0.0.0"


SOFTWARE = f"peerfab-agent {_version()}"
