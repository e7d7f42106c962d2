"""Genetic search over activity lists with forward-backward improvement, for single-mode problems."""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from coordinator.scheduling.instance import Instance
from coordinator.scheduling.rules import Solution, better, objective, priorities

POPULATION = 40
# chance to swap an activity with its neighbour in the list when the two are not ordered by an arc
MUTATION = 0.05
# forward-backward passes per child; more rarely pay once the population has converged
FBI_ROUNDS = 2
# generations without a better schedule before the population is rebuilt around its best
STALL = 12
# the decoder allocates one availability cell per resource and time unit on every pass
MAX_CELLS = 200_000

Arcs = list[list[tuple[int, int]]]


class StopFlag(Protocol):
    """A thread or process event: the search only asks whether it is set."""

    def is_set(self) -> bool: ...


def applies(inst: Instance) -> bool:
    """Whether the fast decoder fits: one mode per task, no calendars, no budgets, nothing pinned."""
    return (
        inst.n > 1
        and _horizon(inst) * max(1, len(inst.capacity)) <= MAX_CELLS
        and not inst.fixed
        and not inst.budget
        and all(
            len(inst.allowed[j]) == 1 and inst.modes[j][inst.allowed[j][0]].calendar is None
            for j in range(inst.n)
        )
    )


def _horizon(inst: Instance) -> int:
    """A time by which any activity list's schedule has ended (one mode per task assumed)."""
    total = sum(max(mode.duration for mode in modes) for modes in inst.modes)
    longest_lag = max((lag for arcs in inst.succs for _, lags in arcs for lag in lags), default=0)
    return max(inst.release, default=0) + total + longest_lag * inst.n + 1


class Decoder:
    """Serial schedule generation on time-indexed availability, forward and backward."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.mode = [inst.allowed[j][0] for j in range(inst.n)]
        data = [inst.modes[j][self.mode[j]] for j in range(inst.n)]
        self.duration = [mode.duration for mode in data]
        self.demands = [mode.renewable for mode in data]
        self.preds: Arcs = [[(p, lags[self.mode[p]]) for p, lags in inst.preds[j]] for j in range(inst.n)]
        self.succs: Arcs = [[(s, lags[self.mode[j]]) for s, lags in inst.succs[j]] for j in range(inst.n)]
        self.horizon = _horizon(inst)
        # ties between activities go to the one earlier in a topological order, which keeps lists feasible
        self.rank = [0] * inst.n
        for position, j in enumerate(inst.topo):
            self.rank[j] = position

    def _place(self, order: Sequence[int], arcs: Arcs, release: Sequence[int]) -> list[int]:
        """Start of each activity when placed in `order` as early as arcs and capacity allow."""
        avail = [[cap] * self.horizon for cap in self.inst.capacity]
        start = [0] * self.inst.n
        end = [0] * self.inst.n
        for j in order:
            t = release[j]
            for p, lag in arcs[j]:
                if end[p] + lag > t:
                    t = end[p] + lag
            d = self.duration[j]
            if d:
                t = self._fit(avail, self.demands[j], t, d)
                for r, amount in self.demands[j]:
                    row = avail[r]
                    for i in range(t, t + d):
                        row[i] -= amount
            start[j], end[j] = t, t + d
        return start

    @staticmethod
    def _fit(avail: list[list[int]], demands: Sequence[tuple[int, int]], t: int, d: int) -> int:
        """Earliest time >= t where `demands` fit for `d` units."""
        moved = True
        while moved:
            moved = False
            for r, amount in demands:
                window = avail[r][t : t + d]
                if min(window) < amount:
                    last = d - 1
                    while window[last] >= amount:
                        last -= 1
                    t += last + 1
                    moved = True
                    break
        return t

    def by_start(self, solution: Solution) -> list[int]:
        """Activity list of a schedule: by start time, ties in topological order."""
        return sorted(range(self.inst.n), key=lambda j: (solution.starts[j], self.rank[j]))

    def forward(self, order: Sequence[int]) -> Solution:
        """Left-justified schedule of a precedence-feasible activity list."""
        starts = self._place(order, self.preds, self.inst.release)
        ends = [starts[j] + self.duration[j] for j in range(self.inst.n)]
        makespan = max(ends)
        return Solution(list(self.mode), starts, ends, makespan, objective(self.inst, ends, makespan))

    def backward_order(self, solution: Solution) -> list[int]:
        """Right-justify a schedule and return its activities by their new starts."""
        order = sorted(range(self.inst.n), key=lambda j: (-solution.ends[j], -self.rank[j]))
        reverse = self._place(order, self.succs, [0] * self.inst.n)
        # a late reverse start means an early start in forward time
        return sorted(range(self.inst.n), key=lambda j: (-(reverse[j] + self.duration[j]), self.rank[j]))

    def improve(self, order: Sequence[int], rounds: int = FBI_ROUNDS) -> tuple[Solution, list[int]]:
        """Decode, then forward-backward improve; return the schedule and its activity list."""
        best = self.forward(order)
        for _ in range(rounds):
            candidate = self.forward(self.backward_order(best))
            if not better(self.inst, candidate, best):
                break
            best = candidate
        return best, self.by_start(best)


class Genetic:
    """Population of activity lists, two-point crossover, neighbour-swap mutation, elitist survival."""

    def __init__(self, inst: Instance, rng: random.Random) -> None:
        self.inst = inst
        self.rng = rng
        self.decoder = Decoder(inst)
        self.lst = priorities(inst, "lst")
        self.related = [{p for p, _ in inst.preds[j]} for j in range(inst.n)]
        self.population: list[tuple[Solution, list[int]]] = []

    def seed(self, start: Solution | None) -> None:
        """First generation: the start schedule's order and noisy latest-start lists."""
        if start is not None:
            self.population.append(self.decoder.improve(self.decoder.by_start(start)))
        spread = max(1.0, max(self.lst) - min(self.lst))
        while len(self.population) < POPULATION:
            noise = self.rng.uniform(0.05, 0.5) * spread
            keys = [self.lst[j] + self.rng.random() * noise for j in range(self.inst.n)]
            self.population.append(self.decoder.improve(self._feasible_order(keys)))
        self._sort()

    def _feasible_order(self, keys: Sequence[float]) -> list[int]:
        """Activities by key, each as soon as all its predecessors are listed."""
        indegree = [len(self.inst.preds[j]) for j in range(self.inst.n)]
        ready = [(keys[j], j) for j in range(self.inst.n) if not indegree[j]]
        heapq.heapify(ready)
        out: list[int] = []
        while ready:
            _, j = heapq.heappop(ready)
            out.append(j)
            for s, _ in self.inst.succs[j]:
                indegree[s] -= 1
                if not indegree[s]:
                    heapq.heappush(ready, (keys[s], s))
        return out

    def restart(self, best: Solution) -> None:
        """Keep the population's best; refill the rest around `best` or, every other time, afresh."""
        self.population = self.population[:1]
        if self.rng.random() < 0.5:
            self.seed(None)
            return
        while len(self.population) < POPULATION:
            noise = self.rng.uniform(0.02, 0.25) * best.makespan
            keys = [best.starts[j] + self.rng.random() * noise for j in range(self.inst.n)]
            self.population.append(self.decoder.improve(self._feasible_order(keys)))
        self._sort()

    def adopt(self, solution: Solution) -> None:
        """Let a schedule found elsewhere join the population in place of the worst member."""
        member = self.decoder.improve(self.decoder.by_start(solution))
        if any(order == member[1] for _, order in self.population):
            return
        self.population[-1] = member
        self._sort()

    def _sort(self) -> None:
        self.population.sort(key=lambda member: member[0].objective)

    def best(self) -> Solution:
        """The best schedule in the population."""
        return self.population[0][0]

    def generation(self) -> None:
        """Breed one child per member and keep the best of parents and children."""
        children = []
        for _ in range(POPULATION // 2):
            mother, father = self._pick(), self._pick()
            for child in self._crossover(mother, father), self._crossover(father, mother):
                self._mutate(child)
                children.append(self.decoder.improve(child))
        merged = {tuple(order): (solution, order) for solution, order in self.population + children}
        self.population = sorted(merged.values(), key=lambda member: member[0].objective)[:POPULATION]

    def _pick(self) -> list[int]:
        """Tournament of two, biased towards the better half."""
        a, b = self.rng.randrange(len(self.population)), self.rng.randrange(len(self.population))
        return self.population[min(a, b)][1]

    def _crossover(self, mother: list[int], father: list[int]) -> list[int]:
        """Mother's head and tail around father's order for the middle; stays precedence-feasible."""
        n = self.inst.n
        q1 = self.rng.randrange(n)
        q2 = self.rng.randrange(q1, n + 1)
        head = mother[:q1]
        taken = set(head)
        middle = [j for j in father if j not in taken][: q2 - q1]
        taken.update(middle)
        return head + middle + [j for j in mother if j not in taken]

    def _mutate(self, order: list[int]) -> None:
        for i in range(len(order) - 1):
            if self.rng.random() < MUTATION and order[i] not in self.related[order[i + 1]]:
                order[i], order[i + 1] = order[i + 1], order[i]


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
    search.seed(None)
    best = start if start is not None and not better(inst, search.best(), start) else search.best()
    if on_better is not None and best is not start:
        on_better(best)
    stalled = 0
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        leader = search.best().objective
        while incoming is not None and (arrived := incoming()) is not None:
            search.adopt(arrived)
            if better(inst, arrived, best):
                best = arrived
        search.generation()
        stalled = stalled + 1 if search.best().objective >= leader else 0
        if stalled >= STALL:
            search.restart(best)
            stalled = 0
        if better(inst, search.best(), best):
            best = search.best()
            if on_better is not None:
                on_better(best)
    return best
