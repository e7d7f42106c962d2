"""A validated, index-based view of a Problem that the solvers work on."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from coordinator.scheduling.model import Calendar, Problem, Resource, Task
from protocol.errors import InvalidInput


@dataclass(frozen=True)
class ModeData:
    """One mode by index: duration, renewable and non-renewable demands, start windows."""

    duration: int
    renewable: tuple[tuple[int, int], ...]
    nonrenewable: tuple[tuple[int, int], ...]
    calendar: Calendar | None


def intersect_calendars(first: Calendar | None, second: Calendar | None) -> Calendar | None:
    """Start windows allowed by both calendars (None allows every start)."""
    if first is None:
        return second
    if second is None:
        return first
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(first) and j < len(second):
        low, high = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if low < high:
            out.append((low, high))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _check_calendar(calendar: Calendar | None, where: str) -> None:
    if calendar is None:
        return
    previous_close = None
    for open_, close in calendar:
        if open_ >= close or (previous_close is not None and open_ < previous_close):
            raise InvalidInput(f"{where}: calendar windows must be sorted, non-overlapping [open, close)")
        previous_close = close


class Instance:
    """Tasks, modes, arcs and bounds by integer index."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.ids = [task.id for task in problem.tasks]
        self.index = _unique_index(self.ids, "task")
        self.n = len(self.ids)
        self._index_resources(problem.resources)
        self.modes = [self._compile_modes(task) for task in problem.tasks]
        self.release = [task.release for task in problem.tasks]
        self.due = [task.due for task in problem.tasks]
        self.weight = [task.weight for task in problem.tasks]
        self._compile_arcs(problem)
        self.topo = self._topological_order()
        self.fixed = self._compile_fixed(problem)
        self.previous = {
            self.index[p.id]: p.mode
            for p in problem.previous
            if p.id in self.index and 0 <= p.mode < len(self.modes[self.index[p.id]])
        }
        self.allowed = [
            [self.fixed[j][0]] if j in self.fixed else list(range(len(self.modes[j]))) for j in range(self.n)
        ]
        self.min_duration = [min(self.modes[j][m].duration for m in self.allowed[j]) for j in range(self.n)]

    def _index_resources(self, resources: tuple[Resource, ...]) -> None:
        self.resources = resources
        renewable = [r for r in resources if r.renewable]
        budgets = [r for r in resources if not r.renewable]
        self.res_index = _unique_index([r.id for r in renewable], "resource")
        self.budget_index = {r.id: k for k, r in enumerate(budgets)}
        if set(self.res_index) & set(self.budget_index):
            raise InvalidInput("resource ids must be unique")
        self.capacity = [r.capacity for r in renewable]
        self.budget = [r.capacity for r in budgets]
        self.res_calendar = [r.calendar for r in renewable]
        for r in resources:
            if r.capacity < 0:
                raise InvalidInput(f"resource {r.id}: capacity must not be negative")
            _check_calendar(r.calendar, f"resource {r.id}")

    def _compile_modes(self, task: Task) -> list[ModeData]:
        if not task.modes:
            raise InvalidInput(f"task {task.id}: needs at least one mode")
        _check_calendar(task.calendar, f"task {task.id}")
        return [self._compile_mode(task, m) for m in range(len(task.modes))]

    def _compile_mode(self, task: Task, m: int) -> ModeData:
        mode = task.modes[m]
        where = f"task {task.id} mode {m + 1}"
        if mode.duration < 0:
            raise InvalidInput(f"{where}: duration must not be negative")
        renewable, nonrenewable, calendar = [], [], task.calendar
        for rid, amount in mode.demands.items():
            if amount < 0:
                raise InvalidInput(f"{where}: demand for {rid} must not be negative")
            if amount == 0:
                continue
            if rid in self.res_index:
                r = self.res_index[rid]
                if amount > self.capacity[r]:
                    raise InvalidInput(f"{where}: needs {amount} of {rid}, capacity {self.capacity[r]}")
                renewable.append((r, amount))
                calendar = intersect_calendars(calendar, self.res_calendar[r])
            elif rid in self.budget_index:
                nonrenewable.append((self.budget_index[rid], amount))
            else:
                raise InvalidInput(f"{where}: unknown resource {rid!r}")
        return ModeData(mode.duration, tuple(renewable), tuple(nonrenewable), calendar)

    def _compile_arcs(self, problem: Problem) -> None:
        self.preds: list[list[tuple[int, tuple[int, ...]]]] = [[] for _ in range(self.n)]
        self.succs: list[list[tuple[int, tuple[int, ...]]]] = [[] for _ in range(self.n)]
        for arc in problem.precedences:
            for tid in (arc.before, arc.after):
                if tid not in self.index:
                    raise InvalidInput(f"precedence {arc.before} -> {arc.after}: unknown task {tid!r}")
            p, s = self.index[arc.before], self.index[arc.after]
            count = len(self.modes[p])
            if arc.mode_lags is not None and len(arc.mode_lags) != count:
                raise InvalidInput(f"precedence {arc.before} -> {arc.after}: mode_lags needs {count} entries")
            lags = tuple(arc.lag_for(m) for m in range(count))
            if min(lags) < 0:
                raise InvalidInput(f"precedence {arc.before} -> {arc.after}: lag must not be negative")
            self.preds[s].append((p, lags))
            self.succs[p].append((s, lags))

    def _topological_order(self) -> list[int]:
        indegree = [len(p) for p in self.preds]
        ready = [j for j in range(self.n) if indegree[j] == 0]
        heapq.heapify(ready)
        order: list[int] = []
        while ready:
            j = heapq.heappop(ready)
            order.append(j)
            for s, _ in self.succs[j]:
                indegree[s] -= 1
                if indegree[s] == 0:
                    heapq.heappush(ready, s)
        if len(order) != self.n:
            stuck = next(self.ids[j] for j in range(self.n) if indegree[j] > 0)
            raise InvalidInput(f"precedences contain a cycle (through task {stuck})")
        return order

    def _compile_fixed(self, problem: Problem) -> dict[int, tuple[int, int]]:
        fixed: dict[int, tuple[int, int]] = {}
        for pin in problem.fixed:
            if pin.id not in self.index:
                raise InvalidInput(f"fixed task {pin.id!r}: unknown task")
            j = self.index[pin.id]
            if not 0 <= pin.mode < len(self.modes[j]):
                raise InvalidInput(f"fixed task {pin.id}: no mode {pin.mode + 1}")
            fixed[j] = (pin.mode, pin.start)
        for j in fixed:
            for p, _ in self.preds[j]:
                if p not in fixed:
                    raise InvalidInput(f"fixed task {self.ids[j]}: predecessor {self.ids[p]} is not fixed")
        return fixed


def _unique_index(ids: list[str], kind: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for k, ident in enumerate(ids):
        if ident in index:
            raise InvalidInput(f"duplicate {kind} id {ident!r}")
        index[ident] = k
    return index
