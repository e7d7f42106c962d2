"""Planning problem and schedule: plain, immutable data (see docs/scheduling.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

Window = tuple[int, int]
Calendar = tuple[Window, ...]


def _frozen_map(values: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class Resource:
    """A machine, bench or pool with an integer capacity."""

    id: str
    capacity: int = 1
    calendar: Calendar | None = None
    renewable: bool = True


@dataclass(frozen=True)
class Mode:
    """One way to run a task: a duration and the resources it holds."""

    duration: int
    demands: Mapping[str, int] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "demands", _frozen_map(self.demands))


@dataclass(frozen=True)
class Task:
    """A job to schedule in exactly one of its modes."""

    id: str
    modes: tuple[Mode, ...]
    release: int = 0
    due: int | None = None
    weight: int = 1
    calendar: Calendar | None = None


@dataclass(frozen=True)
class Precedence:
    """`after` starts once `before` has ended plus a lag (per mode of `before` if given)."""

    before: str
    after: str
    lag: int = 0
    mode_lags: tuple[int, ...] | None = None

    def lag_for(self, mode: int) -> int:
        """Lag when `before` runs in `mode`."""
        return self.mode_lags[mode] if self.mode_lags is not None else self.lag


@dataclass(frozen=True)
class FixedTask:
    """A task already running: pinned to a mode and a start."""

    id: str
    mode: int
    start: int


@dataclass(frozen=True)
class ScheduledTask:
    """Where and when one task runs."""

    id: str
    mode: int
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form, modes counted from 1."""
        return {"id": self.id, "mode": self.mode + 1, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Problem:
    """Everything a solver needs; `fixed` and `previous` are used when replanning."""

    resources: tuple[Resource, ...]
    tasks: tuple[Task, ...]
    precedences: tuple[Precedence, ...] = ()
    fixed: tuple[FixedTask, ...] = ()
    previous: tuple[ScheduledTask, ...] = ()
    name: str = ""


class ScheduleStatus(StrEnum):
    """How much a schedule is worth."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    HEURISTIC = "heuristic"


@dataclass(frozen=True)
class Schedule:
    """A solver's answer: one entry per task, in problem order."""

    makespan: int
    lower_bound: int
    status: ScheduleStatus
    tasks: tuple[ScheduledTask, ...]
    objective: int = 0
    policy: str = ""

    @property
    def gap(self) -> float:
        """Relative distance between makespan and lower bound."""
        if self.status is ScheduleStatus.OPTIMAL or self.makespan <= 0:
            return 0.0
        return max(0, self.makespan - self.lower_bound) / self.makespan

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of `peerfab plan --json`."""
        return {
            "makespan": self.makespan,
            "lower_bound": self.lower_bound,
            "status": str(self.status),
            "tasks": [task.to_dict() for task in self.tasks],
        }
