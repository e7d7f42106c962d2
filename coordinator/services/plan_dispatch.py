"""Dispatch that follows the plan: a free machine gets its next planned job whose inputs are ready.

A job goes to another machine only when its planned machine is gone (offline, removed); jobs that
are not part of a build, or not planned yet, are matched first-in first-out like a shared queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from coordinator.db import one_of
from coordinator.models.builds import Build, BuildState, BuildTask, PurchaseItem, PurchaseState
from coordinator.models.jobs import Job, JobState
from coordinator.services.dispatch import FifoPolicy, IdleMachine, QueuedJob
from coordinator.services.network import online_machine_keys


@dataclass(frozen=True)
class _Planned:
    job: QueuedJob
    machine: str | None
    start: float


class PlanPolicy:
    """The DispatchPolicy used when builds are planned (the coordinator's default)."""

    def __init__(self) -> None:
        self.fallback = FifoPolicy()

    def choose(
        self, session: Session, queued_jobs: Sequence[QueuedJob], idle_machines: Sequence[IdleMachine]
    ) -> list[tuple[QueuedJob, IdleMachine]]:
        planned, unplanned = _split(session, queued_jobs)
        online = online_machine_keys(session)
        pairs: list[tuple[QueuedJob, IdleMachine]] = []
        free: list[IdleMachine] = []
        for machine in idle_machines:
            key = f"{machine.fablab}/{machine.machine_id}"
            mine = sorted((p for p in planned if p.machine == key), key=lambda p: p.start)
            if mine:
                planned.remove(mine[0])
                pairs.append((mine[0].job, machine))
            else:
                free.append(machine)
        orphans = [p.job for p in planned if p.machine is None or p.machine not in online]
        pairs += self.fallback.choose(session, [*unplanned, *orphans], free)
        return pairs


def _split(session: Session, queued: Sequence[QueuedJob]) -> tuple[list[_Planned], list[QueuedJob]]:
    """Ready build jobs with their plan, and jobs that belong to no build."""
    by_id = {j.id: j for j in queued}
    tasks = session.exec(select(BuildTask).where(one_of(session, col(BuildTask.job_id), list(by_id)))).all()
    in_builds = {t.job_id for t in tasks}
    ready = _ready_tasks(session, tasks)
    planned = [
        _Planned(by_id[t.job_id], t.planned_machine, t.planned_start.timestamp() if t.planned_start else 0.0)
        for t in tasks
        if t.job_id in by_id and t.id in ready
    ]
    return planned, [j for j in queued if j.id not in in_builds]


def _ready_tasks(session: Session, tasks: Sequence[BuildTask]) -> set[int | None]:
    """Tasks of live builds whose predecessor jobs are done and whose purchased parts arrived."""
    build_ids = {t.build_id for t in tasks}
    live = set(
        session.exec(
            select(Build.id).where(
                col(Build.id).in_(build_ids), col(Build.state).in_([BuildState.ACTIVE, BuildState.BLOCKED])
            )
        ).all()
    )
    done = {
        (task.build_id, task.task_id)
        for task, state in session.exec(
            select(BuildTask, Job.state)
            .join(Job, col(Job.id) == col(BuildTask.job_id))
            .where(col(BuildTask.build_id).in_(live))
        ).all()
        if state == JobState.DONE
    }
    received = {
        (p.build_id, p.part_id)
        for p in session.exec(select(PurchaseItem).where(col(PurchaseItem.build_id).in_(live)))
        if p.state == PurchaseState.RECEIVED
    }
    return {
        t.id
        for t in tasks
        if t.build_id in live
        and all((t.build_id, d) in done for d in t.depends_on)
        and all((t.build_id, p) in received for p in t.needs_purchases)
    }
