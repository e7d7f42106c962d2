"""CP-SAT model of the multi-mode problem, warm-started from a heuristic schedule."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from coordinator.scheduling.bounds import heads, tails
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.profile import NEVER
from coordinator.scheduling.rules import Solution, objective

OnSolution = Callable[[Solution, int], None]
# resources with more users than this get no redundant disjunctions (quadratic to find)
MAX_CLIQUE_USERS = 400


@dataclass
class _Vars:
    starts: list[cp_model.IntVar] = field(default_factory=list)
    ends: list[cp_model.IntVar] = field(default_factory=list)
    lits: list[list[cp_model.IntVar | None]] = field(default_factory=list)
    makespan: cp_model.IntVar | None = None


@dataclass(frozen=True)
class CpResult:
    """Best solution CP-SAT found (None if none), its proven bound and whether it is optimal."""

    solution: Solution | None
    bound: int
    optimal: bool


def _domain(calendar: tuple[tuple[int, int], ...], low: int, high: int) -> cp_model.Domain | None:
    """Allowed starts within [low, high], or None when there is none."""
    pairs = [[max(a, low), min(b - 1, high)] for a, b in calendar]
    pairs = [p for p in pairs if p[0] <= p[1]]
    return cp_model.Domain.from_intervals(pairs) if pairs else None


class CpModel:
    """Builds the model for an instance with a horizon and a static lower bound."""

    def __init__(self, inst: Instance, horizon: int, lower: int) -> None:
        self.inst = inst
        self.model = cp_model.CpModel()
        self.v = _Vars()
        self.head, self.tail = heads(inst), tails(inst)
        self.horizon = max(horizon, lower)
        self.lower = lower
        self._tasks()
        self._resources()
        self._precedences()
        self._makespan(lower)
        self._objective()

    def _tasks(self) -> None:
        inst, m = self.inst, self.model
        for j in range(inst.n):
            latest = max(self.head[j], self.horizon - self.tail[j])
            start = m.new_int_var(self.head[j], latest, f"s{j}")
            end = m.new_int_var(self.head[j], self.horizon, f"e{j}")
            lits: list[cp_model.IntVar | None] = [None] * len(inst.modes[j])
            allowed = inst.allowed[j]
            for k in allowed:
                mode = inst.modes[j][k]
                lit = m.new_constant(1) if len(allowed) == 1 else m.new_bool_var(f"x{j}_{k}")
                lits[k] = lit
                m.add(end == start + mode.duration).only_enforce_if(lit)
                if mode.calendar is not None:
                    domain = _domain(mode.calendar, self.head[j], latest)
                    if domain is None:
                        m.add(lit == 0)
                    else:
                        m.add_linear_expression_in_domain(start, domain).only_enforce_if(lit)
            if len(allowed) > 1:
                m.add_exactly_one([lit for lit in lits if lit is not None])
            if j in inst.fixed:
                m.add(start == inst.fixed[j][1])
            self.v.starts.append(start)
            self.v.ends.append(end)
            self.v.lits.append(lits)

    def _resources(self) -> None:
        inst, m = self.inst, self.model
        users: list[list[tuple[cp_model.IntervalVar, int]]] = [[] for _ in inst.capacity]
        for j in range(inst.n):
            for k in inst.allowed[j]:
                mode = inst.modes[j][k]
                if mode.duration == 0 or not mode.renewable:
                    continue
                lit = self.v.lits[j][k]
                assert lit is not None
                interval = m.new_optional_fixed_size_interval_var(
                    self.v.starts[j], mode.duration, lit, f"i{j}_{k}"
                )
                for r, amount in mode.renewable:
                    users[r].append((interval, amount))
        for r, used in enumerate(users):
            if sum(a for _, a in used) <= inst.capacity[r]:
                continue
            if all(2 * a > inst.capacity[r] for _, a in used):
                m.add_no_overlap([i for i, _ in used])
            else:
                m.add_cumulative([i for i, _ in used], [a for _, a in used], inst.capacity[r])
        self._disjunctions(users)
        for k, cap in enumerate(inst.budget):
            lits, amounts = self._consumers(k)
            if lits:
                m.add(cp_model.LinearExpr.weighted_sum(lits, amounts) <= cap)

    def _consumers(self, budget: int) -> tuple[list[cp_model.IntVar], list[int]]:
        """Mode literals that draw on a non-renewable budget, with their amounts."""
        inst = self.inst
        lits: list[cp_model.IntVar] = []
        amounts: list[int] = []
        for j in range(inst.n):
            for k in inst.allowed[j]:
                lit = self.v.lits[j][k]
                for kk, amount in inst.modes[j][k].nonrenewable:
                    if kk == budget and lit is not None:
                        lits.append(lit)
                        amounts.append(amount)
        return lits, amounts

    def _disjunctions(self, users: list[list[tuple[cp_model.IntervalVar, int]]]) -> None:
        """Redundant NoOverlap over groups of intervals that pairwise exceed some capacity."""
        conflicts: dict[cp_model.IntervalVar, set[cp_model.IntervalVar]] = {}
        for r, used in enumerate(users):
            cap = self.inst.capacity[r]
            if cap == 1 or len(used) > MAX_CLIQUE_USERS:
                continue  # unit resources already have a NoOverlap; large ones cost too much
            heavy = sorted(used, key=lambda u: -u[1])
            for a, (first, da) in enumerate(heavy):
                for second, db in heavy[a + 1 :]:
                    if da + db <= cap:
                        break
                    conflicts.setdefault(first, set()).add(second)
                    conflicts.setdefault(second, set()).add(first)
        seen: set[frozenset[int]] = set()
        order = sorted(conflicts, key=lambda i: -len(conflicts[i]))
        for seed in order:
            clique = [seed]
            for other in order:
                if other is not seed and all(other in conflicts[c] for c in clique):
                    clique.append(other)
            key = frozenset(i.index for i in clique)
            if len(clique) >= 3 and key not in seen:
                seen.add(key)
                self.model.add_no_overlap(clique)

    def _precedences(self) -> None:
        inst, m = self.inst, self.model
        for p in range(inst.n):
            for s, lags in inst.succs[p]:
                used = {lags[k] for k in inst.allowed[p]}
                if len(used) == 1:
                    m.add(self.v.starts[s] >= self.v.ends[p] + used.pop())
                    continue
                for k in inst.allowed[p]:
                    m.add(self.v.starts[s] >= self.v.ends[p] + lags[k]).only_enforce_if(self.v.lits[p][k])

    def _makespan(self, lower: int) -> None:
        inst, m = self.inst, self.model
        makespan = m.new_int_var(lower, self.horizon, "makespan")
        for j in range(inst.n):
            # the tail is the shortest time from the start of j to the end of the project
            m.add(makespan >= self.v.starts[j] + self.tail[j])
            if not inst.succs[j]:
                m.add(makespan >= self.v.ends[j])
        self.v.makespan = makespan

    def _objective(self) -> None:
        inst, m = self.inst, self.model
        assert self.v.makespan is not None
        terms: list[cp_model.LinearExprT] = [self.v.makespan]
        for j, due in enumerate(inst.due):
            if due is None:
                continue
            late = m.new_int_var(0, max(0, self.horizon - due), f"late{j}")
            m.add(late >= self.v.ends[j] - due)
            terms.append(inst.weight[j] * late)
        cost = cp_model.LinearExpr.sum(terms)
        if inst.previous:
            moved = [1 - lit for j, k in inst.previous.items() if (lit := self.v.lits[j][k]) is not None]
            m.minimize((len(moved) + 1) * cost + cp_model.LinearExpr.sum(moved))
        else:
            m.minimize(cost)

    def hint(self, solution: Solution) -> None:
        """Warm start from a schedule."""
        m = self.model
        for j in range(self.inst.n):
            m.add_hint(self.v.starts[j], solution.starts[j])
            m.add_hint(self.v.ends[j], solution.ends[j])
            for k, lit in enumerate(self.v.lits[j]):
                if lit is not None and len(self.inst.allowed[j]) > 1:
                    m.add_hint(lit, int(k == solution.modes[j]))
        assert self.v.makespan is not None
        m.add_hint(self.v.makespan, solution.makespan)

    def read(self, solver: cp_model.CpSolver | cp_model.CpSolverSolutionCallback) -> Solution:
        """The solution held by a solver or a solution callback."""
        inst = self.inst
        starts = [solver.value(s) for s in self.v.starts]
        modes = [
            next(k for k, lit in enumerate(lits) if lit is not None and solver.boolean_value(lit))
            for lits in self.v.lits
        ]
        ends = [starts[j] + inst.modes[j][modes[j]].duration for j in range(inst.n)]
        makespan = max(ends, default=0)
        return Solution(modes, starts, ends, makespan, objective(inst, ends, makespan))


class _Publisher(cp_model.CpSolverSolutionCallback):
    def __init__(self, built: CpModel, on_solution: OnSolution | None) -> None:
        super().__init__()
        self.built = built
        self.on_solution = on_solution

    def on_solution_callback(self) -> None:
        if self.on_solution is not None:
            self.on_solution(self.built.read(self), int(self.best_objective_bound))


def solve(
    built: CpModel,
    time_limit: float,
    on_solution: OnSolution | None = None,
    stop: threading.Event | None = None,
    workers: int | None = None,
) -> CpResult:
    """Search the whole model, from its hint, for `time_limit` seconds."""
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = max(0.01, time_limit)
    params.num_workers = workers or os.cpu_count() or 1
    # CP-SAT runs in a background thread of a server: left to itself it takes over SIGINT and gives
    # it back as SIG_DFL, so Ctrl-C would kill the process instead of stopping it cleanly
    params.catch_sigint_signal = False
    finished = threading.Event()
    if stop is not None:
        threading.Thread(target=_watch, args=(solver, stop, finished), daemon=True).start()
    try:
        status = solver.solve(built.model, _Publisher(built, on_solution))
    finally:
        finished.set()
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return CpResult(None, built.lower, False)
    found = built.read(solver)
    bound = _makespan_bound(built.inst, solver, built.lower)
    return CpResult(found, bound, status == cp_model.OPTIMAL)


def _watch(solver: cp_model.CpSolver, stop: threading.Event, finished: threading.Event) -> None:
    """Stop the search from outside once `stop` is set."""
    while not finished.wait(0.05):
        if stop.is_set():
            solver.stop_search()
            return


def _makespan_bound(inst: Instance, solver: cp_model.CpSolver, lower: int) -> int:
    """CP-SAT's objective bound is a makespan bound only when the makespan is the objective."""
    if inst.previous or any(due is not None for due in inst.due):
        return lower
    bound = solver.best_objective_bound
    return max(lower, math.ceil(bound - 1e-6)) if bound < NEVER else lower
