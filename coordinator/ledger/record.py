"""Writes the ledger: each source event's economic events, in the transaction of that source event.

Rows are only ever added. Each has a key naming its source event, and a key already written is left
alone, so a source seen again (a replayed message, a second reaction to the same job) adds nothing.
Runs are recorded when they close: at the job's end, or at its next start for an attempt that went
back to the queue (the run reactions close it there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime

from sqlmodel import Session, col, select

from coordinator.jobs.bus import UnitOfWork
from coordinator.jobs.rows import JobEnded, JobStarted
from coordinator.ledger import mapping
from coordinator.models.base import aware
from coordinator.models.builds import Build, PurchaseItem
from coordinator.models.designs import Design, DesignMaintainer, DesignVersion
from coordinator.models.fablab import JobRun, Spool
from coordinator.models.jobs import Job, JobEvent
from coordinator.models.ledger import LedgerEvent


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


# ---- job runs ------------------------------------------------------------------------------------


def on_job_started(uow: UnitOfWork, event: JobStarted) -> None:
    """Runs of earlier attempts were closed as this attempt started: record them."""
    record_runs(uow, event.job_id)


def on_job_ended(uow: UnitOfWork, event: JobEnded) -> None:
    """The job ended: record its runs (the last one closed just now)."""
    record_runs(uow, event.job_id)


def record_runs(uow: UnitOfWork, job_id: str) -> int:
    """Record every closed run of a job; return the events added."""
    session = uow.session
    closed = select(JobRun).where(JobRun.job_id == job_id, col(JobRun.ended_at).is_not(None))
    runs = session.exec(closed.order_by(col(JobRun.id))).all()
    job = session.get(Job, job_id) if runs else None
    if job is None:
        return 0
    operators = _operators(session, uow, job_id)
    beneficiary = _beneficiary(session, job)
    drafts = [
        draft
        for run in runs
        for draft in mapping.run_events(_facts(session, job, run, beneficiary, operators.get(run.attempt_id)))
    ]
    return record(session, drafts)


def _facts(
    session: Session, job: Job, run: JobRun, beneficiary: str, operators: Iterable[str] | None
) -> mapping.RunFacts:
    spool = session.get(Spool, run.spool_id) if run.spool_id is not None else None
    assert run.id is not None and run.ended_at is not None
    return mapping.RunFacts(
        run_id=run.id, job_id=job.id, state=run.state, fablab=run.fablab, machine_id=run.machine_id,
        process=run.process, started_at=aware(run.started_at), ended_at=aware(run.ended_at),
        part=mapping.part_resource(job.design, job.design_version, job.part_id, job.file_sha256),
        copies=_copies(job), design=job.design, design_version=job.design_version, build_id=run.build_id,
        beneficiary=beneficiary, operators=tuple(operators or ()),
        material=spool.material if spool is not None else job.material, grams=run.filament_used_g,
        spool_id=run.spool_id,
    )  # fmt: skip


def _copies(job: Job) -> int:
    copies = (job.params or {}).get("copies")
    return copies if isinstance(copies, int) and copies > 0 else 1


def _beneficiary(session: Session, job: Job) -> str:
    """Whom the part is made for: the person who started its build, or who submitted the job."""
    build_id = (job.params or {}).get("build")
    build = session.get(Build, build_id) if isinstance(build_id, str) else None
    name = build.started_by if build is not None else job.submitted_by
    return mapping.person(name) if name else ""


def _operators(session: Session, uow: UnitOfWork, job_id: str) -> dict[str, tuple[str, ...]]:
    """Per attempt, the people who acted on it (their requests are logged with the job, naming them)."""
    written = session.exec(
        select(JobEvent.attempt_id, JobEvent.payload).where(
            JobEvent.job_id == job_id, col(JobEvent.type).startswith("operator:")
        )
    ).all()
    pending = [(e.attempt_id, e.payload) for e in uow.store.pending_events(job_id)
               if e.type.startswith("operator:")]  # fmt: skip
    found: dict[str, list[str]] = {}
    for attempt_id, payload in [*written, *pending]:
        name = (payload or {}).get("by")
        if attempt_id and isinstance(name, str) and name and name not in found.get(attempt_id, []):
            found.setdefault(attempt_id, []).append(name)
    return {attempt: tuple(names) for attempt, names in found.items()}


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
