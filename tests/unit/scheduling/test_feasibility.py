"""The feasibility checker catches each kind of violation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.model import (
    FixedTask,
    Schedule,
    ScheduledTask,
    ScheduleStatus,
)
from coordinator.scheduling.psplib import read_psplib
from tests.unit.scheduling.samples import opening_hours, transport


def _schedule(*tasks: ScheduledTask, lower: int = 0) -> Schedule:
    makespan = max(t.end for t in tasks)
    return Schedule(makespan, lower, ScheduleStatus.HEURISTIC, tasks)


def test_accepts_a_feasible_schedule() -> None:
    good = _schedule(ScheduledTask("part", 0, 0, 5), ScheduledTask("assembly", 0, 5, 9))
    assert check_schedule(transport(), good) == []


def test_lag_of_the_chosen_mode_counts() -> None:
    early = _schedule(ScheduledTask("part", 1, 0, 2), ScheduledTask("assembly", 0, 5, 9))
    errors = check_schedule(transport(), early)
    assert errors and "before part ends plus lag (12)" in errors[0]


def test_capacity_start_windows_and_durations() -> None:
    problem = opening_hours()
    overlap = _schedule(ScheduledTask("long", 0, 0, 20), ScheduledTask("short", 0, 5, 10))
    assert any("exceeds capacity" in e for e in check_schedule(problem, overlap))
    closed = _schedule(ScheduledTask("long", 0, 0, 20), ScheduledTask("short", 0, 20, 25))
    assert any("outside its start windows" in e for e in check_schedule(problem, closed))
    short = _schedule(ScheduledTask("long", 0, 0, 19), ScheduledTask("short", 0, 100, 105))
    assert any("end 19 != start 0 + duration 20" in e for e in check_schedule(problem, short))


def test_release_fixed_tasks_missing_tasks_and_bounds() -> None:
    base = opening_hours()
    late = dataclasses.replace(
        base,
        tasks=(dataclasses.replace(base.tasks[0], release=3), base.tasks[1]),
        fixed=(FixedTask("short", 0, 100),),
    )
    schedule = _schedule(ScheduledTask("long", 0, 0, 20), ScheduledTask("short", 0, 0, 5), lower=30)
    errors = check_schedule(late, schedule)
    assert any("before its release 3" in e for e in errors)
    assert any("fixed at mode 1, start 100" in e for e in errors)
    assert any("lower bound 30 exceeds makespan" in e for e in errors)
    assert check_schedule(base, _schedule(ScheduledTask("long", 0, 0, 20))) == ["task short is not scheduled"]


def test_budgets_of_non_renewable_resources(multi_mode_file: Path) -> None:
    problem = read_psplib(multi_mode_file)
    both_fast = _schedule(
        ScheduledTask("1", 0, 0, 0),
        ScheduledTask("2", 0, 0, 2),
        ScheduledTask("3", 0, 2, 4),
        ScheduledTask("4", 0, 4, 4),
    )
    assert check_schedule(problem, both_fast) == ["resource N1: 6 used, budget 4"]
