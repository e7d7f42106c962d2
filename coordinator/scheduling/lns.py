"""Large-neighbourhood search: re-solve part of the best schedule with CP-SAT, in parallel."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from ortools.sat.python import cp_model

from coordinator.scheduling.cpsat import CpModel
from coordinator.scheduling.rules import Solution, better

# tasks kept in a neighbourhood keep up to this many resource predecessors from the incumbent
KEEP_ORDER = 3
# seconds per neighbourhood: improvements, when there are any, come in the first tenths of a second
SUB_LIMIT = 0.3
# share of neighbourhoods built around a critical chain of the incumbent
CRITICAL_SHARE = 0.3
# where tasks have a choice of modes, share of those that free critical tasks' modes (see `_reassign`)
REASSIGN_SHARE = 0.5


class _StopOnImprovement(cp_model.CpSolverSolutionCallback):
    """Stop a neighbourhood search at its first schedule better than the first one (the hint)."""

    def __init__(self) -> None:
        super().__init__()
        self.first: float | None = None

    def on_solution_callback(self) -> None:
        if self.first is None:
            self.first = self.objective_value
        elif self.objective_value < self.first - 0.5:
            self.stop_search()


class Search:
    """Shared incumbent and an adaptive neighbourhood size for the worker threads."""

    def __init__(
        self,
        built: CpModel,
        warm: Solution,
        deadline: float,
        stop: threading.Event,
        on_better: Callable[[Solution], None] | None,
    ) -> None:
        self.built = built
        self.inst = built.inst
        self.best = warm
        self.deadline = deadline
        self.stop = stop
        self.on_better = on_better
        self.lock = threading.Lock()
        self.size = max(4, min(60, self.inst.n // 4))
        self.users = self._users()
        self.flexible = any(len(allowed) > 1 for allowed in self.inst.allowed)
        self.compact = not self.inst.previous and all(due is None for due in self.inst.due)

    def _users(self) -> list[set[int]]:
        inst = self.inst
        return [{r for m in inst.allowed[j] for r, _ in inst.modes[j][m].renewable} for j in range(inst.n)]

    def running(self) -> bool:
        """Whether there is time left and nobody asked to stop."""
        return time.monotonic() < self.deadline - 0.02 and not self.stop.is_set()

    def step(self, rng: random.Random) -> None:
        """One neighbourhood: free some tasks, keep the others' modes and resource order, re-solve."""
        with self.lock:
            current, size = self.best, self.size
        free = self._neighbourhood(rng, current, size)
        model = self._submodel(current, free)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.catch_sigint_signal = False  # see cpsat.solve: Ctrl-C belongs to the process
        solver.parameters.random_seed = rng.randrange(1 << 20)
        solver.parameters.max_time_in_seconds = max(0.01, min(SUB_LIMIT, self.deadline - time.monotonic()))
        status = solver.solve(model, _StopOnImprovement())
        self._adapt(status == cp_model.OPTIMAL)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self._offer(self.built.read(solver))

    def _neighbourhood(self, rng: random.Random, current: Solution, size: int) -> set[int]:
        n = self.inst.n
        size = min(size, n)
        draw = rng.random()
        if draw < CRITICAL_SHARE:
            chain = self._critical_chain(rng, current)
            if self.flexible and rng.random() < REASSIGN_SHARE:
                return self._reassign(rng, current, size, chain)
            return self._around(rng, current, size, chain)
        if draw < CRITICAL_SHARE + 0.4:
            # a time window: the tasks running around a random instant
            instant = rng.randrange(max(1, current.makespan))
            order = sorted(range(n), key=lambda j: abs(current.starts[j] - instant) + rng.random())
            return set(order[:size])
        return set(rng.sample(range(n), size))

    def _critical_chain(self, rng: random.Random, current: Solution) -> list[int]:
        """Walk back from a last task through tasks that leave it no slack."""
        inst = self.inst
        ending: dict[int, list[int]] = {}
        for j in range(inst.n):
            ending.setdefault(current.ends[j], []).append(j)
        j = rng.choice(ending[current.makespan])
        chain = [j]
        while current.starts[j] > 0:
            causes = [
                p
                for p, lags in inst.preds[j]
                if current.ends[p] + lags[current.modes[p]] == current.starts[j]
            ]
            causes += [i for i in ending.get(current.starts[j], []) if self.users[i] & self.users[j]]
            if not causes:
                break
            j = rng.choice(causes)
            chain.append(j)
        return chain

    def _around(self, rng: random.Random, current: Solution, size: int, chain: list[int]) -> set[int]:
        """Part of a chain plus the tasks running closest to its members."""
        free = set(rng.sample(chain, min(len(chain), max(1, size // 3))))
        centres = [current.starts[j] for j in free]
        rest = sorted(
            (j for j in range(self.inst.n) if j not in free),
            key=lambda j: min(abs(current.starts[j] - c) for c in centres) + rng.random(),
        )
        return free | set(rest[: size - len(free)])

    def _reassign(self, rng: random.Random, current: Solution, size: int, chain: list[int]) -> set[int]:
        """Critical tasks with a choice of modes, free to move to another of their resources, and the
        tasks holding those resources closest in time to them."""
        inst = self.inst
        movable = [j for j in chain if len(inst.allowed[j]) > 1]
        if not movable:
            return self._around(rng, current, size, chain)
        free = set(rng.sample(movable, min(len(movable), max(1, size // 4))))
        wanted = set().union(*(self.users[j] for j in free))
        centres = [(current.starts[j], current.ends[j]) for j in free]

        def distance(j: int) -> float:
            gaps = (max(0, low - current.ends[j], current.starts[j] - high) for low, high in centres)
            return min(gaps) + rng.random()

        holders = sorted(
            (
                j
                for j in range(inst.n)
                if j not in free and any(r in wanted for r, _ in inst.modes[j][current.modes[j]].renewable)
            ),
            key=distance,
        )
        return free | set(holders[: size - len(free)])

    def _submodel(self, current: Solution, free: set[int]) -> cp_model.CpModel:
        built, inst = self.built, self.inst
        model = built.model.clone()
        var = model.get_int_var_from_proto_index
        starts = [var(v.index) for v in built.v.starts]
        ends = [var(v.index) for v in built.v.ends]
        kept = sorted((j for j in range(inst.n) if j not in free), key=lambda j: current.starts[j])
        # tasks over before the first freed one starts stay where they are
        cut = min((current.starts[j] for j in free), default=0)
        for j in kept:
            if current.ends[j] <= cut:
                model.add(starts[j] == current.starts[j])
        for j in kept:
            lit = built.v.lits[j][current.modes[j]]
            if lit is not None and len(inst.allowed[j]) > 1:
                model.add(model.get_bool_var_from_proto_index(lit.index) == 1)
        for r in range(len(inst.capacity)):
            users = [j for j in kept if r in self.users[j]]
            for position, j in enumerate(users):
                before = [i for i in users[:position] if current.ends[i] <= current.starts[j]]
                for i in sorted(before, key=lambda i: -current.ends[i])[:KEEP_ORDER]:
                    model.add(starts[j] >= ends[i])
        assert built.v.makespan is not None
        makespan = var(built.v.makespan.index)
        model.add(makespan <= current.makespan)
        if self.compact:
            # an equal makespan with tasks ending earlier is a step along the plateau that frees room
            weight = inst.n * built.horizon + 1
            model.minimize(weight * makespan + cp_model.LinearExpr.sum(ends))
        model.clear_hints()
        for j in range(inst.n):
            model.add_hint(starts[j], current.starts[j])
            model.add_hint(ends[j], current.ends[j])
        return model

    def _adapt(self, solved: bool) -> None:
        """Grow neighbourhoods that solve to optimality, shrink those that time out."""
        with self.lock:
            factor = 1.1 if solved else 0.95
            self.size = max(4, min(self.inst.n, 200, round(self.size * factor + (1 if solved else 0))))

    def adopt(self, found: Solution) -> None:
        """Take a schedule found by another search as the incumbent when it is better."""
        with self.lock:
            if better(self.inst, found, self.best):
                self.best = found

    def run(self, workers: int, seed: int = 0) -> Solution:
        """Search neighbourhoods in `workers` threads until the deadline or the stop; return the best."""

        def work(k: int) -> None:
            rng = random.Random(seed * 7919 + k)
            while self.running():
                self.step(rng)

        threads = [
            threading.Thread(target=work, args=(k,), daemon=True, name=f"lns-{k}") for k in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.best

    def _offer(self, found: Solution) -> None:
        with self.lock:
            improved = better(self.inst, found, self.best)
            # equal schedules are accepted too: moving along a plateau helps the next step
            if not better(self.inst, self.best, found):
                self.best = found
        if improved and self.on_better is not None:
            self.on_better(found)


def improve_with_lns(
    built: CpModel,
    warm: Solution,
    time_limit: float,
    workers: int,
    stop: threading.Event | None = None,
    on_better: Callable[[Solution], None] | None = None,
    seed: int = 0,
) -> Solution:
    """Run `workers` threads of LNS from `warm` for `time_limit` seconds; return the best found."""
    search = Search(built, warm, time.monotonic() + time_limit, stop or threading.Event(), on_better)
    return search.run(workers, seed)
