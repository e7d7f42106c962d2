"""Genetic search over activity lists and modes with forward-backward improvement."""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Protocol

import numpy as np

from coordinator.scheduling.budgets import reference_modes
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.rules import Solution, better, priorities

POPULATION = 40
# chance to swap an activity with its neighbour in the list when the two are not ordered by an arc
MUTATION = 0.05
# forward-backward passes per child; more rarely pay once the population has converged
FBI_ROUNDS = 2
# generations without a better schedule before the population is rebuilt (see `Genetic.restart`); a
# choice of modes takes longer to converge (Brandimarte mk06: 60 in 4 s rather than 61-62)
STALL = 30
STALL_FLEXIBLE = 100
# where tasks have a choice of modes: modes a child changes at random (on average, whatever the size) ...
MODE_CHANGES = 1.5
# ... and the share of children that choose each task's mode as they are decoded (the mode ending first)
GREEDY = 0.2
# ... and the share of children whose critical tasks try other modes, with the tries each (see `polish`)
POLISHED = 0.3
POLISH_TRIALS = 30
# the decoder holds one availability cell per resource and time unit (and resets those a pass used)
MAX_CELLS = 200_000


class StopFlag(Protocol):
    """A thread or process event: the search only asks whether it is set."""

    def is_set(self) -> bool: ...


def applies(inst: Instance) -> bool:
    """Whether the fast decoder fits: no calendars, nothing pinned, lags that do not depend on the mode
    of the task before, and, where there are budgets, a choice of modes known to fit them."""
    return (
        inst.n > 1
        and _horizon(inst) * max(1, len(inst.capacity)) <= MAX_CELLS
        and not inst.fixed
        and all(inst.modes[j][m].calendar is None for j in range(inst.n) for m in inst.allowed[j])
        and all(len(set(lags)) == 1 for arcs in inst.succs for _, lags in arcs)
        and reference_modes(inst) is not None
    )


def flexible(inst: Instance) -> bool:
    """Whether some task has a choice of modes."""
    return any(len(allowed) > 1 for allowed in inst.allowed)


def _horizon(inst: Instance) -> int:
    """A time by which any activity list's schedule has ended, whatever the modes."""
    total = sum(max(mode.duration for mode in modes) for modes in inst.modes)
    longest_lag = max((lag for arcs in inst.succs for _, lags in arcs for lag in lags), default=0)
    return max(inst.release, default=0) + total + longest_lag * inst.n + 1


def compiled() -> ModuleType:
    """The compiled loops: numba (60 MB and 0.3 s to import) loads only in a process that searches."""
    return importlib.import_module("coordinator.scheduling.kernel")


class Decoder:
    """Serial schedule generation on time-indexed availability, forward and backward (compiled).

    Modes are numbered in one row over all tasks (task j's are `mode_ptr[j]` onwards, in the order of
    `inst.allowed[j]`); a schedule is decoded from an activity list and one such number per task.
    """

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.kernel = compiled()
        self.flexible = flexible(inst)
        self.mode_of = [(j, m) for j in range(inst.n) for m in inst.allowed[j]]
        ptr = [0]
        for j in range(inst.n):
            ptr.append(ptr[-1] + len(inst.allowed[j]))
        data = [inst.modes[j][m] for j, m in self.mode_of]
        reference = reference_modes(inst)
        assert reference is not None  # `applies` holds a choice of modes that fits the budgets
        self.horizon = _horizon(inst)
        # ranks order schedules by objective, then by the sum of their end times (below this scale)
        self.scale = inst.n * self.horizon + 1
        # ties between activities go to the one earlier in a topological order, which keeps lists feasible
        rank = [0] * inst.n
        for position, j in enumerate(inst.topo):
            rank[j] = position
        # `applies` holds lags to one value per arc, whatever the mode of the task before
        preds = [[(p, lags[0]) for p, lags in inst.preds[j]] for j in range(inst.n)]
        succs = [[(s, lags[0]) for s, lags in inst.succs[j]] for j in range(inst.n)]
        due = [self.kernel.NO_DUE if d is None else d for d in inst.due]
        self.arrays = (
            ints([mode.duration for mode in data]),
            ints(inst.release),
            ints(rank),
            *rows(preds),
            *rows(succs),
            *rows([list(mode.renewable) for mode in data]),
            ints(inst.capacity if inst.capacity else [0]),
            ints(due),
            ints(inst.weight),
            ints([self.scale]),
            ints(ptr),
            ints([int(self.flexible)]),
            *rows([list(mode.nonrenewable) for mode in data]),
            ints(inst.budget),
            mode_numbers(inst, ptr, reference),
        )
        self.mode_ptr = self.arrays[self.kernel.MODE_PTR]
        self.first = self.mode_ptr[:-1].copy()
        self.avail = np.tile(self.arrays[self.kernel.CAPACITY], (self.horizon, 1))
        self.rank = self.arrays[self.kernel.RANK]

    def _solution(self, start: np.ndarray, end: np.ndarray, value: int, modes: np.ndarray) -> Solution:
        chosen = [self.mode_of[g][1] for g in modes.tolist()]
        return Solution(chosen, start.tolist(), end.tolist(), int(end.max()), int(value) // self.scale)

    def numbers(self, solution: Solution) -> np.ndarray:
        """The numbers in the row of modes of a schedule's modes."""
        return mode_numbers(self.inst, self.mode_ptr, solution.modes)

    def key(self, solution: Solution) -> int:
        """The compiled code's rank of a schedule: objective first, then the sum of end times."""
        return solution.objective * self.scale + sum(solution.ends)

    def by_start(self, solution: Solution) -> list[int]:
        """Activity list of a schedule: by start time, ties in topological order."""
        return self.kernel.by_start(ints(solution.starts), self.rank).tolist()

    def _modes(self, modes: Sequence[int] | np.ndarray | None) -> np.ndarray:
        return self.first.copy() if modes is None else np.array(modes, dtype=np.int64)

    def forward(
        self, order: Sequence[int] | np.ndarray, modes: Sequence[int] | np.ndarray | None = None
    ) -> Solution:
        """Left-justified schedule of a precedence-feasible activity list in the given modes (numbers
        in the row of modes; the first mode of each task when None)."""
        start, end = np.empty(self.inst.n, np.int64), np.empty(self.inst.n, np.int64)
        chosen = self._modes(modes)
        value = self.kernel.forward(ints(order), chosen, self.arrays, self.avail, start, end, False)
        return self._solution(start, end, value, chosen)

    def improve(
        self,
        order: Sequence[int] | np.ndarray,
        rounds: int = FBI_ROUNDS,
        modes: Sequence[int] | np.ndarray | None = None,
        choose: bool = False,
    ) -> tuple[Solution, list[int]]:
        """Decode (choosing each task's mode as it goes when `choose`), then forward-backward improve;
        return the schedule and its activity list."""
        start, end = np.empty(self.inst.n, np.int64), np.empty(self.inst.n, np.int64)
        chosen = self._modes(modes)
        value, listed = self.kernel.improve(
            ints(order), chosen, self.arrays, self.avail, rounds, start, end, choose
        )
        return self._solution(start, end, value, chosen), listed.tolist()


def mode_numbers(inst: Instance, ptr: Sequence[int] | np.ndarray, modes: Sequence[int]) -> np.ndarray:
    """Each task's mode as its number in the row of modes (`ptr[j]` is task j's first allowed mode)."""
    return ints([ptr[j] + inst.allowed[j].index(m) for j, m in enumerate(modes)])


def ints(values: Sequence[int] | np.ndarray) -> np.ndarray:
    """The values as an int64 array, as the compiled loops take them."""
    return np.asarray(values, dtype=np.int64)


def rows(table: Sequence[Sequence[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compressed rows of (index, amount) pairs: row pointers, indices, amounts."""
    ptr = np.zeros(len(table) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(row) for row in table])
    flat = [pair for row in table for pair in row]
    index = ints([k for k, _ in flat])
    amount = ints([v for _, v in flat])
    return ptr, index, amount


class Genetic:
    """Population of activity lists with a mode per task, two-point crossover, neighbour-swap and mode
    mutation, elitist survival.

    The population lives in arrays sorted best first: `lists` (one activity list per row), `modes` (the
    mode numbers of each row's tasks), `values` (ranks: objective, then sum of end times) and `stamps`
    (fingerprints that keep copies out).
    """

    def __init__(self, inst: Instance, rng: random.Random, size: int = POPULATION) -> None:
        self.inst = inst
        self.rng = rng
        self.size = size
        self.decoder = Decoder(inst)
        self.kernel = self.decoder.kernel
        self.lst = _floats(priorities(inst, "lst"))
        self.kernel.seed_random(rng.randrange(2**31))
        self.lists = np.empty((0, inst.n), dtype=np.int64)
        self.modes = np.empty((0, inst.n), dtype=np.int64)
        self.values = np.empty(0, dtype=np.int64)
        self.stamps = np.empty(0, dtype=np.uint64)
        self._best: Solution | None = None

    @property
    def population(self) -> list[tuple[Solution, list[int]]]:
        """The members as schedules with their activity lists, best first."""
        return [
            (self.decoder.forward(row, modes), row.tolist())
            for row, modes in zip(self.lists, self.modes, strict=True)
        ]

    def seed(self, start: Solution | None) -> None:
        """First generation: the start schedule's order and noisy latest-start lists."""
        members = [self._member(start)] if start is not None else []
        self._refill(members, None)

    def _member(self, solution: Solution) -> tuple[Solution, list[int]]:
        """A schedule's order and modes, decoded and improved."""
        return self.decoder.improve(self.decoder.by_start(solution), modes=self.decoder.numbers(solution))

    def restart(self, best: Solution) -> None:
        """Rebuild the population: around `best` keeping the population's best member or, every other
        time, afresh from noisy latest-start lists with nothing kept, to search another region (the
        caller keeps the best schedule found)."""
        if self.rng.random() < 0.5:
            self._refill([], None)
        else:
            self._refill([(self.best(), self.lists[0].tolist())], best)

    def _refill(self, members: list[tuple[Solution, list[int]]], around: Solution | None) -> None:
        """Add noisy lists until the population is full: latest-start keys, or the starts of `around`.

        Where tasks have a choice of modes, fresh lists start from random modes and half of them choose
        each task's mode as they are decoded; lists around a schedule keep its modes but a few. Either
        way the modes are then brought within the budgets (`kernel.repair`).
        """
        spread = max(1.0, float(self.lst.max() - self.lst.min()))
        base = self.lst if around is None else _floats(around.starts)
        while len(members) < self.size:
            if around is None:
                noise = self.rng.uniform(0.05, 0.5) * spread
            else:
                noise = self.rng.uniform(0.02, 0.25) * around.makespan
            order = self.kernel.noisy_order(base, noise, self.decoder.arrays)
            if not self.decoder.flexible:
                members.append(self.decoder.improve(order))
                continue
            modes = self._fresh_modes() if around is None else self.decoder.numbers(around)
            if around is not None:
                self.kernel.mutate_modes(modes, 3 * MODE_CHANGES / self.inst.n, self.decoder.mode_ptr)
            self.kernel.repair(modes, self.decoder.arrays)
            choose = around is None and self.rng.random() < 0.5
            members.append(self.decoder.improve(order, modes=modes, choose=choose))
        self._replace(members)

    def _fresh_modes(self) -> np.ndarray:
        """A random mode for every task."""
        ptr = self.decoder.mode_ptr
        return ints([self.rng.randrange(ptr[j], ptr[j + 1]) for j in range(self.inst.n)])

    def adopt(self, solution: Solution) -> None:
        """Let a schedule found elsewhere join the population in place of the worst member."""
        member, order = self._member(solution)
        modes = self.decoder.numbers(member)
        stamp = self.kernel.fingerprint(ints(order), modes, self.decoder.flexible)
        if stamp in self.stamps:
            return
        self.lists[-1], self.modes[-1] = order, modes
        self.values[-1], self.stamps[-1] = self.decoder.key(member), stamp
        ranking = np.argsort(self.values, kind="stable")
        self.lists, self.modes = self.lists[ranking], self.modes[ranking]
        self.values, self.stamps = self.values[ranking], self.stamps[ranking]
        self._best = None

    def _replace(self, members: list[tuple[Solution, list[int]]]) -> None:
        members.sort(key=lambda member: self.decoder.key(member[0]))
        self.lists = np.array([order for _, order in members], dtype=np.int64)
        self.modes = np.array([self.decoder.numbers(solution) for solution, _ in members], dtype=np.int64)
        self.values = np.array([self.decoder.key(solution) for solution, _ in members], dtype=np.int64)
        self.stamps = np.array(
            [
                self.kernel.fingerprint(row, modes, self.decoder.flexible)
                for row, modes in zip(self.lists, self.modes, strict=True)
            ],
            dtype=np.uint64,
        )
        self._best = members[0][0]

    def best(self) -> Solution:
        """The best schedule in the population."""
        if self._best is None:
            self._best = self.decoder.forward(self.lists[0], self.modes[0])
        return self._best

    def generation(self) -> None:
        """Breed one child per member and keep the best distinct lists of parents and children."""
        self.kernel.generation(
            self.lists,
            self.modes,
            self.values,
            self.stamps,
            self.decoder.arrays,
            self.decoder.avail,
            MUTATION,
            FBI_ROUNDS,
            MODE_CHANGES / self.inst.n,
            GREEDY,
            POLISHED,
            POLISH_TRIALS,
        )
        self._best = None


def _floats(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def evolve(
    inst: Instance,
    budget: float,
    seed: int = 0,
    on_better: Callable[[Solution], None] | None = None,
    start: Solution | None = None,
    stop: StopFlag | None = None,
    incoming: Callable[[], Solution | None] | None = None,
) -> Solution:
    """Run the genetic search for `budget` seconds from an optional start; return the best schedule.

    `incoming`, polled once a generation, may hand over schedules found by another search; they join
    the population, and become the best when they are better.
    """
    deadline = time.monotonic() + budget
    search = Genetic(inst, random.Random(seed))
    # a start with a choice of modes joins the first generation: its modes are worth keeping
    search.seed(start if start is not None and search.decoder.flexible else None)
    best = start if start is not None and not better(inst, search.best(), start) else search.best()
    if on_better is not None and best is not start:
        on_better(best)
    stalled = 0
    stall = STALL_FLEXIBLE if search.decoder.flexible else STALL
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        leader = search.best().objective
        while incoming is not None and (arrived := incoming()) is not None:
            search.adopt(arrived)
            if better(inst, arrived, best):
                best = arrived
        search.generation()
        stalled = stalled + 1 if search.best().objective >= leader else 0
        if stalled >= stall:
            search.restart(best)
            stalled = 0
        if better(inst, search.best(), best):
            best = search.best()
            if on_better is not None:
                on_better(best)
    return best
