"""Events the protocol engines emit; the transports and drivers turn them into callbacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class StreamState(StrEnum):
    """Where a streaming job stands; the last four are terminal."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL_STATES = frozenset({StreamState.DONE, StreamState.CANCELLED, StreamState.FAILED})


@dataclass(frozen=True)
class Progress:
    """Share of the job the machine has acknowledged."""

    bytes_done: int
    bytes_total: int
    lines_done: int
    lines_total: int

    @property
    def fraction(self) -> float:
        """Acknowledged share of the job's bytes, 0.0 to 1.0."""
        return self.bytes_done / self.bytes_total if self.bytes_total else 1.0


@dataclass(frozen=True)
class Temperatures:
    """Heater readings from a temperature report: name -> (actual, target or None)."""

    readings: dict[str, tuple[float, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class MachineMessage:
    """A line the firmware printed for humans (echo:, [MSG:], //)."""

    text: str


@dataclass(frozen=True)
class MachineWarning:
    """Something the operator should know that does not stop the job (an unknown command, an SD error).

    `line` is the 1-based line of the job file when one is to blame.
    """

    message: str
    line: int | None = None


@dataclass(frozen=True)
class Paused:
    """The machine has stopped taking new lines after a pause request."""


@dataclass(frozen=True)
class Resumed:
    """Streaming goes on after a pause."""


@dataclass(frozen=True)
class Finished:
    """Every line was acknowledged (or, when cancelled, the safe stop sequence was)."""

    cancelled: bool = False


@dataclass(frozen=True)
class Failed:
    """The job cannot go on; `line` is the 1-based line of the job file when one is to blame."""

    reason: str
    line: int | None = None


Event = Progress | Temperatures | MachineMessage | MachineWarning | Paused | Resumed | Finished | Failed
