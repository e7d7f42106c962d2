"""Jobs: submission, the state machine, agent job events, leases and cancellation.

Every change of a job's state goes through `transition`, which queues the job event row in the
same session; callers commit once per unit of work, so a transition and its row land together.
The one exception is `offer_jobs`: the dispatch round's offers, the same queued -> assigned move
for many jobs in one statement, with their attempt and event rows in the same transaction.
How job and event rows are written in batches at flush time is in job_writes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from coordinator.db import one_of
from coordinator.filestore import FileStore
from coordinator.models.base import new_row, utcnow
from coordinator.models.designs import MeshAnalysis, StoredFile
from coordinator.models.jobs import (
    ACTIVE_STATES,
    FINAL_STATES,
    LIVE_ATTEMPT_STATES,
    AttemptState,
    Job,
    JobAttempt,
    JobEvent,
    JobState,
    Machine,
    new_id,
)
from coordinator.services.job_writes import (
    COORDINATOR,
    Source,
    add_row,
    assign_jobs,
    event_row,
    insert_attempt_rows,
    insert_event_rows,
    insert_job_rows,
)
from coordinator.services.records import LOADED, row_by_key, track
from protocol import payloads as p
from protocol.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

MAX_QUANTITY = 1000


class Trigger(StrEnum):
    SUBMITTED = "job:submitted"
    OFFERED = "job:offered"
    ACCEPTED = "job:accepted"
    PROGRESS = "job:progress"
    WAITING_OPERATOR = "job:waiting_operator"
    DONE = "job:done"
    FAILED = "job:failed"
    REJECTED = "job:rejected"
    AGENT_CANCELLED = "job:cancelled"
    LEASE_EXPIRED = "lease:expired"
    CANCEL = "job:cancel"


RETRY = "retry"  # target: queued again while attempts remain, else failed
_WORKING = frozenset({JobState.ACCEPTED, JobState.RUNNING, JobState.WAITING_OPERATOR})
_ANY_LIVE = ACTIVE_STATES | {JobState.QUEUED}

# trigger -> (states it may leave from, state it goes to): the whole job state machine
TRANSITIONS: dict[Trigger, tuple[frozenset[str], str]] = {
    Trigger.OFFERED: (frozenset({JobState.QUEUED}), JobState.ASSIGNED),
    Trigger.ACCEPTED: (frozenset({JobState.ASSIGNED}), JobState.ACCEPTED),
    # a lost job:accepted must not strand a job that the agent reports as printing
    Trigger.PROGRESS: (frozenset({JobState.ASSIGNED, *_WORKING}), JobState.RUNNING),
    Trigger.WAITING_OPERATOR: (frozenset(ACTIVE_STATES), JobState.WAITING_OPERATOR),
    Trigger.DONE: (frozenset(ACTIVE_STATES), JobState.DONE),
    Trigger.FAILED: (frozenset(ACTIVE_STATES), RETRY),
    Trigger.REJECTED: (frozenset({JobState.ASSIGNED}), RETRY),
    Trigger.AGENT_CANCELLED: (frozenset(ACTIVE_STATES), RETRY),
    Trigger.LEASE_EXPIRED: (frozenset(ACTIVE_STATES), RETRY),
    Trigger.CANCEL: (frozenset(_ANY_LIVE), JobState.CANCELLED),
}

ATTEMPT_AFTER: dict[Trigger, AttemptState] = {
    Trigger.ACCEPTED: AttemptState.ACCEPTED,
    Trigger.PROGRESS: AttemptState.RUNNING,
    Trigger.WAITING_OPERATOR: AttemptState.WAITING_OPERATOR,
    Trigger.DONE: AttemptState.DONE,
    Trigger.FAILED: AttemptState.FAILED,
    Trigger.REJECTED: AttemptState.REJECTED,
    Trigger.AGENT_CANCELLED: AttemptState.CANCELLED,
    Trigger.LEASE_EXPIRED: AttemptState.EXPIRED,
    Trigger.CANCEL: AttemptState.CANCELLING,
}

EVENT_TRIGGERS: dict[str, Trigger] = {
    "job:accepted": Trigger.ACCEPTED,
    "job:rejected": Trigger.REJECTED,
    "job:progress": Trigger.PROGRESS,
    "job:waiting_operator": Trigger.WAITING_OPERATOR,
    "job:done": Trigger.DONE,
    "job:failed": Trigger.FAILED,
    "job:cancelled": Trigger.AGENT_CANCELLED,
}
# events that say the agent still works on an attempt (a stale one gets a cancel back)
_ALIVE_EVENTS = frozenset({"job:accepted", "job:progress", "job:waiting_operator"})


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Effects:
    """What a unit of work asks the transport to do once it has committed."""

    commands: list[tuple[str, str, BaseModel]] = field(default_factory=list)
    reannounce: dict[tuple[str, str], str] = field(default_factory=dict)
    dispatch_needed: bool = False

    def send(self, fablab: str, agent: str, command: BaseModel) -> None:
        self.commands.append((fablab, agent, command))


# ---- the state machine -------------------------------------------------------------------------


def transition(
    session: Session,
    job: Job,
    trigger: Trigger,
    *,
    attempt: JobAttempt | None = None,
    source: Source = COORDINATOR,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Move `job` along `trigger` and queue its event row; refuse (and log) an illegal move."""
    allowed, target = TRANSITIONS[trigger]
    if job.state not in allowed:
        log.info("job %s: %s refused in state %s", job.id, trigger.value, job.state)
        return None
    before = job.state
    job.state = _resolve(job, target, reason)
    _after(job, attempt, trigger, reason)
    row = event_row(
        job.id,
        trigger.value,
        before,
        job.state,
        attempt_id=attempt.id if attempt else job.attempt_id,
        payload=payload or ({"reason": reason} if reason else {}),
        source=source,
    )
    track(session, job)
    add_row(session, row)
    return row


def _resolve(job: Job, target: str, reason: str) -> str:
    if target != RETRY:
        return target
    if job.attempts >= job.max_attempts:
        job.reason = reason or "no attempts left"
        return JobState.FAILED
    return JobState.QUEUED


def _after(job: Job, attempt: JobAttempt | None, trigger: Trigger, reason: str) -> None:
    if attempt is not None and trigger in ATTEMPT_AFTER:
        attempt.state = ATTEMPT_AFTER[trigger]
        if attempt.state not in LIVE_ATTEMPT_STATES:
            attempt.ended_at = utcnow()
        if reason:
            attempt.reason = reason
    if job.state == JobState.QUEUED:
        job.attempt_id, job.fablab, job.machine_id = None, None, None
        job.progress, job.eta_s = 0.0, None
        job.reason = reason
    elif job.state in FINAL_STATES:
        job.ended_at = utcnow()
        if reason:
            job.reason = reason
        if job.state == JobState.DONE:
            job.progress = 1.0


# ---- submission --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """What a job needs: the file to run and the machine it can run on."""

    file_sha256: str
    file_name: str
    process: str
    material: str | None = None
    min_box_mm: tuple[float, float, float] | None = None
    nozzle_mm: float | None = None
    file_size: int = 0
    design: str | None = None
    design_version: str | None = None
    part_id: str | None = None
    priority: int = 0
    max_attempts: int = 3
    params: dict[str, Any] = field(default_factory=dict)


def submit_jobs(session: Session, spec: JobSpec, quantity: int = 1, submitted_by: str = "") -> list[str]:
    """Queue `quantity` identical jobs as one group, each with its own life; return their ids.

    The jobs and their `job:submitted` rows are written at once, in the session's transaction,
    as plain rows: no Job object is built (`get_job` loads one).
    """
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be between 1 and {MAX_QUANTITY}, got {quantity}")
    if spec.max_attempts < 1:
        raise InvalidInput(f"max_attempts must be at least 1, got {spec.max_attempts}")
    group = new_id()
    rows = [job_row(spec, group, submitted_by) for _ in range(quantity)]
    connection = session.connection()
    insert_job_rows(connection, rows)
    submitted = Trigger.SUBMITTED.value
    insert_event_rows(connection, [event_row(row["id"], submitted, None, JobState.QUEUED) for row in rows])
    return [row["id"] for row in rows]


def job_row(spec: JobSpec, group: str, submitted_by: str) -> dict[str, Any]:
    """A new queued job as plain values: every column of `job`."""
    return {
        "id": new_id(),
        "group_id": group,
        "state": JobState.QUEUED.value,
        "process": spec.process,
        "material": spec.material,
        "min_box_mm": sorted(spec.min_box_mm, reverse=True) if spec.min_box_mm else None,
        "nozzle_mm": spec.nozzle_mm,
        "file_sha256": spec.file_sha256,
        "file_name": spec.file_name,
        "file_size": spec.file_size,
        "design": spec.design,
        "design_version": spec.design_version,
        "part_id": spec.part_id,
        "params": dict(spec.params),
        "priority": spec.priority,
        "submitted_by": submitted_by,
        "created_at": utcnow(),
        "attempts": 0,
        "max_attempts": spec.max_attempts,
        "attempt_id": None,
        "fablab": None,
        "machine_id": None,
        "progress": 0.0,
        "eta_s": None,
        "reason": "",
        "ended_at": None,
        "version": 1,
    }


def store_upload(session: Session, store: FileStore, path: Path) -> tuple[str, int]:
    """Put an uploaded file in the content store (and its table); return (sha256, size)."""
    digest, _ = store.put_file(path)
    size = path.stat().st_size
    if session.get(StoredFile, digest) is None:
        session.add(StoredFile(sha256=digest, size=size))
    return digest, size


def spec_for_part(session: Session, slug: str, version: str, part_id: str, **extra: Any) -> JobSpec:
    """A job spec from a published design part: its file, process, material and mesh box."""
    from coordinator.services import designs

    release = designs.get_version(session, slug, version)
    part = next((p for p in designs.version_parts(session, release) if p.part_id == part_id), None)
    if part is None:
        raise NotFound(f"design {slug!r} {release.version} has no part {part_id!r}")
    if not part.file_sha256 or not part.process:
        raise InvalidInput(f"part {part_id!r} of {slug!r} {release.version} has no file or process to make")
    stored = session.get(StoredFile, part.file_sha256)
    return JobSpec(
        file_sha256=part.file_sha256,
        file_name=Path(part.file_path or part_id).name,
        file_size=stored.size if stored else 0,
        process=part.process,
        material=part.material,
        min_box_mm=_mesh_box(session, part.file_sha256),
        design=slug,
        design_version=release.version,
        part_id=part_id,
        **extra,
    )


def _mesh_box(session: Session, sha256: str) -> tuple[float, float, float] | None:
    analysis = session.get(MeshAnalysis, sha256)
    box = (analysis.report or {}).get("min_box_mm") if analysis else None
    if not box or len(box) != 3:
        return None
    a, b, c = sorted((float(x) for x in box), reverse=True)
    return (a, b, c)


# ---- attempts ----------------------------------------------------------------------------------


def start_attempt(
    session: Session, job: Job, fablab: str, agent: str, machine_id: str, lease_s: float
) -> JobAttempt | None:
    """Offer `job` to a machine: a new attempt with its lease, and the job assigned to it."""
    if job.state != JobState.QUEUED:
        return None
    attempt = new_row(
        JobAttempt, **attempt_row(new_id(), job.id, fablab, agent, machine_id, lease_s, utcnow())
    )
    job.attempts += 1
    job.attempt_id, job.fablab, job.machine_id = attempt.id, fablab, machine_id
    session.add(attempt)
    transition(session, job, Trigger.OFFERED, attempt=attempt, payload={"machine": machine_id})
    return attempt


@dataclass(frozen=True)
class Offer:
    """A queued job the dispatch round offers to a machine."""

    job_id: str
    fablab: str
    agent: str
    machine_id: str


@dataclass(frozen=True)
class OfferedJob:
    """A job assigned to a new attempt: what its job:offer command carries."""

    id: str
    attempt_id: str
    fablab: str
    agent: str
    machine_id: str
    lease_s: float
    process: str
    material: str | None
    min_box_mm: list[float] | None
    nozzle_mm: float | None
    file_sha256: str
    file_name: str
    file_size: int
    params: dict[str, Any]


def offer_jobs(session: Session, offers: list[Offer], lease_s: float) -> list[OfferedJob]:
    """Offer many queued jobs at once: each gets a new attempt with its lease, as `start_attempt` does.

    One statement assigns every job still queued (a job taken or cancelled since the queue was read
    is skipped), then the attempts and the `job:offered` rows are written, all in the session's
    transaction; no Job or JobAttempt object is built. A copy of an offered job that the session
    holds is expired, so it reloads; a job the session holds with changes not yet flushed is left
    for a later round. Nothing is flushed here: the session's own changes go out at its commit, so
    its row locks still follow job_writes' one order (jobs before attempts).
    """
    allowed, target = TRANSITIONS[Trigger.OFFERED]
    (source,) = allowed
    changing = {job.id for job in session.dirty if isinstance(job, Job)}
    by_job = {offer.job_id: (offer, new_id()) for offer in offers if offer.job_id not in changing}
    connection = session.connection()
    assignments = [
        {"id": job_id, "attempt_id": attempt_id, "fablab": offer.fablab, "machine_id": offer.machine_id}
        for job_id, (offer, attempt_id) in by_job.items()
    ]
    taken = {row.id: row for row in assign_jobs(connection, assignments, source, target)}
    _expire_held(session, Job, taken)
    offered = [_offered(row, *by_job[job_id], lease_s) for job_id in by_job if (row := taken.get(job_id))]
    now = utcnow()
    insert_attempt_rows(
        connection,
        [
            attempt_row(job.attempt_id, job.id, job.fablab, job.agent, job.machine_id, job.lease_s, now)
            for job in offered
        ],
    )
    event = Trigger.OFFERED.value
    insert_event_rows(
        connection,
        [
            event_row(
                job.id, event, source, target, attempt_id=job.attempt_id, payload={"machine": job.machine_id}
            )
            for job in offered
        ],
    )
    return offered


def _offered(row: Any, offer: Offer, attempt_id: str, lease_s: float) -> OfferedJob:
    return OfferedJob(
        id=row.id,
        attempt_id=attempt_id,
        fablab=offer.fablab,
        agent=offer.agent,
        machine_id=offer.machine_id,
        lease_s=lease_s,
        process=row.process,
        material=row.material,
        min_box_mm=row.min_box_mm,
        nozzle_mm=row.nozzle_mm,
        file_sha256=row.file_sha256,
        file_name=row.file_name,
        file_size=row.file_size,
        params=dict(row.params or {}),
    )


def attempt_row(
    attempt_id: str, job_id: str, fablab: str, agent: str, machine_id: str, lease_s: float, now: datetime
) -> dict[str, Any]:
    """A new offered attempt as plain values: every column of `job_attempt`."""
    return {
        "id": attempt_id,
        "job_id": job_id,
        "fablab": fablab,
        "agent": agent,
        "machine_id": machine_id,
        "state": AttemptState.OFFERED.value,
        "lease_s": lease_s,
        "lease_expires_at": now + timedelta(seconds=lease_s),
        "created_at": now,
        "ended_at": None,
        "reason": "",
    }


def _expire_held(session: Session, model: type[Any], keys: Iterable[Any]) -> None:
    """Expire the session's copies of rows just changed by a statement, so they reload when read."""
    index = session.info.get(LOADED, {})
    for key in keys:
        held = session.identity_map.get(identity_key(model, key))
        if held is not None:
            index.pop((model, key), None)
            session.expire(held)


def renew_lease(attempt: JobAttempt, now: datetime | None = None) -> None:
    if attempt.state in LIVE_ATTEMPT_STATES:
        attempt.lease_expires_at = (now or utcnow()) + timedelta(seconds=attempt.lease_s)


def apply_job_event(session: Session, fablab: str, agent: str, event: Any, effects: Effects) -> str:
    """Apply one job event of an agent; return what became of it (applied, stale, refused...)."""
    attempt = row_by_key(session, JobAttempt, event.attempt_id)
    if attempt is None or not _owned(attempt, event, fablab, agent):
        log.warning("%s/%s: %s for unknown attempt %s", fablab, agent, event.type, event.attempt_id)
        _cancel_if_alive(event, fablab, agent, effects)
        return "unknown"
    job = row_by_key(session, Job, attempt.job_id)
    assert job is not None  # attempt.job_id is a foreign key
    if job.attempt_id != attempt.id:
        _end_stale(attempt, event)
        _cancel_if_alive(event, fablab, agent, effects)
        return "stale"
    renew_lease(attempt)
    return _apply_current(session, job, attempt, event, Source(fablab, agent, event.msg_id), effects)


def _owned(attempt: JobAttempt, event: Any, fablab: str, agent: str) -> bool:
    return (attempt.fablab, attempt.agent, attempt.machine_id, attempt.job_id) == (
        fablab,
        agent,
        event.machine_id,
        event.job_id,
    )


def _cancel_if_alive(event: Any, fablab: str, agent: str, effects: Effects) -> None:
    if event.type in _ALIVE_EVENTS:
        reason = "attempt is no longer current"
        effects.send(fablab, agent, cancel_command(event.job_id, event.attempt_id, reason))


def _end_stale(attempt: JobAttempt, event: Any) -> None:
    if attempt.state in LIVE_ATTEMPT_STATES and event.type in EVENT_TRIGGERS:
        trigger = EVENT_TRIGGERS[event.type]
        if trigger not in _ALIVE_TRIGGERS:
            attempt.state = ATTEMPT_AFTER[trigger]
            attempt.ended_at = utcnow()


_ALIVE_TRIGGERS = frozenset({Trigger.ACCEPTED, Trigger.PROGRESS, Trigger.WAITING_OPERATOR})


def _apply_current(
    session: Session, job: Job, attempt: JobAttempt, event: Any, source: Source, effects: Effects
) -> str:
    trigger = EVENT_TRIGGERS[event.type]
    if job.state in FINAL_STATES:
        _close_cancelled_attempt(attempt, trigger)
        return "refused"
    _record_progress(job, event)
    if trigger == Trigger.PROGRESS and job.state == JobState.RUNNING:
        return "applied"
    if trigger == Trigger.WAITING_OPERATOR and job.state == JobState.WAITING_OPERATOR:
        return "applied"
    reason = getattr(event, "reason", "")
    done = transition(
        session, job, trigger, attempt=attempt, source=source, reason=reason, payload=_payload(event)
    )
    if done is None:
        return "refused"
    if job.state not in ACTIVE_STATES:
        effects.dispatch_needed = True
    _assume_machine_status(session, attempt, job)
    return "applied"


def _assume_machine_status(session: Session, attempt: JobAttempt, job: Job) -> None:
    """Until the agent's next status, assume what a machine does after this event.

    Without it, a machine that just finished would look idle and get the next offer while its
    bed still holds the finished part.
    """
    if job.state != JobState.DONE:
        return
    machine = row_by_key(session, Machine, (attempt.fablab, attempt.machine_id))
    if machine is not None and machine.operator_confirm:
        machine.status = "waiting_operator"
        track(session, machine)


def _close_cancelled_attempt(attempt: JobAttempt, trigger: Trigger) -> None:
    if attempt.state == AttemptState.CANCELLING and trigger not in _ALIVE_TRIGGERS:
        attempt.state, attempt.ended_at = AttemptState.CANCELLED, utcnow()


def _record_progress(job: Job, event: Any) -> None:
    progress = getattr(event, "progress", None)
    if progress is not None:
        job.progress = progress
    eta = getattr(event, "eta_s", None)
    if eta is not None:
        job.eta_s = eta


def _payload(event: Any) -> dict[str, Any]:
    skip = {"schema_version", "msg_id", "sent_at", "job_id", "attempt_id", "type"}
    return event.model_dump(mode="json", exclude=skip)


def apply_heartbeat(session: Session, fablab: str, agent: str, beat: p.Heartbeat, effects: Effects) -> None:
    """Renew the leases the heartbeat names; tell the agent to drop attempts that are not current."""
    now = utcnow()
    for entry in beat.jobs:
        attempt = row_by_key(session, JobAttempt, entry.attempt_id)
        if attempt is None or (attempt.fablab, attempt.agent) != (fablab, agent):
            continue
        job = row_by_key(session, Job, attempt.job_id)
        if job is None or job.attempt_id != attempt.id or job.state in FINAL_STATES:
            if attempt.state != AttemptState.CANCELLING:
                effects.send(fablab, agent, cancel_command(entry.job_id, entry.attempt_id, "stale"))
            continue
        renew_lease(attempt, now)
        job.progress = entry.progress


def cancel_command(job_id: str, attempt_id: str, reason: str = "") -> p.JobControl:
    return p.JobControl(type="job:cancel", job_id=job_id, attempt_id=attempt_id, reason=reason)


# ---- leases and cancellation -------------------------------------------------------------------


def expire_leases(session: Session, effects: Effects, now: datetime | None = None) -> int:
    """Attempts whose lease ran out: their job goes back to the queue (or fails); count them."""
    now = now or utcnow()
    rows = session.exec(
        select(JobAttempt)
        .where(col(JobAttempt.state).in_(list(LIVE_ATTEMPT_STATES)))
        .where(col(JobAttempt.lease_expires_at) < now)
    ).all()
    for attempt in rows:
        job = row_by_key(session, Job, attempt.job_id)
        if job is not None and job.attempt_id == attempt.id and job.state in ACTIVE_STATES:
            transition(session, job, Trigger.LEASE_EXPIRED, attempt=attempt, reason="lease expired")
        else:
            attempt.state, attempt.ended_at = AttemptState.EXPIRED, now
    if rows:
        effects.dispatch_needed = True
    return len(rows)


def cancel_job(session: Session, job_id: str, by: str = "", effects: Effects | None = None) -> Job:
    """Cancel a job that has not ended; a machine working on it is told to stop."""
    job = get_job(session, job_id)
    if job.state in FINAL_STATES:
        raise InvalidInput(f"job {job_id} already ended ({job.state})")
    attempt = session.get(JobAttempt, job.attempt_id) if job.attempt_id else None
    live = attempt if attempt is not None and attempt.state in LIVE_ATTEMPT_STATES else None
    transition(session, job, Trigger.CANCEL, attempt=live, reason=f"cancelled by {by or 'a user'}")
    if live is not None and effects is not None:
        effects.send(live.fablab, live.agent, cancel_command(job.id, live.id, "cancelled"))
    return job


def cancelling_attempts(session: Session) -> list[JobAttempt]:
    """Attempts told to stop that have not confirmed yet (their cancel is resent until they do)."""
    query = select(JobAttempt).where(JobAttempt.state == AttemptState.CANCELLING)
    return list(session.exec(query).all())


# ---- reading -----------------------------------------------------------------------------------


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    return job


def get_jobs(session: Session, job_ids: list[str]) -> list[Job]:
    """The jobs of `job_ids`, in that order (one query)."""
    found = {job.id: job for job in session.exec(select(Job).where(one_of(session, col(Job.id), job_ids)))}
    return [found[job_id] for job_id in job_ids if job_id in found]


def list_jobs(session: Session, state: str | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
    """Jobs, newest first, optionally in one state."""
    query = select(Job)
    if state is not None:
        if state not in set(JobState):
            raise InvalidInput(f"unknown job state {state!r}; one of {', '.join(JobState)}")
        query = query.where(Job.state == state)
    query = query.order_by(col(Job.created_at).desc(), col(Job.id)).offset(offset).limit(limit)
    return list(session.exec(query).all())


def job_history(session: Session, job_id: str) -> tuple[list[JobAttempt], list[JobEvent]]:
    attempts = session.exec(
        select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(col(JobAttempt.created_at))
    ).all()
    events = session.exec(select(JobEvent).where(JobEvent.job_id == job_id).order_by(col(JobEvent.id))).all()
    return list(attempts), list(events)


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.exec(select(Job.state, func.count()).group_by(Job.state)).all()
    return {state: n for state, n in rows}
