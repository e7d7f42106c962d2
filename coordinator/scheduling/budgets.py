"""A choice of modes that fits the non-renewable budgets, found once per instance.

Choosing modes one task at a time can run a budget dry before the last tasks are placed: in multi-mode
PSPLIB instances a task's modes trade one budget against the other, so reserving the cheapest amount of
each budget separately promises more than any single mode can keep. A reference choice that fits every budget
fixes that: the schedule-generation scheme reserves, for each task not yet placed, what its reference
mode costs, so some mode always fits. The reference comes from a small CP-SAT model of the modes and the
precedences alone (no renewable resources), which also proves when no choice of modes fits at all.
"""

from __future__ import annotations

import weakref

from ortools.sat.python import cp_model

from coordinator.scheduling.instance import Instance
from protocol.errors import InvalidInput

# seconds CP-SAT gets to find a choice of modes (j30 multi-mode PSPLIB: a few milliseconds)
SEARCH_TIME = 2.0
_found: weakref.WeakKeyDictionary[Instance, list[int] | None] = weakref.WeakKeyDictionary()


def reference_modes(inst: Instance) -> list[int] | None:
    """Modes that fit every budget, the shortest precedence-only makespan first (each task's first
    allowed mode where no budget can be overdrawn); None when CP-SAT finds no such choice in time.

    Raises InvalidInput when CP-SAT proves that no choice of modes fits the budgets.
    """
    if inst not in _found:
        _found[inst] = _search(inst) if _binding(inst) else [allowed[0] for allowed in inst.allowed]
    return _found[inst]


def _binding(inst: Instance) -> bool:
    """Whether taking every task's most expensive mode could overdraw some budget."""
    spent = [0] * len(inst.budget)
    for j in range(inst.n):
        for k in range(len(inst.budget)):
            spent[k] += max(dict(inst.modes[j][m].nonrenewable).get(k, 0) for m in inst.allowed[j])
    return any(used > cap for used, cap in zip(spent, inst.budget, strict=True))


def _search(inst: Instance) -> list[int] | None:
    """Modes that fit the budgets and give the shortest precedence-only makespan CP-SAT finds."""
    model = cp_model.CpModel()
    horizon = sum(max(inst.modes[j][m].duration for m in inst.allowed[j]) for j in range(inst.n))
    horizon += max(inst.release, default=0) + sum(max(lags) for arcs in inst.succs for _, lags in arcs)
    picks = [{m: model.new_bool_var(f"x{j}_{m}") for m in inst.allowed[j]} for j in range(inst.n)]
    ends = []
    for j in range(inst.n):
        model.add_exactly_one(picks[j].values())
        start = model.new_int_var(inst.release[j], horizon, f"s{j}")
        duration = sum(inst.modes[j][m].duration * lit for m, lit in picks[j].items())
        ends.append((start, start + duration))
    for p in range(inst.n):
        for s, lags in inst.succs[p]:
            lag = sum(lags[m] * lit for m, lit in picks[p].items())
            model.add(ends[s][0] >= ends[p][1] + lag)
    for k, cap in enumerate(inst.budget):
        cost = [
            amount * lit
            for j in range(inst.n)
            for m, lit in picks[j].items()
            for kk, amount in inst.modes[j][m].nonrenewable
            if kk == k
        ]
        model.add(sum(cost) <= cap)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, [end for _, end in ends])
    model.minimize(makespan)
    return _solve(inst, model, picks)


def _solve(
    inst: Instance, model: cp_model.CpModel, picks: list[dict[int, cp_model.IntVar]]
) -> list[int] | None:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = SEARCH_TIME
    solver.parameters.num_workers = 1
    solver.parameters.catch_sigint_signal = False
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        raise InvalidInput(_overdrawn(inst))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return [next(m for m, lit in picks[j].items() if solver.boolean_value(lit)) for j in range(inst.n)]


def _overdrawn(inst: Instance) -> str:
    names = {k: rid for rid, k in inst.budget_index.items()}
    budgets = ", ".join(f"{names[k]} {cap}" for k, cap in enumerate(inst.budget))
    return f"infeasible: no choice of modes fits the non-renewable budgets ({budgets})"
