"""Writes the ledger: each source event's economic events, in the transaction of that source event.

Rows are only ever added. Each has a key naming its source event, and a key already written is left
alone, so a source seen again (a replayed message, a second reaction to the same job) adds nothing.
Attempts are recorded once they ended: at the job's end, or at its next start for an attempt that
went back to the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from coordinator.jobs.bus import UnitOfWork
from coordinator.jobs.lifecycle import AttemptState, JobState
from coordinator.jobs.rows import AttemptSnap, EventRow, JobEnded, JobStarted
from coordinator.ledger import mapping
from coordinator.models.base import aware
from coordinator.models.builds import Build, PurchaseItem
from coordinator.models.designs import Design, DesignMaintainer, DesignVersion
from coordinator.models.fablab import JobRun, Spool
from coordinator.models.jobs import Job, JobAttempt, JobEvent
from coordinator.models.ledger import LedgerEvent

# job states in which the machine has started on the part
STARTED = frozenset({JobState.ACCEPTED, JobState.RUNNING, JobState.PAUSED, JobState.WAITING_OPERATOR})
# attempts that end before their machine starts: no machine time, no material
NOT_STARTED = frozenset({AttemptState.REJECTED, AttemptState.OFFERED, AttemptState.NEEDS_PREPARATION})


def record(session: Session, drafts: Sequence[mapping.Draft]) -> int:
    """Add the drafts not written yet; return how many were added."""
    if not drafts:
        return 0
    keys = [draft.key for draft in drafts]
    known = set(session.exec(select(LedgerEvent.key).where(col(LedgerEvent.key).in_(keys))))
    added = 0
    for draft in drafts:
        if draft.key not in known:
            session.add(LedgerEvent(**asdict(draft)))
            known.add(draft.key)
            added += 1
    return added


# ---- job attempts --------------------------------------------------------------------------------


def on_job_started(uow: UnitOfWork, event: JobStarted) -> None:
    """Earlier attempts of the job ended before this one started: record them."""
    record_attempts(uow, event.job_id, ended=False)


def on_job_ended(uow: UnitOfWork, event: JobEnded) -> None:
    """The job ended: record its attempts (the last one ended just now)."""
    record_attempts(uow, event.job_id, ended=True)


def record_attempts(uow: UnitOfWork, job_id: str, *, ended: bool) -> int:
    """Record every ended attempt of a job that its machine started or finished; return the events added.

    Attempts are read through the unit of work's store, as this unit of work left them (not yet
    written); their runs for the spool and filament, the job's events for when the machine started.
    A job that starts with no attempt ended before (its first start) costs one query.
    """
    session = uow.session
    ids = session.exec(select(JobAttempt.id).where(JobAttempt.job_id == job_id)).all()
    attempts = sorted(uow.store.attempts(ids).values(), key=lambda a: a.created_at)
    job = session.get(Job, job_id) if ended or any(a.ended_at for a in attempts) else None
    if job is None:
        return 0
    runs = {r.attempt_id: r for r in session.exec(select(JobRun).where(JobRun.job_id == job_id))}
    events = _attempt_events(session, uow, job_id)
    beneficiary = _beneficiary(session, job)
    drafts: list[mapping.Draft] = []
    for attempt in attempts:
        facts = _facts(session, job, attempt, runs.get(attempt.id), events.get(attempt.id, []), beneficiary)
        if facts is not None:
            drafts += mapping.attempt_events(facts)
    return record(session, drafts)


@dataclass(frozen=True)
class _Logged:
    """A job event row of an attempt: written already, or queued by this unit of work."""

    type: str
    to_state: str | None
    payload: dict[str, Any]
    at: datetime


def _attempt_events(session: Session, uow: UnitOfWork, job_id: str) -> dict[str, list[_Logged]]:
    """Per attempt, its job events in order: those written, then those this unit of work queued."""
    written = session.exec(select(JobEvent).where(JobEvent.job_id == job_id).order_by(col(JobEvent.id))).all()
    rows: list[JobEvent | EventRow] = [*written, *uow.store.pending_events(job_id)]
    found: dict[str, list[_Logged]] = {}
    for row in rows:
        if row.attempt_id:
            logged = _Logged(row.type, row.to_state, dict(row.payload or {}), aware(row.at))
            found.setdefault(row.attempt_id, []).append(logged)
    return found


def _facts(
    session: Session, job: Job, attempt: AttemptSnap, run: JobRun | None, events: list[_Logged],
    beneficiary: str,
) -> mapping.AttemptFacts | None:  # fmt: skip
    """An attempt as the ledger sees it; None while it runs, or when its machine never started it."""
    ended = attempt.ended_at or (run.ended_at if run is not None else None)
    started = [e.at for e in events if e.to_state in STARTED]
    if ended is None or attempt.state in NOT_STARTED:
        return None
    if run is None and not started and attempt.state != AttemptState.DONE:
        return None
    begin = aware(run.started_at) if run is not None else min(started, default=aware(attempt.created_at))
    spool = session.get(Spool, run.spool_id) if run is not None and run.spool_id is not None else None
    operators = [
        str(e.payload["by"]) for e in events if e.type.startswith("operator:") and e.payload.get("by")
    ]
    # a job cancelled on the coordinator closes its run before its machine confirms the attempt stopped
    state = attempt.state if attempt.ended_at or run is None else run.state
    return mapping.AttemptFacts(
        attempt_id=attempt.id, job_id=job.id, state=state, fablab=attempt.fablab,
        machine_id=attempt.machine_id, process=job.process, started_at=begin, ended_at=aware(ended),
        part=mapping.part_resource(job.design, job.design_version, job.part_id, job.file_sha256),
        copies=_copies(job), design=job.design, design_version=job.design_version,
        build_id=_build_id(job), beneficiary=beneficiary, operators=tuple(dict.fromkeys(operators)),
        material=spool.material if spool is not None else job.material, grams=_grams(run),
        spool_id=run.spool_id if run is not None else None,
    )  # fmt: skip


def _grams(run: JobRun | None) -> float | None:
    """What the attempt used: as its run closed it, else what was taken off the spool at its start."""
    if run is None:
        return None
    return run.filament_used_g if run.ended_at is not None else run.filament_estimate_g


def _copies(job: Job) -> int:
    copies = (job.params or {}).get("copies")
    return copies if isinstance(copies, int) and copies > 0 else 1


def _build_id(job: Job) -> str | None:
    build_id = (job.params or {}).get("build")
    return build_id if isinstance(build_id, str) else None


def _beneficiary(session: Session, job: Job) -> str:
    """Whom the part is made for: the person who started its build, or who submitted the job."""
    build_id = _build_id(job)
    build = session.get(Build, build_id) if build_id else None
    name = build.started_by if build is not None else job.submitted_by
    return mapping.person(name) if name else ""


# ---- designs and purchases -----------------------------------------------------------------------


def record_publish(session: Session, design: Design, version: DesignVersion, homepage: str = "") -> int:
    """A version was published: work by its publisher and maintainers, citations of its sources."""
    maintainers = session.exec(
        select(DesignMaintainer.name)
        .where(DesignMaintainer.design_id == design.id)
        .order_by(col(DesignMaintainer.id))
    ).all()
    facts = mapping.PublishFacts(
        design=design.slug, version=version.version, published_by=version.published_by,
        at=aware(version.published_at), maintainers=tuple(maintainers),
        lineage={k: str(v) for k, v in (version.lineage or {}).items()}, homepage=homepage,
    )  # fmt: skip
    return record(session, mapping.publish_events(facts))


def record_purchase(session: Session, build: Build, item: PurchaseItem, at: datetime) -> int:
    """A purchase line was received at the build site."""
    assert item.id is not None
    facts = mapping.PurchaseFacts(
        item_id=item.id, build_id=build.id, part_id=item.part_id, name=item.name, quantity=item.quantity,
        unit=item.unit, site=build.site, supplier=item.supplier, at=aware(at), design=build.design,
        design_version=build.design_version,
    )  # fmt: skip
    return record(session, mapping.purchase_events(facts))
