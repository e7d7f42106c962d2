"""Stall watchdog: a machine that keeps answering but stops making progress fails the job.

Silence is caught by each engine's answer timeout; this catches the other way a job hangs: the
machine (or the host in front of it) stays chatty, sending `busy:` keep-alives, status reports
or an unchanged job state, while nothing moves on. Sans-io like the engines: time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

TEMPERATURE_STEP = 1.0  # °C a heater must move for a heat wait to count as progress
POSITION_STEP = 0.001  # mm an axis must move to count as progress


class StallWatchdog:
    """Counts seconds without progress; `stall_s` of None or 0 switches it off."""

    def __init__(self, stall_s: float | None) -> None:
        self.stall_s = stall_s if stall_s else None
        self._last_progress: float | None = None
        self._held = False
        self._temperatures: dict[str, float] = {}
        self._position: tuple[float, ...] | None = None

    def progressed(self, now: float) -> None:
        """Record real progress: a line acknowledged, a new file position, a finished wait."""
        self._last_progress = now

    def hold(self, held: bool, now: float) -> None:
        """Stop counting while the job is paused on purpose; counting restarts from `now`."""
        if self._held and not held:
            self._last_progress = now
        self._held = held

    def temperatures(self, readings: Mapping[str, tuple[float, float | None]], now: float) -> None:
        """A heater that moved by TEMPERATURE_STEP since the last mark is progress (heat waits)."""
        moved = False
        for name, (actual, _target) in readings.items():
            reference = self._temperatures.get(name)
            if reference is None or abs(actual - reference) >= TEMPERATURE_STEP:
                self._temperatures[name] = actual
                moved = moved or reference is not None
        if moved:
            self.progressed(now)

    def position(self, axes: Sequence[float], now: float) -> None:
        """A change of machine position is progress (a long move acknowledged long ago)."""
        current = tuple(axes)
        previous, self._position = self._position, current
        if previous is None or len(previous) != len(current):
            return
        if any(abs(a - b) >= POSITION_STEP for a, b in zip(previous, current, strict=True)):
            self.progressed(now)

    def stalled_for(self, now: float) -> float | None:
        """Seconds without progress when that exceeds `stall_s`, else None."""
        if self.stall_s is None or self._held:
            return None
        if self._last_progress is None:
            self._last_progress = now  # counting starts at the first check
            return None
        idle = now - self._last_progress
        return idle if idle > self.stall_s else None
