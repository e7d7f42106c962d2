"""The background planner answers at once and publishes better schedules as it finds them."""

from __future__ import annotations

from pathlib import Path

from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.model import Schedule, ScheduleStatus
from coordinator.scheduling.psplib import read_psplib
from coordinator.scheduling.runner import start_plan
from tests.unit.scheduling.samples import small_shop


def test_start_plan_returns_a_schedule_before_the_search_ends() -> None:
    problem = small_shop()
    published: list[Schedule] = []
    handle = start_plan(problem, time_limit=2.0, on_schedule=published.append)
    first = handle.best
    assert check_schedule(problem, first) == []
    final = handle.wait(5.0)
    assert handle.done
    assert final.objective <= first.objective
    assert published and published[0].status is ScheduleStatus.HEURISTIC
    assert all(b.objective < a.objective for a, b in zip(published, published[1:], strict=False))
    assert check_schedule(problem, final) == []


def test_cancel_stops_the_search_and_keeps_the_best(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j120" / "j12011_1.sm")
    handle = start_plan(problem, time_limit=60.0)
    handle.cancel()
    schedule = handle.wait(10.0)
    assert handle.done
    assert check_schedule(problem, schedule) == []
