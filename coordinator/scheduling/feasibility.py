"""Independent check of a schedule against every constraint of its problem."""

from __future__ import annotations

from collections import defaultdict

from coordinator.scheduling.instance import Instance
from coordinator.scheduling.model import Problem, Schedule, ScheduledTask
from coordinator.scheduling.profile import next_allowed


def check_schedule(problem: Problem, schedule: Schedule) -> list[str]:
    """Every violated constraint, as readable sentences (empty when the schedule is feasible)."""
    inst = Instance(problem)
    placed, errors = _placements(inst, schedule)
    if errors:
        return errors
    errors += _timing(inst, placed)
    errors += _precedences(inst, placed)
    errors += _capacities(inst, placed)
    errors += _budgets(inst, placed)
    latest = max((t.end for t in placed), default=0)
    if schedule.makespan != latest:
        errors.append(f"makespan {schedule.makespan} differs from the latest end {latest}")
    if schedule.lower_bound > schedule.makespan:
        errors.append(f"lower bound {schedule.lower_bound} exceeds makespan {schedule.makespan}")
    return errors


def _placements(inst: Instance, schedule: Schedule) -> tuple[list[ScheduledTask], list[str]]:
    by_id = {t.id: t for t in schedule.tasks}
    errors = [f"task {tid} is not scheduled" for tid in inst.ids if tid not in by_id]
    errors += [f"unknown task {t.id}" for t in schedule.tasks if t.id not in inst.index]
    if len(by_id) != len(schedule.tasks):
        errors.append("a task is scheduled more than once")
    for t in schedule.tasks:
        if t.id in inst.index and not 0 <= t.mode < len(inst.modes[inst.index[t.id]]):
            errors.append(f"task {t.id}: no mode {t.mode + 1}")
    if errors:
        return [], errors
    return [by_id[tid] for tid in inst.ids], []


def _timing(inst: Instance, placed: list[ScheduledTask]) -> list[str]:
    errors = []
    for j, t in enumerate(placed):
        mode = inst.modes[j][t.mode]
        if t.end != t.start + mode.duration:
            errors.append(f"task {t.id}: end {t.end} != start {t.start} + duration {mode.duration}")
        if t.start < inst.release[j]:
            errors.append(f"task {t.id}: starts at {t.start} before its release {inst.release[j]}")
        if next_allowed(mode.calendar, t.start) != t.start:
            errors.append(f"task {t.id}: start {t.start} is outside its start windows")
        if j in inst.fixed and inst.fixed[j] != (t.mode, t.start):
            m, start = inst.fixed[j]
            errors.append(f"task {t.id}: fixed at mode {m + 1}, start {start}")
    return errors


def _precedences(inst: Instance, placed: list[ScheduledTask]) -> list[str]:
    errors = []
    for p, before in enumerate(placed):
        for s, lags in inst.succs[p]:
            ready = before.end + lags[before.mode]
            if placed[s].start < ready:
                errors.append(
                    f"task {placed[s].id} starts at {placed[s].start}, "
                    f"before {before.id} ends plus lag ({ready})"
                )
    return errors


def _capacities(inst: Instance, placed: list[ScheduledTask]) -> list[str]:
    events: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for j, t in enumerate(placed):
        if t.end <= t.start:
            continue
        for r, amount in inst.modes[j][t.mode].renewable:
            events[r] += [(t.start, amount), (t.end, -amount)]
    errors = []
    for r, changes in events.items():
        load = 0
        # releases sort before acquisitions at the same instant
        for time, delta in sorted(changes, key=lambda e: (e[0], e[1])):
            load += delta
            if load > inst.capacity[r]:
                errors.append(
                    f"resource {_renewable_id(inst, r)}: load {load} exceeds capacity at time {time}"
                )
                break
    return errors


def _renewable_id(inst: Instance, r: int) -> str:
    return next(rid for rid, k in inst.res_index.items() if k == r)


def _budgets(inst: Instance, placed: list[ScheduledTask]) -> list[str]:
    used = [0] * len(inst.budget)
    for j, t in enumerate(placed):
        for k, amount in inst.modes[j][t.mode].nonrenewable:
            used[k] += amount
    names = {k: rid for rid, k in inst.budget_index.items()}
    return [
        f"resource {names[k]}: {used[k]} used, budget {cap}"
        for k, cap in enumerate(inst.budget)
        if used[k] > cap
    ]
