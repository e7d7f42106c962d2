"""Tabu search over critical blocks for shops of unit machines (the compiled loops are in shopkernel.py).

It applies where every resource is a machine of capacity 1 and every mode holds exactly one of them: job
shops and flexible job shops, with releases and lags as in the model, and the makespan as the objective.
A schedule is a sequence of tasks per machine and a mode per task; see `shopkernel` for the moves.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from types import ModuleType

import numpy as np

from coordinator.scheduling import genetic
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.rules import Solution, better, objective

# seconds one call into the compiled search should take: short enough to publish and adopt promptly
SLICE = 0.05
# iterations without a better schedule before the search starts again from its best one, per task
PATIENCE_PER_TASK = 20


def applies(inst: Instance) -> bool:
    """Whether the problem is a shop of unit machines with the makespan as its objective."""
    return (
        genetic.applies(inst)
        and not inst.previous
        and all(due is None for due in inst.due)
        and all(capacity == 1 for capacity in inst.capacity)
        and all(
            len(inst.modes[j][m].renewable) == 1 and inst.modes[j][m].renewable[0][1] == 1
            for j in range(inst.n)
            for m in inst.allowed[j]
        )
    )


def compiled() -> ModuleType:
    """The compiled loops, loaded only where a search runs (numba is slow to import)."""
    return importlib.import_module("coordinator.scheduling.shopkernel")


class TabuSearch:
    """A tabu search from a start schedule that takes better schedules found elsewhere as it goes."""

    def __init__(
        self,
        inst: Instance,
        warm: Solution,
        deadline: float,
        stop: threading.Event,
        on_better: Callable[[Solution], None] | None,
    ) -> None:
        self.inst = inst
        self.kernel = compiled()
        self.best = warm
        self.deadline = deadline
        self.stop = stop
        self.on_better = on_better
        self.lock = threading.Lock()
        self._arrived: Solution | None = None
        self.shop = self._shop()
        self.tenure = genetic.ints(_tenure(inst))

    def _shop(self) -> tuple[np.ndarray, ...]:
        inst = self.inst
        modes = [inst.modes[j][m] for j in range(inst.n) for m in inst.allowed[j]]
        ptr = np.cumsum([0] + [len(inst.allowed[j]) for j in range(inst.n)])
        preds = [[(p, lags[0]) for p, lags in inst.preds[j]] for j in range(inst.n)]
        succs = [[(s, lags[0]) for s, lags in inst.succs[j]] for j in range(inst.n)]
        return (
            genetic.ints([mode.duration for mode in modes]),
            genetic.ints([mode.renewable[0][0] for mode in modes]),
            genetic.ints(ptr),
            genetic.ints(inst.release),
            genetic.ints([len(arcs) for arcs in preds]),
            *genetic.rows(preds),
            *genetic.rows(succs),
        )

    def running(self) -> bool:
        """Whether there is time left and nobody asked to stop."""
        return time.monotonic() < self.deadline - 0.02 and not self.stop.is_set()

    def adopt(self, found: Solution) -> None:
        """Go on from a schedule found by another search when it is better than the best so far."""
        with self.lock:
            if better(self.inst, found, self.best) and better(self.inst, found, self._arrived):
                self._arrived = found

    def run(self, seed: int = 0) -> Solution:
        """Search until the deadline or the stop; return the best schedule."""
        kernel = self.kernel
        kernel.seed_random(seed)
        state = self.state(self.best)
        best = tuple(row.copy() for row in state)
        counters = genetic.ints([0, 0, self.best.makespan])
        keys = np.full(1 << kernel.TABLE_BITS, -1, dtype=np.int64)
        until = np.zeros(1 << kernel.TABLE_BITS, dtype=np.int64)
        patience = PATIENCE_PER_TASK * self.inst.n
        steps = 10
        while self.running():
            self._take_arrival(state, best, counters)
            began = time.monotonic()
            found = kernel.search(self.shop, state, best, counters, keys, until, steps, self.tenure, patience)
            took = time.monotonic() - began
            steps = max(1, min(4 * steps, round(steps * SLICE / max(took, 1e-4))))
            if found < self.best.makespan:
                self._offer(self.solution(best))
        return self.best

    def _take_arrival(
        self, state: tuple[np.ndarray, ...], best: tuple[np.ndarray, ...], counters: np.ndarray
    ) -> None:
        with self.lock:
            arrived, self._arrived = self._arrived, None
            if arrived is None or not better(self.inst, arrived, self.best):
                return
            self.best = arrived
        self.kernel.copy_state(self.state(arrived), state)
        self.kernel.copy_state(state, best)
        counters[self.kernel.BEST] = arrived.makespan
        counters[self.kernel.LAST_GAIN] = counters[self.kernel.ITERATION]

    def _offer(self, found: Solution) -> None:
        with self.lock:
            if not better(self.inst, found, self.best):
                return
            self.best = found
        if self.on_better is not None:
            self.on_better(found)

    def state(self, solution: Solution) -> tuple[np.ndarray, ...]:
        """Modes and machine sequences of a schedule (each machine's tasks by start)."""
        inst, machine, ptr = self.inst, self.shop[self.kernel.MACHINE], self.shop[self.kernel.MODE_PTR]
        mode = genetic.mode_numbers(inst, ptr, solution.modes)
        rank = {j: position for position, j in enumerate(inst.topo)}
        mprev, mnext = np.full(inst.n, -1, dtype=np.int64), np.full(inst.n, -1, dtype=np.int64)
        mfirst = np.full(len(inst.capacity), -1, dtype=np.int64)
        by_start = sorted(range(inst.n), key=lambda j: (solution.starts[j], solution.ends[j], rank[j]))
        last = np.full(len(inst.capacity), -1, dtype=np.int64)
        for j in by_start:
            r = machine[mode[j]]
            if last[r] < 0:
                mfirst[r] = j
            else:
                mnext[last[r]], mprev[j] = j, last[r]
            last[r] = j
        return mode, mprev, mnext, mfirst

    def solution(self, state: tuple[np.ndarray, ...]) -> Solution:
        """The schedule of modes and machine sequences: every task as early as its arcs allow."""
        inst, kernel = self.inst, self.kernel
        head, order, degree = (np.empty(inst.n, dtype=np.int64) for _ in range(3))
        makespan = kernel.evaluate(self.shop, state, head, order, degree)
        assert makespan >= 0, "machine sequences with a cycle"
        duration, ptr = self.shop[kernel.DURATION], self.shop[kernel.MODE_PTR]
        mode = state[kernel.MODE]
        modes = [inst.allowed[j][mode[j] - ptr[j]] for j in range(inst.n)]
        starts = head.tolist()
        ends = [starts[j] + int(duration[mode[j]]) for j in range(inst.n)]
        return Solution(modes, starts, ends, makespan, objective(inst, ends, makespan))


def _tenure(inst: Instance) -> tuple[int, int]:
    """Shortest and longest number of iterations a reversed move stays forbidden."""
    low = 2 + inst.n // 40
    return low, low + 4 + inst.n // 20


def improve_with_tabu(
    inst: Instance,
    warm: Solution,
    time_limit: float,
    stop: threading.Event | None = None,
    on_better: Callable[[Solution], None] | None = None,
    seed: int = 0,
) -> Solution:
    """Run the tabu search from `warm` for `time_limit` seconds; return the best schedule found."""
    search = TabuSearch(inst, warm, time.monotonic() + time_limit, stop or threading.Event(), on_better)
    return search.run(seed)
