"""Every policy returns feasible schedules; the good ones find the optima we can reason about."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.generator import generate
from coordinator.scheduling.model import Problem, ScheduleStatus
from coordinator.scheduling.psplib import read_psplib
from coordinator.scheduling.runner import POLICIES, plan
from tests.unit.scheduling.samples import machine_choice, opening_hours, small_shop, transport

PROBLEMS = {
    "machine_choice": machine_choice,
    "transport": transport,
    "opening_hours": opening_hours,
    "small_shop": small_shop,
    "generated": lambda: generate(7, fablabs=5, machines=20, designs=2, builds=2, parts=(4, 8)),
}


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_policy_gives_a_feasible_schedule(name: str, policy: str) -> None:
    problem: Problem = PROBLEMS[name]()
    schedule = plan(problem, policy, time_limit=1.0)
    assert check_schedule(problem, schedule) == []
    assert [t.id for t in schedule.tasks] == [t.id for t in problem.tasks]
    assert 0 <= schedule.gap <= 1


def test_fifo_takes_the_first_free_machine_the_others_the_fast_one() -> None:
    assert plan(machine_choice(), "fifo").makespan == 10
    for policy in ("lst", "cpsat"):
        schedule = plan(machine_choice(), policy, time_limit=1.0)
        assert schedule.makespan == 3 and schedule.tasks[0].mode == 1


def test_transport_time_decides_the_machine() -> None:
    for policy in ("lst", "cpsat"):
        schedule = plan(transport(), policy, time_limit=1.0)
        assert schedule.tasks[0].mode == 0
        assert schedule.makespan == 9


def test_jobs_may_run_past_closing_but_start_only_when_open() -> None:
    schedule = plan(opening_hours(), "cpsat", time_limit=2.0)
    assert schedule.makespan == 25
    assert schedule.status is ScheduleStatus.OPTIMAL
    assert schedule.lower_bound == 25


def test_multi_mode_budget_optimum(multi_mode_file: Path) -> None:
    problem = read_psplib(multi_mode_file)
    schedule = plan(problem, "cpsat", time_limit=2.0)
    assert schedule.makespan == 7
    assert sorted(t.mode for t in schedule.tasks[1:3]) == [0, 1]
    assert check_schedule(problem, schedule) == []


def test_j301_1_reaches_its_optimum(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j30" / "j301_1.sm")
    schedule = plan(problem, "cpsat", time_limit=5.0)
    assert schedule.makespan == 43
    assert check_schedule(problem, schedule) == []
    assert plan(problem, "fifo").makespan > 43


def test_unknown_policy_is_invalid_input() -> None:
    from protocol.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown policy"):
        plan(transport(), "fastest")


def test_an_empty_problem_has_an_empty_plan() -> None:
    schedule = plan(Problem((), ()), "cpsat", time_limit=1.0)
    assert (schedule.makespan, schedule.tasks, schedule.status) == (0, (), ScheduleStatus.OPTIMAL)
