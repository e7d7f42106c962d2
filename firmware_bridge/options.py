"""Typed, bounded reading of a driver's config options; an option nobody reads is an error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.errors import InvalidInput

_MISSING = object()


class Options:
    """Reads options out of a config mapping; call `finish()` once every option has been read."""

    def __init__(self, values: Mapping[str, Any], owner: str) -> None:
        self._values = dict(values)
        self._read: set[str] = set()
        self._owner = owner

    def _take(self, name: str, default: Any) -> Any:
        self._read.add(name)
        value = self._values.get(name, default)
        if value is _MISSING:
            raise InvalidInput(f"{self._owner}: option '{name}' is required")
        return value

    def get_float(
        self, name: str, default: Any = _MISSING, low: float | None = None, high: float | None = None
    ) -> float:
        """Read a number within [low, high]."""
        value = self._take(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{self._owner}: option '{name}' must be a number, got {value!r}")
        return float(self._bounded(name, value, low, high))

    def get_optional_float(
        self, name: str, low: float | None = None, high: float | None = None
    ) -> float | None:
        """Read a number within [low, high], or None when absent."""
        if self._values.get(name) is None:
            self._read.add(name)
            return None
        return self.get_float(name, low=low, high=high)

    def get_int(
        self, name: str, default: Any = _MISSING, low: int | None = None, high: int | None = None
    ) -> int:
        """Read an integer within [low, high]."""
        value = self._take(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{self._owner}: option '{name}' must be an integer, got {value!r}")
        return int(self._bounded(name, value, low, high))

    def get_bool(self, name: str, default: Any = _MISSING) -> bool:
        """Read true or false."""
        value = self._take(name, default)
        if not isinstance(value, bool):
            raise InvalidInput(f"{self._owner}: option '{name}' must be true or false, got {value!r}")
        return value

    def get_str(self, name: str, default: Any = _MISSING) -> str:
        """Read a non-empty string."""
        value = self._take(name, default)
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"{self._owner}: option '{name}' must be a non-empty string")
        return value

    def get_optional_str(self, name: str) -> str | None:
        """Read a string, or None when absent."""
        if self._values.get(name) is None:
            self._read.add(name)
            return None
        return self.get_str(name)

    def _bounded(self, name: str, value: float, low: float | None, high: float | None) -> float:
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvalidInput(f"{self._owner}: option '{name}' = {value} is outside {low}..{high}")
        return value

    def finish(self) -> None:
        """Fail on any option that was never read: it is a typo or belongs elsewhere."""
        unknown = sorted(set(self._values) - self._read)
        if unknown:
            raise InvalidInput(f"{self._owner}: unknown option(s) {', '.join(unknown)}")
