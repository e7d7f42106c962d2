"""Tabu search over critical blocks: where it applies, optimum of a tiny shop, feasibility, improvement."""

from __future__ import annotations

import threading

from coordinator.scheduling import tabu
from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.fjsp import read_fjsp
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.model import Mode, Precedence, Problem, Resource, ScheduleStatus, Task
from coordinator.scheduling.rules import Solution, objective, run_rule
from coordinator.scheduling.runner import plan, to_schedule
from tests.unit.scheduling.samples import BRANDIMARTE, small_shop, transport
from tests.unit.scheduling.test_genetic import flexible_shop, lagged_shop

# a safety net only: each search below stops as soon as it reaches its target
PATIENT = 60.0


def check(problem: Problem, inst: Instance, solution: Solution) -> list[str]:
    return check_schedule(problem, to_schedule(inst, solution, 0, ScheduleStatus.HEURISTIC, "tabu"))


def search_until(inst: Instance, warm: Solution, target: int, seen: list[Solution] | None = None) -> Solution:
    """Search from `warm` until a schedule as short as `target` (or the safety net's end)."""
    reached = threading.Event()

    def found(solution: Solution) -> None:
        if seen is not None:
            seen.append(solution)
        if solution.makespan <= target:
            reached.set()

    return tabu.improve_with_tabu(inst, warm, PATIENT, stop=reached, on_better=found, seed=1)


def lagged_job_shop() -> Problem:
    """Three jobs on three machines with releases, lags between operations and a choice of machine."""
    a, b, c = ({f"m{k}": 1} for k in range(3))
    tasks = (
        Task("1.1", (Mode(4, a, "m0"), Mode(6, b, "m1"))),
        Task("1.2", (Mode(3, b, "m1"),)),
        Task("1.3", (Mode(5, c, "m2"), Mode(2, a, "m0"))),
        Task("2.1", (Mode(2, b, "m1"),), release=3),
        Task("2.2", (Mode(6, c, "m2"), Mode(4, a, "m0"))),
        Task("2.3", (Mode(3, a, "m0"),)),
        Task("3.1", (Mode(5, c, "m2"),), release=1),
        Task("3.2", (Mode(2, a, "m0"), Mode(2, b, "m1"))),
        Task("3.3", (Mode(4, b, "m1"), Mode(7, c, "m2"))),
    )
    arcs = tuple(
        Precedence(f"{job}.{op}", f"{job}.{op + 1}", lag=job - 1) for job in (1, 2, 3) for op in (1, 2)
    )
    return Problem(tuple(Resource(f"m{k}") for k in range(3)), tasks, arcs)


def worst_start(inst: Instance) -> Solution:
    """Every task in its slowest mode, one after the other in topological order."""
    modes = [max(inst.allowed[j], key=lambda m: inst.modes[j][m].duration) for j in range(inst.n)]
    starts, ends, clock = [0] * inst.n, [0] * inst.n, 0
    for j in inst.topo:
        starts[j] = max(clock, inst.release[j])
        ends[j] = clock = starts[j] + inst.modes[j][modes[j]].duration
    return Solution(modes, starts, ends, clock, objective(inst, ends, clock))


def test_applies_to_shops_of_unit_machines_with_the_makespan_as_objective() -> None:
    assert tabu.applies(Instance(flexible_shop()))
    assert tabu.applies(Instance(lagged_job_shop()))
    assert tabu.applies(Instance(read_fjsp(BRANDIMARTE / "mk01.fjs")))
    assert not tabu.applies(Instance(lagged_shop()))  # a mill of capacity 2, a task on two resources
    assert not tabu.applies(Instance(small_shop()))  # opening hours, an operator pool, a due date
    assert not tabu.applies(Instance(transport()))  # the lag depends on the machine


def test_reaches_the_optimum_of_a_tiny_flexible_shop_from_its_worst_start() -> None:
    problem = flexible_shop()
    inst = Instance(problem)
    start = worst_start(inst)
    assert start.makespan == 13
    best = search_until(inst, start, 7)
    assert best.makespan == 7
    assert check(problem, inst, best) == []


def test_every_schedule_it_reports_is_feasible() -> None:
    problem = lagged_job_shop()
    inst = Instance(problem)
    optimum = plan(problem, "cpsat", time_limit=5)
    assert optimum.status == "optimal"
    seen: list[Solution] = []
    best = search_until(inst, worst_start(inst), optimum.makespan, seen)
    assert best.makespan == optimum.makespan and best is seen[-1]
    for solution in seen:
        assert check(problem, inst, solution) == []
    assert [s.makespan for s in seen] == sorted((s.makespan for s in seen), reverse=True)


def test_improves_a_bad_start_on_a_brandimarte_instance() -> None:
    problem = read_fjsp(BRANDIMARTE / "mk01.fjs")
    inst = Instance(problem)
    start = worst_start(inst)
    assert run_rule(inst, "fifo").makespan < start.makespan
    best = search_until(inst, start, 42)  # the optimum is 40
    assert best.makespan <= 42
    assert check(problem, inst, best) == []


def test_a_schedule_round_trips_through_machine_sequences() -> None:
    inst = Instance(read_fjsp(BRANDIMARTE / "mk01.fjs"))
    start = run_rule(inst, "lst")
    search = tabu.TabuSearch(inst, start, 0.0, threading.Event(), None)
    again = search.solution(search.state(start))
    assert again.modes == start.modes
    assert again.makespan <= start.makespan
    assert all(again.starts[j] <= start.starts[j] for j in range(inst.n))
