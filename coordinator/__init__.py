"""The peerfab coordinator: design registry, builds, planning and dispatch."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy, so that agents can import protocol without pulling in Flask.
    if name == "create_app":
        from coordinator.app import create_app

        return create_app
    raise AttributeError(name)
