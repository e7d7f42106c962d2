"""A simulated machine: runs a job for its estimated duration, faster by a time scale."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from firmware_bridge.events import Event, Failed, Finished, Paused, Progress, Resumed, StreamState
from firmware_bridge.gcode import WORD, SourceLine
from protocol.errors import InvalidInput

DEFAULT_FEED = 1500.0  # mm/min, used until the file sets one
SECONDS_PER_COMMAND = 0.002  # a floor so files without moves still take some time


def estimate_duration(lines: Iterable[SourceLine]) -> float:
    """Estimate run time in seconds from straight-line moves, feed rates and dwells."""
    position = [0.0, 0.0, 0.0]
    absolute, feed, seconds = True, DEFAULT_FEED, 0.0
    for line in lines:
        words = dict(WORD.findall(line.text.upper()))
        code = line.text.split(None, 1)[0].upper()
        absolute = {"G90": True, "G91": False}.get(code, absolute)
        feed = float(words["F"]) if "F" in words and float(words["F"]) > 0 else feed
        seconds += SECONDS_PER_COMMAND
        if code in ("G0", "G1", "G00", "G01", "G2", "G3", "G02", "G03"):
            seconds += _move_time(words, position, absolute, feed)
        elif code in ("G4", "G04"):
            seconds += float(words.get("S", 0)) + float(words.get("P", 0)) / 1000.0
    return seconds


def _move_time(words: dict[str, str], position: list[float], absolute: bool, feed: float) -> float:
    squared = 0.0
    for axis, letter in enumerate("XYZ"):
        if letter in words:
            target = float(words[letter]) if absolute else position[axis] + float(words[letter])
            squared += (target - position[axis]) ** 2
            position[axis] = target
    return math.sqrt(squared) / (feed / 60.0)


@dataclass(frozen=True)
class Fault:
    """A failure injected when the job reaches `at_fraction`."""

    at_fraction: float
    reason: str = "injected failure"


class SimulatedJob:
    """Sans-io simulated run: call `advance(now)` and get progress or an outcome back."""

    def __init__(
        self, duration_s: float, total_bytes: int, scale: float = 1.0, fault: Fault | None = None
    ) -> None:
        if duration_s <= 0 or scale <= 0:
            raise InvalidInput("simulated job needs a positive duration and time scale")
        self.duration_s = duration_s
        self.total_bytes = total_bytes
        self.scale = scale
        self.fault = fault
        self.state = StreamState.STREAMING
        self._elapsed = 0.0
        self._last: float | None = None
        self._events: list[Event] = []

    @property
    def fraction(self) -> float:
        """Share of the job done, 0.0 to 1.0."""
        return min(1.0, self._elapsed / self.duration_s)

    def eta_s(self) -> float:
        """Wall-clock seconds left at the current scale."""
        return (self.duration_s - self._elapsed) / self.scale

    def advance(self, now: float) -> list[Event]:
        """Move simulated time forward to `now` and report what happened."""
        if self._last is not None and self.state is StreamState.STREAMING:
            self._elapsed += (now - self._last) * self.scale
            self._report()
        self._last = now
        events, self._events = self._events, []
        return events

    def _report(self) -> None:
        fraction = self.fraction
        if self.fault is not None and fraction >= self.fault.at_fraction:
            fraction = self.fault.at_fraction
            self._elapsed = fraction * self.duration_s
        done = int(self.total_bytes * fraction)
        self._events.append(Progress(done, self.total_bytes, 0, 0))
        if self.fault is not None and fraction >= self.fault.at_fraction:
            self.state = StreamState.FAILED
            self._events.append(Failed(self.fault.reason))
        elif fraction >= 1.0:
            self.state = StreamState.DONE
            self._events.append(Finished())

    def pause(self) -> None:
        """Freeze simulated time."""
        if self.state is StreamState.STREAMING:
            self.state = StreamState.PAUSED
            self._events.append(Paused())

    def resume(self) -> None:
        """Let simulated time run again."""
        if self.state is StreamState.PAUSED:
            self.state = StreamState.STREAMING
            self._events.append(Resumed())

    def cancel(self) -> None:
        """Stop the job at once."""
        if self.state in (StreamState.STREAMING, StreamState.PAUSED):
            self.state = StreamState.CANCELLED
            self._events.append(Finished(cancelled=True))
