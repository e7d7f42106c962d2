"""Serial schedule-generation scheme with priority rules, sampling and justification."""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from coordinator.scheduling.bounds import tails
from coordinator.scheduling.budgets import reference_modes
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.profile import NEVER, Profile, earliest_start
from protocol.errors import InvalidInput

RULES = ("fifo", "lst", "mts", "grpw")
# how a rule picks a mode: first free machine, earliest finish, earliest ready at the next step
CHOICES = ("start", "finish", "ready")


@dataclass(frozen=True)
class Solution:
    """Modes and starts by task index, with the makespan and the objective."""

    modes: list[int]
    starts: list[int]
    ends: list[int]
    makespan: int
    objective: int


def objective(inst: Instance, ends: list[int], makespan: int) -> int:
    """Makespan plus weighted tardiness."""
    late = sum(inst.weight[j] * max(0, ends[j] - due) for j, due in enumerate(inst.due) if due is not None)
    return makespan + late


def changes(inst: Instance, modes: list[int]) -> int:
    """Tasks whose mode differs from the previous plan."""
    return sum(1 for j, m in inst.previous.items() if modes[j] != m)


def better(inst: Instance, new: Solution | None, old: Solution | None) -> bool:
    """Whether `new` beats `old` on the objective, then on closeness to the previous plan."""
    if new is None:
        return False
    if old is None:
        return True
    return (new.objective, changes(inst, new.modes)) < (old.objective, changes(inst, old.modes))


class _Budgets:
    """Non-renewable budgets less what the unplaced tasks keep reserved: the cost of their reference
    modes (`budgets.reference_modes`), so that some mode always fits, else (no reference found in time)
    their cheapest amounts."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.left = list(inst.budget)
        reference = reference_modes(inst) if inst.budget else None
        self.reserved = [
            self._cheapest(j) if reference is None else dict(inst.modes[j][reference[j]].nonrenewable)
            for j in range(inst.n)
        ]
        for needs in self.reserved:
            for k, amount in needs.items():
                self.left[k] -= amount

    def _cheapest(self, j: int) -> dict[int, int]:
        modes = [self.inst.modes[j][m] for m in self.inst.allowed[j]]
        keys = {k for mode in modes for k, _ in mode.nonrenewable}
        return {k: min(dict(mode.nonrenewable).get(k, 0) for mode in modes) for k in keys}

    def fits(self, j: int, m: int) -> bool:
        need = self.reserved[j]
        mode = self.inst.modes[j][m]
        return all(amount - need.get(k, 0) <= self.left[k] for k, amount in mode.nonrenewable)

    def take(self, j: int, m: int) -> None:
        for k, amount in self.reserved[j].items():
            self.left[k] += amount
        for k, amount in self.inst.modes[j][m].nonrenewable:
            self.left[k] -= amount


def serial_sgs(
    inst: Instance,
    priority: Sequence[float],
    *,
    choose: str = "ready",
    modes: Sequence[int] | None = None,
) -> Solution | None:
    """Schedule eligible tasks in priority order (lowest first) at their earliest feasible start."""
    profiles = [Profile(c) for c in inst.capacity]
    budgets = _Budgets(inst)
    chosen, starts, ends = [0] * inst.n, [0] * inst.n, [0] * inst.n
    for j, (m, start) in inst.fixed.items():
        _reserve(inst, profiles, budgets, j, m, start, chosen, starts, ends)
    indegree = [len(p) for p in inst.preds]
    ready = [(priority[j], j) for j in range(inst.n) if indegree[j] == 0]
    heapq.heapify(ready)
    while ready:
        _, j = heapq.heappop(ready)
        if j not in inst.fixed:
            earliest = inst.release[j]
            for p, lags in inst.preds[j]:
                earliest = max(earliest, ends[p] + lags[chosen[p]])
            options = [modes[j]] if modes is not None else inst.allowed[j]
            pick = _pick_mode(inst, profiles, budgets, j, options, earliest, choose)
            if pick is None:
                return None
            _reserve(inst, profiles, budgets, j, pick[0], pick[1], chosen, starts, ends)
        for s, _ in inst.succs[j]:
            indegree[s] -= 1
            if indegree[s] == 0:
                heapq.heappush(ready, (priority[s], s))
    makespan = max(ends, default=0)
    return Solution(chosen, starts, ends, makespan, objective(inst, ends, makespan))


def _pick_mode(
    inst: Instance,
    profiles: list[Profile],
    budgets: _Budgets,
    j: int,
    options: Sequence[int],
    earliest: int,
    choose: str,
) -> tuple[int, int] | None:
    best_key: tuple[int, int, int, int] | None = None
    best: tuple[int, int] | None = None
    previous = inst.previous.get(j)
    for m in options:
        if not budgets.fits(j, m):
            continue
        mode = inst.modes[j][m]
        start = earliest_start(profiles, mode.renewable, mode.duration, earliest, mode.calendar)
        if start >= NEVER:
            continue
        finish = start + mode.duration
        # a part is ready for its assembly only once it has been carried there
        ready = finish + max((lags[m] for _, lags in inst.succs[j]), default=0)
        if choose == "start":
            # first-free-machine dispatch knows nothing of speeds: ties go to the first machine listed
            key = (start, 0)
        elif choose == "finish":
            key = (finish, start)
        else:
            key = (ready, finish)
        full = (key[0], int(m != previous), key[1], m)
        if best_key is None or full < best_key:
            best_key, best = full, (m, start)
    return best


def _reserve(
    inst: Instance,
    profiles: list[Profile],
    budgets: _Budgets,
    j: int,
    m: int,
    start: int,
    chosen: list[int],
    starts: list[int],
    ends: list[int],
) -> None:
    mode = inst.modes[j][m]
    for r, amount in mode.renewable:
        profiles[r].add(start, start + mode.duration, amount)
    budgets.take(j, m)
    chosen[j], starts[j], ends[j] = m, start, start + mode.duration


def backward_order(inst: Instance, solution: Solution) -> list[float]:
    """Right-justify a schedule (modes kept) and return forward priorities from it."""
    profiles = [Profile(c) for c in inst.capacity]
    rev_end = [0] * inst.n
    outdegree = [len(s) for s in inst.succs]
    ready = [(-solution.ends[j], j) for j in range(inst.n) if outdegree[j] == 0]
    heapq.heapify(ready)
    while ready:
        _, j = heapq.heappop(ready)
        m = solution.modes[j]
        mode = inst.modes[j][m]
        earliest = max((rev_end[s] + lags[m] for s, lags in inst.succs[j]), default=0)
        start = earliest_start(profiles, mode.renewable, mode.duration, earliest, None)
        for r, amount in mode.renewable:
            profiles[r].add(start, start + mode.duration, amount)
        rev_end[j] = start + mode.duration
        for p, _ in inst.preds[j]:
            outdegree[p] -= 1
            if outdegree[p] == 0:
                heapq.heappush(ready, (-solution.ends[p], p))
    return [-float(e) for e in rev_end]


def justify(inst: Instance, solution: Solution, rounds: int = 3) -> Solution:
    """Forward-backward improvement: repeat while it shortens the schedule."""
    best = solution
    for _ in range(rounds):
        candidate = serial_sgs(inst, backward_order(inst, best), modes=best.modes)
        if not better(inst, candidate, best):
            break
        assert candidate is not None
        best = candidate
    return best


def priorities(inst: Instance, rule: str) -> list[float]:
    """Priority value per task for a named rule (lower is scheduled first)."""
    if rule == "fifo":
        return [float(inst.release[j] * inst.n + j) for j in range(inst.n)]
    if rule == "lst":
        tail = tails(inst)
        return [float(-tail[j]) for j in range(inst.n)]
    if rule == "mts":
        return [float(-c) for c in _successor_counts(inst)]
    if rule == "grpw":
        return [
            -float(inst.min_duration[j] + sum(inst.min_duration[s] for s, _ in inst.succs[j]))
            for j in range(inst.n)
        ]
    raise ValueError(f"unknown priority rule {rule!r}")


def _successor_counts(inst: Instance) -> list[int]:
    reach = [0] * inst.n
    for j in reversed(inst.topo):
        bits = 0
        for s, _ in inst.succs[j]:
            bits |= reach[s] | (1 << s)
        reach[j] = bits
    return [bits.bit_count() for bits in reach]


def run_rule(inst: Instance, rule: str) -> Solution:
    """One pass of a priority rule; `fifo` takes the machine that frees first."""
    solution = serial_sgs(inst, priorities(inst, rule), choose="start" if rule == "fifo" else "ready")
    if solution is None:
        raise _no_schedule()
    return solution


def improve(
    inst: Instance,
    budget: float,
    seed: int = 0,
    on_better: Callable[[Solution], None] | None = None,
    start: Solution | None = None,
    stop: threading.Event | None = None,
) -> Solution:
    """Best rule (or `start`), then biased random sampling and justification until the budget ends."""
    deadline = time.monotonic() + budget
    incumbent = start if start is not None else _best_rule(inst, deadline)
    rng = random.Random(seed)
    lst = priorities(inst, "lst")
    spread = max(1.0, float(max(lst, default=0) - min(lst, default=0)))
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        sample = _sample(inst, rng, lst, spread, incumbent)
        if sample is not None and better(inst, sample, incumbent):
            incumbent = sample
            if on_better is not None:
                on_better(incumbent)
    return incumbent


def _best_rule(inst: Instance, deadline: float) -> Solution:
    """Every rule with every mode choice; the best ones justified while time allows."""
    base = {rule: priorities(inst, rule) for rule in RULES}
    found = [
        solution
        for prio in base.values()
        for choose in CHOICES
        if (solution := serial_sgs(inst, prio, choose=choose)) is not None
    ]
    if not found:
        raise _no_schedule()
    found.sort(key=lambda solution: solution.objective)
    best = justify(inst, found[0])
    for candidate in found[1:]:
        if time.monotonic() >= deadline:
            break
        candidate = justify(inst, candidate)
        if better(inst, candidate, best):
            best = candidate
    return best


def _sample(
    inst: Instance, rng: random.Random, lst: list[float], spread: float, best: Solution
) -> Solution | None:
    """One randomised pass: noisy LST keys or noisy starts of the best schedule, then justified."""
    if rng.random() < 0.5:
        noise = rng.uniform(0.02, 0.3) * spread
        prio = [lst[j] + rng.random() * noise for j in range(inst.n)]
    else:
        noise = rng.uniform(0.02, 0.2) * max(1, best.makespan)
        prio = [best.starts[j] + rng.random() * noise for j in range(inst.n)]
    found = serial_sgs(inst, prio, choose=rng.choice(CHOICES))
    return justify(inst, found) if found is not None else None


def _no_schedule() -> InvalidInput:
    return InvalidInput(
        "no feasible schedule found: a task has no mode whose calendar, release and budgets allow it"
    )
