"""Genetic search: feasible activity lists and schedules, never worse than its start."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from coordinator.scheduling import genetic, kernel
from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.generator import generate
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.model import Mode, Precedence, Problem, Resource, ScheduleStatus, Task
from coordinator.scheduling.psplib import read_psplib
from coordinator.scheduling.rules import run_rule
from coordinator.scheduling.runner import to_schedule
from tests.unit.scheduling.samples import machine_choice, opening_hours


def lagged_shop() -> Problem:
    """Two machines, a release date, a zero-length milestone, a repeated arc and a transport lag."""
    resources = (Resource("mill", 2), Resource("printer", 1))
    tasks = (
        Task("a", (Mode(3, {"mill": 2}),)),
        Task("b", (Mode(2, {"mill": 1, "printer": 1}),), release=4),
        Task("c", (Mode(4, {"printer": 1}),)),
        Task("gate", (Mode(0),)),
        Task("d", (Mode(2, {"mill": 1}),)),
    )
    arcs = (
        Precedence("a", "gate"),
        Precedence("a", "gate", lag=1),
        Precedence("c", "gate"),
        Precedence("gate", "d"),
        Precedence("b", "d", lag=3),
    )
    return Problem(resources, tasks, arcs)


def check(problem: Problem, inst: Instance, solution: genetic.Solution) -> list[str]:
    return check_schedule(problem, to_schedule(inst, solution, 0, ScheduleStatus.HEURISTIC, "ga"))


def test_applies_only_to_single_mode_problems_without_calendars() -> None:
    assert genetic.applies(Instance(lagged_shop()))
    assert not genetic.applies(Instance(machine_choice()))
    assert not genetic.applies(Instance(opening_hours()))


def test_long_horizons_are_left_to_the_other_solvers() -> None:
    resources = tuple(Resource(f"m{k}") for k in range(20))
    tasks = tuple(Task(f"t{k}", (Mode(10_000, {f"m{k % 20}": 1}),)) for k in range(40))
    assert not genetic.applies(Instance(Problem(resources, tasks)))


def test_decoded_schedules_respect_lags_releases_and_capacity() -> None:
    problem = lagged_shop()
    inst = Instance(problem)
    decoder = genetic.Decoder(inst)
    solution, order = decoder.improve(inst.topo)
    assert check(problem, inst, solution) == []
    assert solution.starts[inst.index["b"]] >= 4
    assert solution.starts[inst.index["d"]] >= solution.ends[inst.index["b"]] + 3
    assert sorted(order) == list(range(inst.n))


def predecessors_first(inst: Instance, order: list[int]) -> bool:
    position = {j: k for k, j in enumerate(order)}
    return sorted(order) == list(range(inst.n)) and all(
        position[p] < position[j] for j in range(inst.n) for p, _ in inst.preds[j]
    )


def test_first_generation_lists_are_feasible_and_decode_feasibly() -> None:
    problem = lagged_shop()
    inst = Instance(problem)
    search = genetic.Genetic(inst, random.Random(5))
    search.seed(None)
    assert len(search.population) == genetic.POPULATION
    for solution, order in search.population:
        assert predecessors_first(inst, order)
        assert check(problem, inst, solution) == []
    assert search.best().makespan == min(s.makespan for s, _ in search.population)


def test_crossover_and_mutation_keep_every_predecessor_first(psplib_dir: Path) -> None:
    inst = Instance(read_psplib(psplib_dir / "j60" / "j6013_1.sm"))
    search = genetic.Genetic(inst, random.Random(3))
    search.seed(None)
    arrays = search.decoder.arrays
    rng = random.Random(4)
    child = np.empty(inst.n, dtype=np.int64)
    taken = np.empty(inst.n, dtype=np.bool_)
    for _ in range(50):
        mother, father = (search.lists[rng.randrange(search.size)] for _ in range(2))
        q1 = rng.randrange(inst.n)
        kernel.crossover(mother, father, q1, rng.randrange(q1, inst.n + 1), child, taken)
        kernel.mutate(child, 0.3, arrays[kernel.PRED_PTR], arrays[kernel.PRED_TASK])
        assert predecessors_first(inst, child.tolist())


def test_a_generation_keeps_the_population_sorted_distinct_and_no_worse(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j60" / "j6013_1.sm")
    inst = Instance(problem)
    search = genetic.Genetic(inst, random.Random(8))
    search.seed(None)
    leader = search.best().makespan
    for _ in range(5):
        search.generation()
    assert list(search.values) == sorted(search.values)
    assert len(set(search.stamps.tolist())) == search.size
    assert search.best().makespan <= leader
    for solution, order in search.population:
        assert predecessors_first(inst, order)
        assert check(problem, inst, solution) == []


def test_forward_backward_improvement_never_lengthens_a_schedule(psplib_dir: Path) -> None:
    inst = Instance(read_psplib(psplib_dir / "j120" / "j12011_1.sm"))
    decoder = genetic.Decoder(inst)
    order = decoder.by_start(run_rule(inst, "fifo"))
    plain = decoder.forward(order)
    improved, listed = decoder.improve(order, rounds=4)
    assert improved.makespan <= plain.makespan
    assert decoder.forward(listed).makespan == improved.makespan


def test_evolve_reaches_the_optimum_of_a_small_instance(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j30" / "j301_1.sm")
    inst = Instance(problem)
    best = genetic.evolve(inst, 2.0, seed=0)
    assert best.makespan == 43
    assert check(problem, inst, best) == []


def hours(mode: Mode) -> Mode:
    return Mode(-(-mode.duration // 60), mode.demands, mode.name)


def test_evolve_never_returns_worse_than_its_start() -> None:
    problem = generate(3, fablabs=4, machines=12, designs=2, builds=2, parts=(4, 8))
    # first mode only, no opening hours, hours instead of minutes: the shape the genetic search handles
    single = Problem(
        tuple(Resource(r.id, r.capacity, renewable=r.renewable) for r in problem.resources),
        tuple(Task(t.id, (hours(t.modes[0]),), t.release // 60) for t in problem.tasks),
        tuple(Precedence(a.before, a.after, a.lag_for(0) // 60) for a in problem.precedences),
    )
    inst = Instance(single)
    assert genetic.applies(inst)
    start = genetic.evolve(inst, 0.5, seed=2, start=run_rule(inst, "lst"))
    assert check(single, inst, start) == []
    # no time for more than a first generation, which rarely matches a searched schedule
    again = genetic.evolve(inst, 0.0, seed=3, start=start)
    assert again.makespan <= start.makespan
