"""Genetic search: feasible activity lists, modes and schedules, never worse than its start."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import numpy as np

from coordinator.scheduling import genetic, kernel
from coordinator.scheduling.cpsat import CpModel
from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.fjsp import read_fjsp
from coordinator.scheduling.generator import generate
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.lns import Search
from coordinator.scheduling.model import Mode, Precedence, Problem, Resource, ScheduleStatus, Task
from coordinator.scheduling.psplib import read_psplib
from coordinator.scheduling.rules import run_rule
from coordinator.scheduling.runner import to_schedule
from tests.unit.scheduling.samples import BRANDIMARTE, machine_choice, opening_hours, transport
from tests.unit.scheduling.test_budgets import crossed_budgets


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


def flexible_shop() -> Problem:
    """Two jobs of two operations on two machines; the optimum is 7 (see test_fjsp)."""
    m1, m2 = {"M1": 1}, {"M2": 1}
    resources = (Resource("M1"), Resource("M2"))
    tasks = (
        Task("1.1", (Mode(3, m1, "M1"), Mode(5, m2, "M2"))),
        Task("1.2", (Mode(2, m2, "M2"),)),
        Task("2.1", (Mode(2, m1, "M1"),)),
        Task("2.2", (Mode(4, m1, "M1"), Mode(3, m2, "M2"))),
    )
    return Problem(resources, tasks, (Precedence("1.1", "1.2"), Precedence("2.1", "2.2")))


def test_applies_without_calendars_or_lags_that_depend_on_the_mode() -> None:
    assert genetic.applies(Instance(lagged_shop()))
    assert genetic.applies(Instance(flexible_shop()))
    assert genetic.applies(Instance(crossed_budgets()))
    assert not genetic.applies(Instance(machine_choice()))  # a single task: nothing to search
    assert not genetic.applies(Instance(opening_hours()))
    assert not genetic.applies(Instance(transport()))  # the transport lag depends on the machine


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
    five_generations_keep_order_and_feasibility(problem, inst, search)


def five_generations_keep_order_and_feasibility(
    problem: Problem, inst: Instance, search: genetic.Genetic
) -> None:
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


def test_choosing_modes_while_decoding_takes_the_machine_that_ends_first() -> None:
    problem = flexible_shop()
    inst = Instance(problem)
    decoder = genetic.Decoder(inst)
    order = [inst.index[t] for t in ("2.1", "1.1", "2.2", "1.2")]
    # 1.1 waits for 2.1 on M1 (ends 5) or runs on M2 at once (ends 5): a tie keeps its first mode, M1;
    # 2.2 then ends at 9 on M1 or 5 on M2, and takes M2
    solution, _ = decoder.improve(order, rounds=0, choose=True)
    assert solution.modes == [0, 0, 0, 1]
    assert check(problem, inst, solution) == []
    assert decoder.forward(order).modes == [0, 0, 0, 0]


def test_evolve_chooses_machines_and_reaches_the_optimum_of_a_small_shop() -> None:
    problem = flexible_shop()
    inst = Instance(problem)
    best = genetic.evolve(inst, 0.5, seed=1)
    assert best.makespan == 7
    assert check(problem, inst, best) == []


def test_flexible_population_and_generations_stay_feasible() -> None:
    problem = read_fjsp(BRANDIMARTE / "mk01.fjs")
    inst = Instance(problem)
    search = genetic.Genetic(inst, random.Random(2))
    search.seed(run_rule(inst, "lst"))
    five_generations_keep_order_and_feasibility(problem, inst, search)
    assert len({tuple(row) for row in search.modes.tolist()}) > 1  # modes differ between members


def test_polishing_critical_tasks_never_lengthens_a_schedule() -> None:
    inst = Instance(read_fjsp(BRANDIMARTE / "mk06.fjs"))
    decoder = genetic.Decoder(inst)
    kernel.seed_random(4)
    for seed in range(5):
        rng = random.Random(seed)
        ptr = decoder.mode_ptr
        modes = np.array([rng.randrange(ptr[j], ptr[j + 1]) for j in range(inst.n)])
        solution, order = decoder.improve(inst.topo, modes=modes)
        start, end = np.array(solution.starts), np.array(solution.ends)
        value, listed = kernel.polish(
            np.array(order), modes, decoder.key(solution), decoder.arrays, decoder.avail, 50, start, end
        )
        assert value <= decoder.key(solution)
        assert decoder.key(decoder.forward(listed, modes)) <= value


def test_reassigning_frees_critical_tasks_with_a_choice_and_those_on_their_machines() -> None:
    inst = Instance(read_fjsp(BRANDIMARTE / "mk01.fjs"))
    warm = run_rule(inst, "lst")
    search = Search(CpModel(inst, warm.makespan, 0), warm, 0.0, threading.Event(), None)
    rng = random.Random(1)
    chain = search._critical_chain(rng, warm)
    free = search._reassign(rng, warm, 12, chain)
    movable = {j for j in chain if len(inst.allowed[j]) > 1}
    assert len(free) == 12 and free & movable
    wanted = set().union(*(search.users[j] for j in free & movable))
    for j in free - set(chain):
        assert {r for r, _ in inst.modes[j][warm.modes[j]].renewable} & wanted


def test_repair_brings_modes_within_the_budgets() -> None:
    decoder = genetic.Decoder(Instance(crossed_budgets()))
    kernel.seed_random(0)
    modes = decoder.numbers(decoder.forward([0, 1], None))  # both fast: 4 of N1 and 2 of N2
    assert kernel.overdrawn(kernel.spent(modes, decoder.arrays), decoder.arrays) == 0
    kernel.repair(modes, decoder.arrays)
    assert kernel.overdrawn(kernel.spent(modes, decoder.arrays), decoder.arrays) == -1


def test_choosing_modes_while_decoding_keeps_within_the_budgets() -> None:
    problem = crossed_budgets()
    inst = Instance(problem)
    decoder = genetic.Decoder(inst)
    # a's fast mode ends first but would leave b nothing: a stays slow
    solution, _ = decoder.improve([0, 1], rounds=0, modes=[1, 2], choose=True)
    assert solution.modes == [1, 0]
    assert check(problem, inst, solution) == []


def test_evolve_keeps_within_the_budgets() -> None:
    problem = crossed_budgets()
    inst = Instance(problem)
    best = genetic.evolve(inst, 0.2, seed=1)
    assert check(problem, inst, best) == []
    assert best.makespan == 6
