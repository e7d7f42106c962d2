"""Plan every active build across the network, and plan again when the network or the work changes, or
when the machines taught the planner something new: a measured speed factor that moved, or a machine's
own estimate of a job it prepared.

The dispatcher's thread calls `Planner.tick` once a tick (housekeeping). A heuristic plan is written at once;
CP-SAT improves it in a background thread, whose better schedules are written on later ticks, so
planning never blocks dispatch and never writes from a second thread.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from coordinator.fablab.statistics import measured_speeds
from coordinator.jobs.lifecycle import ACTIVE_STATES, JobState
from coordinator.jobs.queries import machine_estimates
from coordinator.models.base import aware, utcnow
from coordinator.models.builds import Build, BuildState, BuildTask, Plan, PurchaseItem, PurchaseState
from coordinator.models.fablab import JobRun
from coordinator.models.jobs import Job, JobAttempt
from coordinator.planning.breakdown import AssemblyTask, Breakdown, FabTask
from coordinator.planning.matching import Requirement
from coordinator.planning.problem import (
    BuildInput,
    PlanningProblem,
    build_problem,
    split_key,
    task_key,
    with_previous,
)
from coordinator.scheduling.model import Schedule
from coordinator.scheduling.runner import PlanHandle, start_plan
from coordinator.services import builds
from coordinator.services.network import machine_key, network, online_machine_keys

log = logging.getLogger(__name__)
LIVE_BUILD_STATES = (BuildState.ACTIVE, BuildState.BLOCKED)
BAD_ATTEMPTS = ("expired", "failed", "rejected")
# a measured speed factor has to move this much (relative) from the one the plan used to plan again
SPEED_DRIFT = 0.1


@dataclass(frozen=True)
class _Learned:
    """What the machines had taught the planner when it last looked: done runs with an estimate (the
    measured speed factors come from them), the measured factors, and jobs of live builds that carry
    their machine's own estimate."""

    runs: int = 0
    speeds: Mapping[str, float] = field(default_factory=dict)
    estimated: int = 0


@dataclass
class _Pending:
    generation: int
    origin: datetime
    planning: PlanningProblem
    schedule: Schedule
    reason: str
    scale: float = 1.0


class Planner:
    """Keeps one plan over all live builds; dispatch follows it (see plan_dispatch)."""

    def __init__(
        self, *, time_limit_s: float = 10.0, replan_every_s: float = 600.0, learn_every_s: float = 60.0
    ) -> None:
        self.time_limit_s = time_limit_s
        self.replan_every_s = replan_every_s
        # how often to look for new measured speeds and machine estimates (a plan costs time_limit_s of CPU)
        self.learn_every_s = learn_every_s
        # machines that run this many times faster than their estimates (the demo's simulated ones):
        # plans are made in machine minutes and stored on the wall clock
        self.time_scale = 1.0
        self._lock = threading.Lock()
        self._generation = 0
        self._pending: _Pending | None = None
        self._handle: PlanHandle | None = None
        self._signature: tuple[Any, ...] | None = None
        self._planned_at = 0.0
        self._work_changed = False
        self._learned = _Learned()
        self._learned_at = 0.0

    def work_changed(self) -> None:
        """A build's work changed (started, a part failed or was made again, ended): plan again."""
        self._work_changed = True

    def tick(self, session: Session) -> None:
        """Plan again when the work or the network changed, and store better schedules."""
        changed, self._work_changed = self._work_changed, False
        signature = _signature(session)
        stale = time.monotonic() - self._planned_at > self.replan_every_s
        if changed or signature != self._signature or (stale and signature[1]):
            reason = (
                "work changed"
                if changed
                else "network changed"
                if signature != self._signature
                else "refresh"
            )
            self._signature = signature
            self.replan(session, reason)
        elif signature[1] and (lesson := self._lesson(session)):
            self.replan(session, lesson)
        self._store_pending(session)

    def _lesson(self, session: Session) -> str | None:
        """What the machines taught since the plan was made, worth planning again for (None: nothing, or
        looked less than learn_every_s ago)."""
        now = time.monotonic()
        if now - self._learned_at < self.learn_every_s:
            return None
        self._learned_at = now
        runs, estimated = _learning_counts(session)
        if estimated > self._learned.estimated:
            return "machine estimates"
        if runs == self._learned.runs:
            return None
        speeds = measured_speeds(session)
        moved = _moved(self._learned.speeds, speeds)
        self._learned = _Learned(runs, self._learned.speeds, estimated)
        if len(moved) > 1:
            return f"measured speeds of {len(moved)} machines"
        return f"measured speed of {moved[0]}" if moved else None

    def replan(self, session: Session, reason: str) -> None:
        """Start a new plan of every live build (the previous search, if any, is stopped)."""
        self._planned_at = time.monotonic()
        origin = utcnow()
        inputs = build_inputs(session, origin, self.time_scale)
        if not inputs:
            return
        sites = sorted({b.site for b in inputs})
        machines = network(session, origin, sites)
        runs, estimated = _learning_counts(session)
        self._learned = _Learned(runs, machines.measured_speeds, estimated)
        planning = with_previous(build_problem(inputs, machines),
                                 previous_hints(session, origin, self.time_scale))  # fmt: skip
        _record_unmatched(session, planning, inputs)
        if not planning.problem.tasks:
            return
        with self._lock:
            self._generation += 1
            generation = self._generation
        if self._handle is not None:
            self._handle.cancel()

        scale = self.time_scale

        def publish(schedule: Schedule) -> None:
            with self._lock:
                if generation == self._generation:
                    self._pending = _Pending(generation, origin, planning, schedule, reason, scale)

        self._handle = start_plan(planning.problem, self.time_limit_s, publish)
        self._store_pending(session)

    def wait(self, timeout: float) -> None:
        """Let the background search finish (used by tests and benchmarks)."""
        if self._handle is not None:
            self._handle.wait(timeout)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def _store_pending(self, session: Session) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            store_plan(session, pending.origin, pending.planning, pending.schedule, pending.reason,
                       pending.scale)  # fmt: skip


def _signature(session: Session) -> tuple[Any, ...]:
    online = online_machine_keys(session)
    live = frozenset(session.exec(select(Build.id).where(col(Build.state).in_(LIVE_BUILD_STATES))).all())
    bad = session.exec(
        select(func.count()).select_from(JobAttempt).where(col(JobAttempt.state).in_(BAD_ATTEMPTS))
    ).one()
    return (online, live, int(bad))


def _learning_counts(session: Session) -> tuple[int, int]:
    """Done runs that had an estimate, and jobs of live builds with their machine's own estimate."""
    measured = (JobRun.state == "done", col(JobRun.planned_s).is_not(None))
    runs = session.exec(select(func.count()).select_from(JobRun).where(*measured)).one()
    estimated = session.exec(
        select(func.count())
        .select_from(Job)
        .join(BuildTask, col(BuildTask.job_id) == col(Job.id))
        .join(Build, col(Build.id) == col(BuildTask.build_id))
        .where(col(Job.estimate_s).is_not(None), col(Build.state).in_(LIVE_BUILD_STATES))
    ).one()
    return int(runs), int(estimated)


def _moved(used: Mapping[str, float], measured: Mapping[str, float]) -> list[str]:
    """Machines whose measured speed factor is new, or SPEED_DRIFT or more away from the one used."""
    return sorted(
        key
        for key, speed in measured.items()
        if key not in used or abs(speed - used[key]) >= SPEED_DRIFT * used[key]
    )


def build_inputs(session: Session, origin: datetime, scale: float = 1.0) -> list[BuildInput]:
    """What is left of each live build, as the planner needs it (in machine minutes: wall-clock
    minutes times `scale`)."""
    inputs = []
    for build in session.exec(
        select(Build).where(col(Build.state).in_(LIVE_BUILD_STATES)).order_by(col(Build.created_at))
    ):
        rows = builds.build_tasks(session, build.id)
        own = machine_estimates(session, [j.id for _, j in rows if j is not None])
        received = {p.part_id for p in _purchases(session, build.id) if p.state == PurchaseState.RECEIVED}
        inputs.append(
            BuildInput(
                build_id=build.id,
                breakdown=_breakdown(session, build, rows, received, origin, scale),
                site=build.site,
                weight=1 + max(0, build.priority),
                due_minutes=math.ceil(_minutes(build.due_at, origin) * scale) if build.due_at else None,
                done=frozenset(t.task_id for t, j in rows if j is not None and j.state == JobState.DONE),
                running={
                    t.task_id: (machine_key(j.fablab, j.machine_id), 0)
                    for t, j in rows
                    if j is not None and j.state in ACTIVE_STATES and j.fablab and j.machine_id
                },
                estimates={t.task_id: own[j.id] for t, j in rows if j is not None and j.id in own},
            )
        )
    return inputs


def _purchases(session: Session, build_id: str) -> list[PurchaseItem]:
    return list(session.exec(select(PurchaseItem).where(PurchaseItem.build_id == build_id)))


def _breakdown(
    session: Session, build: Build, rows: list[tuple[BuildTask, Any]], received: set[str], origin: datetime,
    scale: float = 1.0,
) -> Breakdown:  # fmt: skip
    """Rebuild the breakdown from the stored tasks (the BOM may have been exploded long ago)."""
    arrivals = {p.part_id: builds.expected_arrival(build, p, origin) for p in _purchases(session, build.id)}
    result = Breakdown(units=build.units, root=_root_part(session, build))
    for task, job in rows:
        if task.kind == "fab":
            requirement = _requirement(job)
            result.fab_tasks.append(
                FabTask(
                    task.task_id,
                    task.part_id,
                    task.copies,
                    requirement,
                    task.minutes,
                    "",
                    tuple(range(task.copies)),
                )
            )
        else:
            # a part arrives its lead time after it was ordered (one not ordered yet: from now)
            waits = [_minutes(arrival, origin) * scale for p in task.needs_purchases
                     if p not in received and (arrival := arrivals.get(p)) is not None]  # fmt: skip
            result.assembly_tasks.append(
                AssemblyTask(task.task_id, task.part_id, 0, task.minutes, "build-site",
                             max([0.0, *waits]), tuple(task.depends_on))
            )  # fmt: skip
    return result


def _requirement(job: Any) -> Requirement:
    """What a build task's job needs from a machine, as dispatch will check it."""
    from coordinator.fablab.waiting import job_requirement

    return Requirement(process="") if job is None else job_requirement(job)


def _root_part(session: Session, build: Build) -> str:
    from coordinator.services import designs

    return designs.get_version(session, build.design, build.design_version).root


def _minutes(moment: datetime, origin: datetime) -> int:
    return math.ceil((aware(moment) - origin).total_seconds() / 60.0)


def previous_hints(session: Session, origin: datetime, scale: float = 1.0) -> dict[str, tuple[str, int]]:
    """The current plan as {task key: (machine, start minute)}, for a new plan to stay close to."""
    rows = session.exec(
        select(BuildTask)
        .join(Build, col(Build.id) == col(BuildTask.build_id))
        .where(col(Build.state).in_(LIVE_BUILD_STATES), col(BuildTask.planned_machine).is_not(None))
    ).all()
    return {
        task_key(t.build_id, t.task_id): (
            t.planned_machine,
            max(0, math.ceil(_minutes(t.planned_start, origin) * scale)),
        )
        for t in rows
        if t.planned_start is not None and t.planned_machine is not None
    }


def _record_unmatched(session: Session, planning: PlanningProblem, inputs: list[BuildInput]) -> None:
    """Block builds with parts no online machine can make; unblock the others."""
    messages: dict[str, list[str]] = {}
    part_builds: dict[str, set[str]] = {}
    for build in inputs:
        for part_id in [t.part_id for t in build.breakdown.fab_tasks] + [
            t.part_id for t in build.breakdown.assembly_tasks
        ]:
            part_builds.setdefault(part_id, set()).add(build.build_id)
    for unmatched in planning.unmatched:
        for build_id in part_builds.get(unmatched.part_id, ()):
            messages.setdefault(build_id, []).append(unmatched.message)
    for build in inputs:
        record = session.get(Build, build.build_id)
        if record is None:
            continue
        if build.build_id in messages:
            record.state, record.reason = BuildState.BLOCKED, "; ".join(messages[build.build_id])
        elif record.state == BuildState.BLOCKED:
            record.state, record.reason = BuildState.ACTIVE, ""


def store_plan(
    session: Session, origin: datetime, planning: PlanningProblem, schedule: Schedule, reason: str,
    scale: float = 1.0,
) -> Plan:  # fmt: skip
    """Write planned machine, start and end on every build task, and the plan's figures (machine
    minutes divided by `scale`: the wall clock of machines that run faster than their estimates)."""
    names = {t.id: [m.name for m in t.modes] for t in planning.problem.tasks}
    by_key = {(t.build_id, t.task_id): t for t in _live_tasks(session)}
    finish: dict[str, datetime] = {}
    changed = 0
    for entry in schedule.tasks:
        build_id, task_id = split_key(entry.id)
        task = by_key.get((build_id, task_id))
        if task is None:
            continue
        machine = names[entry.id][entry.mode]
        changed += int(task.planned_machine not in (None, machine))
        task.planned_machine = machine
        task.planned_source = planning.sources[entry.id][entry.mode]
        task.planned_start = origin + timedelta(minutes=entry.start / scale)
        task.planned_end = origin + timedelta(minutes=entry.end / scale)
        finish[build_id] = max(finish.get(build_id, task.planned_end), task.planned_end)
    for build_id, end in finish.items():
        build = session.get(Build, build_id)
        if build is not None:
            build.planned_finish_at, build.lower_bound_min = end, math.ceil(schedule.lower_bound / scale)
    plan = Plan(origin_at=origin, reason=reason, policy=schedule.policy, status=str(schedule.status),
                makespan_min=math.ceil(schedule.makespan / scale),
                lower_bound_min=math.ceil(schedule.lower_bound / scale),
                gap=round(schedule.gap, 4), tasks=len(schedule.tasks), changed_modes=changed)  # fmt: skip
    session.add(plan)
    log.info("plan %s (%s): makespan %d min, lower bound %d, %s", reason, schedule.policy,
             schedule.makespan, schedule.lower_bound, schedule.status)  # fmt: skip
    return plan


def _live_tasks(session: Session) -> list[BuildTask]:
    return list(
        session.exec(
            select(BuildTask)
            .join(Build, col(Build.id) == col(BuildTask.build_id))
            .where(col(Build.state).in_(LIVE_BUILD_STATES))
        )
    )


def latest_plan(session: Session) -> Plan | None:
    return session.exec(select(Plan).order_by(col(Plan.id).desc())).first()
