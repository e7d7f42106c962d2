"""What people can be told of, written as notices in the unit of work where it happened.

A notice is written once (its key is unique; a second write of the same key is dropped) and delivered
after the commit by the notifier's worker (`delivery.py`), so no person's phone slows a job down.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from coordinator.jobs.lifecycle import JobState
from coordinator.jobs.rows import JobEnded, JobSnap
from coordinator.models.base import utcnow
from coordinator.models.fablab import Delivery, Notice
from protocol.payloads import MachineStatus

if TYPE_CHECKING:
    from coordinator.jobs.bus import UnitOfWork
    from coordinator.models.fablab import JobRun

# kind -> what a person picks when subscribing
KINDS: dict[str, str] = {
    "bed_clear": "a machine's bed needs clearing",
    "job_failed": "a job failed for good",
    "machine_error": "a machine reports an error",
    "machine_offline": "a machine went offline",
    "maintenance_due": "a maintenance task is due (the machine is held)",
    "build_late": "a build will miss its due date",
    "build_done": "a build is complete",
    "purchase_needed": "a build needs parts bought",
    "test": "a test notification (from the subscription's Test button)",
}


def add(
    session: Session,
    kind: str,
    key: str,
    title: str,
    *,
    fablab: str = "",
    body: str = "",
    link: str = "",
    subject: dict[str, Any] | None = None,
    only: int | None = None,
) -> None:
    """Write a notice unless one with this key exists (one statement; never fails the unit of work)."""
    table = Notice.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = {
        "kind": kind,
        "key": key[:200],
        "fablab": fablab,
        "title": title[:300],
        "body": body,
        "link": link,
        "subject": subject or {},
        "only_subscription": only,
        "fanned_out": False,
        "created_at": utcnow(),
    }
    session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=["key"]))


def prune(session: Session, before: datetime) -> int:
    """Delete the notices written before `before`, with their deliveries; return how many notices."""
    old = select(Notice.id).where(col(Notice.created_at) < before)
    session.execute(delete(Delivery).where(col(Delivery.notice_id).in_(old)))
    pruned = cast("CursorResult[Any]", session.execute(delete(Notice).where(col(Notice.created_at) < before)))
    return pruned.rowcount


def job_ended(uow: UnitOfWork, job: JobSnap, event: JobEnded, run: JobRun | None) -> None:
    """A job failed for good, or ended leaving a part on a bed someone must clear."""
    where = f"{job.fablab}/{job.machine_id}" if job.machine_id else "no machine"
    subject = {"job": job.id, "machine": where if job.machine_id else None, "state": event.state}
    if event.state == JobState.FAILED:
        add(
            uow.session,
            "job_failed",
            f"job_failed:{job.id}",
            f"Job {job.id[:8]} failed on {where}",
            fablab=job.fablab or "",
            body=event.reason,
            link=f"/dashboard/jobs/{job.id}",
            subject=subject,
        )
    if job.fablab is None or job.machine_id is None:
        return
    machine = uow.store.machines([(job.fablab, job.machine_id)]).get((job.fablab, job.machine_id))
    if machine is not None and machine.status == MachineStatus.WAITING_OPERATOR:
        add(
            uow.session,
            "bed_clear",
            f"bed_clear:{where}:{job.id}:{job.attempt_id}",
            f"Clear the bed of {where}",
            fablab=job.fablab,
            body=f"Job {job.id[:8]} ended {event.state}; the machine takes no job until its bed is cleared.",
            link="/dashboard/machines",
            subject=subject,
        )


def machine_status(session: Session, fablab: str, machine_id: str, status: str, at_key: str) -> None:
    """A machine reports an error or went offline."""
    if status not in (MachineStatus.ERROR, MachineStatus.OFFLINE):
        return
    kind = "machine_error" if status == MachineStatus.ERROR else "machine_offline"
    what = "reports an error" if status == MachineStatus.ERROR else "went offline"
    add(
        session,
        kind,
        f"{kind}:{fablab}/{machine_id}:{at_key}",
        f"{fablab}/{machine_id} {what}",
        fablab=fablab,
        link="/dashboard/machines",
        subject={"machine": f"{fablab}/{machine_id}"},
    )


def build_done(session: Session, build_id: str, design: str, site: str) -> None:
    add(
        session,
        "build_done",
        f"build_done:{build_id}",
        f"Build {build_id[:8]} of {design} is complete",
        fablab=site,
        link=f"/dashboard/builds/{build_id}",
        subject={"build": build_id},
    )


def purchase_needed(session: Session, build_id: str, design: str, site: str, lines: list[str]) -> None:
    add(
        session,
        "purchase_needed",
        f"purchase_needed:{build_id}",
        f"Build {build_id[:8]} of {design} needs {len(lines)} purchased part{'' if len(lines) == 1 else 's'}",
        fablab=site,
        body="To order: " + ", ".join(lines),
        link=f"/dashboard/builds/{build_id}",
        subject={"build": build_id},
    )


def build_late(session: Session, build_id: str, design: str, site: str, why: str) -> None:
    add(
        session,
        "build_late",
        f"build_late:{build_id}",
        f"Build {build_id[:8]} of {design} is late",
        fablab=site,
        body=why,
        link=f"/dashboard/builds/{build_id}",
        subject={"build": build_id},
    )


def maintenance_due(
    session: Session, fablab: str, machine_id: str, task_id: int, done_at: str, why: str
) -> None:
    add(
        session,
        "maintenance_due",
        f"maintenance_due:{task_id}:{done_at}",
        f"{fablab}/{machine_id}: maintenance due, machine held",
        fablab=fablab,
        body=why,
        link="/dashboard/maintenance",
        subject={"machine": f"{fablab}/{machine_id}", "task": task_id},
    )
