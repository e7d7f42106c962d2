"""Resource usage over time as a step function, for schedule-generation schemes."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from coordinator.scheduling.model import Calendar

NEVER = 1 << 60


class Profile:
    """Load of one resource: loads[i] holds from times[i] to times[i + 1] (the last one forever)."""

    __slots__ = ("capacity", "times", "loads")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.times = [0]
        self.loads = [0]

    def blocked_until(self, start: int, duration: int, demand: int) -> int:
        """`start` if [start, start + duration) has room for `demand`, else the next start worth trying."""
        limit = self.capacity - demand
        times, loads = self.times, self.loads
        i = bisect_right(times, start) - 1
        end = start + duration
        retry = start
        count = len(times)
        while i < count and times[i] < end:
            if loads[i] > limit:
                retry = times[i + 1] if i + 1 < count else NEVER
            i += 1
        return retry

    def _split(self, time: int) -> int:
        i = bisect_left(self.times, time)
        if i == len(self.times) or self.times[i] != time:
            self.times.insert(i, time)
            self.loads.insert(i, self.loads[i - 1])
        return i

    def add(self, start: int, end: int, demand: int) -> None:
        """Hold `demand` units over [start, end)."""
        if end <= start:
            return
        first = self._split(start)
        last = self._split(end)
        loads = self.loads
        for i in range(first, last):
            loads[i] += demand


def next_allowed(calendar: Calendar | None, time: int) -> int:
    """Earliest start at or after `time` that the calendar allows (NEVER if none)."""
    if calendar is None:
        return time
    i = bisect_right(calendar, (time, NEVER)) - 1
    if i >= 0 and calendar[i][0] <= time < calendar[i][1]:
        return time
    return calendar[i + 1][0] if i + 1 < len(calendar) else NEVER


def earliest_start(
    profiles: list[Profile],
    demands: tuple[tuple[int, int], ...],
    duration: int,
    earliest: int,
    calendar: Calendar | None,
) -> int:
    """Earliest start >= `earliest` where every demand fits and the calendar allows it."""
    time = next_allowed(calendar, earliest)
    while time < NEVER:
        retry = time
        if duration > 0:
            for r, amount in demands:
                retry = max(retry, profiles[r].blocked_until(time, duration, amount))
        if retry == time:
            return time
        time = next_allowed(calendar, retry)
    return NEVER
