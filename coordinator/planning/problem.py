"""Turn builds (their breakdowns) and the machines of the network into one scheduling Problem.

Time is in whole minutes from "now" (t = 0). Machine choice is a mode; transport from the fablab
that makes a part to the build site is a per-mode lag; opening hours are start calendars.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from coordinator.planning.breakdown import Breakdown
from coordinator.planning.durations import MachineEstimate, duration
from coordinator.planning.matching import MachineView, Requirement, Unmatched, closest_machine, eligible
from coordinator.scheduling.model import (
    Calendar,
    FixedTask,
    Mode,
    Precedence,
    Problem,
    Resource,
    ScheduledTask,
    Task,
)
from protocol.processes import ASSEMBLY

SEPARATOR = "/"
ASSEMBLY_PROCESS = ASSEMBLY


@dataclass(frozen=True)
class BuildInput:
    """One build's remaining work as the planner sees it."""

    build_id: str
    breakdown: Breakdown
    site: str  # fablab id of the build site
    weight: int = 1
    due_minutes: int | None = None
    done: frozenset[str] = frozenset()  # task ids already finished
    running: Mapping[str, tuple[str, int]] = field(default_factory=dict)  # task id -> (machine key, start)
    estimates: Mapping[str, MachineEstimate] = field(default_factory=dict)  # task id -> a machine's own


@dataclass(frozen=True)
class Network:
    """The machines, benches, opening hours and transport times the plan may use."""

    machines: Sequence[MachineView]
    transport_minutes: Mapping[tuple[str, str], int]  # (from fablab, to fablab) -> minutes
    calendars: Mapping[str, Calendar] = field(default_factory=dict)  # fablab -> start windows
    measured_speeds: Mapping[str, float] = field(default_factory=dict)  # machine key -> measured factor

    def transport(self, source: str, target: str) -> int:
        if source == target:
            return 0
        return int(
            self.transport_minutes.get((source, target), self.transport_minutes.get((target, source), 0))
        )


@dataclass
class PlanningProblem:
    problem: Problem
    unmatched: list[Unmatched]
    task_build: dict[str, str]  # scheduling task id -> build id
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)  # task id -> source per mode


def task_key(build_id: str, task_id: str) -> str:
    return f"{build_id}{SEPARATOR}{task_id}"


def split_key(key: str) -> tuple[str, str]:
    build_id, _, task_id = key.partition(SEPARATOR)
    return build_id, task_id


def build_problem(builds: Sequence[BuildInput], network: Network) -> PlanningProblem:
    """The scheduling problem of every unfinished task of `builds` on `network`."""
    online = [m for m in network.machines if m.online]
    resources = [Resource(m.key, 1, network.calendars.get(m.fablab)) for m in online]
    tasks: list[Task] = []
    precedences: list[Precedence] = []
    fixed: list[FixedTask] = []
    unmatched: list[Unmatched] = []
    task_build: dict[str, str] = {}
    sources: dict[str, tuple[str, ...]] = {}
    for build in builds:
        modes_of = _add_fab_tasks(build, online, network, tasks, fixed, unmatched, task_build, sources)
        _add_assemblies(build, online, network, modes_of, tasks, fixed, unmatched, precedences, task_build,
                        sources)  # fmt: skip
    known = {t.id for t in tasks}
    return PlanningProblem(
        problem=Problem(
            resources=tuple(resources),
            tasks=tuple(tasks),
            precedences=tuple(p for p in precedences if p.before in known and p.after in known),
            fixed=tuple(fixed),
            name="+".join(b.build_id for b in builds),
        ),
        unmatched=unmatched,
        task_build=task_build,
        sources=sources,
    )


def _modes(
    build: BuildInput, task_id: str, minutes: float, machines: Sequence[MachineView], network: Network
) -> list[tuple[Mode, str]]:
    """A mode per machine, its duration by the rule of coordinator/planning/durations.py, and its source."""
    own = build.estimates.get(task_id)
    modes = []
    for m in machines:
        took = duration(minutes, m.key, m.speed_factor, network.measured_speeds, own)
        modes.append((Mode(max(1, math.ceil(took.minutes)), {m.key: 1}, name=m.key), str(took.source)))
    return modes


def _add_fab_tasks(
    build: BuildInput,
    machines: Sequence[MachineView],
    network: Network,
    tasks: list[Task],
    fixed: list[FixedTask],
    unmatched: list[Unmatched],
    task_build: dict[str, str],
    sources: dict[str, tuple[str, ...]],
) -> dict[str, list[MachineView]]:
    """Add a task per unfinished fabrication task; return the machine of each mode by task id."""
    modes_of: dict[str, list[MachineView]] = {}
    reported: set[str] = set()
    for fab in build.breakdown.fab_tasks:
        if fab.id in build.done:
            continue
        options = eligible(fab.requirement, machines)
        if not options:
            if fab.part_id not in reported:
                unmatched.append(closest_machine(fab.part_id, fab.requirement, network.machines))
                reported.add(fab.part_id)
            continue
        key = task_key(build.build_id, fab.id)
        modes_of[fab.id] = options
        modes = _modes(build, fab.id, fab.minutes, options, network)
        tasks.append(Task(key, tuple(mode for mode, _ in modes), weight=build.weight))
        sources[key] = tuple(source for _, source in modes)
        task_build[key] = build.build_id
        _pin_running(build, fab.id, key, [m.key for m in modes_of[fab.id]], fixed)
    return modes_of


def _add_assemblies(
    build: BuildInput,
    machines: Sequence[MachineView],
    network: Network,
    modes_of: Mapping[str, list[MachineView]],
    tasks: list[Task],
    fixed: list[FixedTask],
    unmatched: list[Unmatched],
    precedences: list[Precedence],
    task_build: dict[str, str],
    sources: dict[str, tuple[str, ...]],
) -> None:
    """Assemblies run on the assembly benches of the build site (machines with process 'assembly')."""
    benches = [m for m in machines if m.process == ASSEMBLY_PROCESS and m.fablab == build.site]
    pending = [a for a in build.breakdown.assembly_tasks if a.id not in build.done]
    if pending and not benches:
        unmatched.append(
            Unmatched(pending[0].part_id, Requirement(ASSEMBLY_PROCESS), None, (f"no bench at {build.site}",))
        )
        return
    for asm in pending:
        key = task_key(build.build_id, asm.id)
        due = build.due_minutes if asm.part_id == build.breakdown.root else None
        modes = _modes(build, asm.id, asm.minutes, benches, network)
        tasks.append(Task(key, tuple(mode for mode, _ in modes), release=math.ceil(asm.release_minutes),
                          due=due, weight=build.weight))  # fmt: skip
        sources[key] = tuple(source for _, source in modes)
        task_build[key] = build.build_id
        _pin_running(build, asm.id, key, [b.key for b in benches], fixed)
        for child in asm.children:
            if child in build.done:
                continue
            before = task_key(build.build_id, child)
            if child in modes_of:
                lags = tuple(network.transport(m.fablab, build.site) for m in modes_of[child])
                precedences.append(Precedence(before, key, lag=max(lags), mode_lags=lags))
            else:
                precedences.append(Precedence(before, key))


def _pin_running(
    build: BuildInput, task_id: str, key: str, machine_keys: list[str], fixed: list[FixedTask]
) -> None:
    running = build.running.get(task_id)
    if running is not None and running[0] in machine_keys:
        fixed.append(FixedTask(key, machine_keys.index(running[0]), running[1]))


def with_previous(planning: PlanningProblem, hints: Mapping[str, tuple[str, int]]) -> PlanningProblem:
    """Add the plan being replaced ({task key: (machine name, start)}) so solvers stay close to it."""
    previous = []
    for task in planning.problem.tasks:
        hint = hints.get(task.id)
        names = [m.name for m in task.modes]
        if hint is not None and hint[0] in names:
            mode = names.index(hint[0])
            previous.append(ScheduledTask(task.id, mode, hint[1], hint[1] + task.modes[mode].duration))
    problem = dataclasses.replace(planning.problem, previous=tuple(previous))
    return dataclasses.replace(planning, problem=problem)
