"""Non-renewable budgets: a choice of modes that fits them keeps every later task schedulable."""

from __future__ import annotations

import pytest

from coordinator.scheduling.budgets import reference_modes
from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.model import Mode, Precedence, Problem, Resource, Task
from coordinator.scheduling.psplib import read_psplib
from coordinator.scheduling.rules import RULES
from coordinator.scheduling.runner import plan
from protocol.errors import InvalidInput
from tests.unit.scheduling.samples import PSPLIB_MM


def crossed_budgets(cap: int = 2) -> Problem:
    """Task a, then b. a's fast mode spends both budgets and leaves b no mode; b's modes each spend
    one budget, so their cheapest amounts (0 and 0) promise room that no single mode keeps. With
    budgets of 2 the best plan runs a slowly: 5 + 1."""
    resources = (Resource("N1", cap, renewable=False), Resource("N2", cap, renewable=False))
    tasks = (
        Task("a", (Mode(1, {"N1": 2, "N2": 2}), Mode(5))),
        Task("b", (Mode(1, {"N1": 2}), Mode(2, {"N2": 2}))),
    )
    return Problem(resources, tasks, (Precedence("a", "b"),))


def test_reference_modes_fit_every_budget_with_the_shortest_path() -> None:
    assert reference_modes(Instance(crossed_budgets())) == [1, 0]


def test_budgets_that_cannot_run_dry_need_no_search() -> None:
    assert reference_modes(Instance(crossed_budgets(cap=4))) == [0, 0]


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_leaves_a_mode_for_the_tasks_after(rule: str) -> None:
    problem = crossed_budgets()
    schedule = plan(problem, rule)
    assert check_schedule(problem, schedule) == []
    assert schedule.makespan == 6


def test_cpsat_plans_within_the_budgets() -> None:
    problem = crossed_budgets()
    schedule = plan(problem, "cpsat", time_limit=2.0)
    assert check_schedule(problem, schedule) == []
    assert schedule.makespan == 6


@pytest.mark.parametrize("policy", ["lst", "cpsat"])
def test_budgets_no_choice_of_modes_fits_are_reported(policy: str) -> None:
    with pytest.raises(InvalidInput, match=r"infeasible: no choice of modes fits .*\(N1 1, N2 1\)"):
        plan(crossed_budgets(cap=1), policy, time_limit=1.0)


def test_multi_mode_psplib_instance_gets_a_schedule_from_a_rule() -> None:
    # the cheapest amounts of its two budgets, reserved one by one, used to leave a job without a mode
    problem = read_psplib(PSPLIB_MM / "j3010_1.mm")
    assert check_schedule(problem, plan(problem, "lst")) == []


def test_infeasible_multi_mode_psplib_instance_is_reported() -> None:
    with pytest.raises(InvalidInput, match="N1 48, N2 52"):
        plan(read_psplib(PSPLIB_MM / "j301_2.mm"), "lst")
