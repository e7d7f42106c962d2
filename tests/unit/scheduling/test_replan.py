"""Replanning: running jobs stay pinned, other jobs keep their machine when it costs nothing."""

from __future__ import annotations

import pytest

from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.model import FixedTask, Mode, Problem, Resource, ScheduledTask, Task
from coordinator.scheduling.runner import plan, replan
from protocol.errors import InvalidInput
from tests.unit.scheduling.samples import small_shop


def twin_machines() -> Problem:
    """Two identical printers and three equal jobs."""
    resources = (Resource("a"), Resource("b"))
    modes = (Mode(5, {"a": 1}, "a"), Mode(5, {"b": 1}, "b"))
    return Problem(resources, tuple(Task(f"j{k}", modes) for k in range(3)))


@pytest.mark.parametrize("policy", ["lst", "cpsat"])
def test_fixed_tasks_keep_machine_and_start(policy: str) -> None:
    problem = small_shop()
    first = plan(problem, policy, time_limit=1.0)
    pinned = [FixedTask("p3", 0, 3), FixedTask("p5", 1, 5)]
    again = replan(problem, first, pinned, policy=policy, time_limit=1.0)
    by_id = {t.id: t for t in again.tasks}
    assert (by_id["p3"].mode, by_id["p3"].start) == (0, 3)
    assert (by_id["p5"].mode, by_id["p5"].start) == (1, 5)
    assert check_schedule(problem, again) == []


@pytest.mark.parametrize("policy", ["lst", "cpsat"])
def test_previous_machines_are_preferred(policy: str) -> None:
    previous = [
        ScheduledTask("j0", 1, 0, 5),
        ScheduledTask("j1", 0, 0, 5),
        ScheduledTask("j2", 1, 5, 10),
    ]
    again = replan(twin_machines(), previous, policy=policy, time_limit=1.0)
    assert [t.mode for t in again.tasks] == [1, 0, 1]
    assert again.makespan == 10


def test_fixed_task_behind_a_free_task_is_rejected() -> None:
    from coordinator.scheduling.model import Precedence

    problem = Problem(
        twin_machines().resources,
        twin_machines().tasks,
        (Precedence("j0", "j1"),),
    )
    with pytest.raises(InvalidInput, match="predecessor j0 is not fixed"):
        replan(problem, [], [FixedTask("j1", 0, 0)], policy="lst")
