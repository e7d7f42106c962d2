"""Everything that affects a job's state: states, triggers, the transition table, machine statuses,
sequence and lease rules (docs/jobs.md is the prose of this module).

Plain snapshots of rows go in, a `Decision` comes out: the rows as they are after the change, the
event rows that record it, the commands to send once it is committed and the domain events others
react to. Nothing here reads or writes a database, a broker or a web request.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from coordinator.jobs.rows import (
    COORDINATOR,
    AttemptSnap,
    Decision,
    DomainEvent,
    EventRow,
    JobEnded,
    JobSnap,
    JobStarted,
    MachineSnap,
    Outgoing,
    Row,
    Source,
    refused,
)
from protocol import payloads as p
from protocol.payloads import MachineStatus

# ---- states ------------------------------------------------------------------------------------


class JobState(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    NEEDS_PREPARATION = "needs_preparation"  # a person must make the machine's file (PCB files...)
    ACCEPTED = "accepted"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING_OPERATOR = "waiting_operator"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})
ACTIVE_STATES = frozenset(
    {
        JobState.ASSIGNED,
        JobState.NEEDS_PREPARATION,
        JobState.ACCEPTED,
        JobState.RUNNING,
        JobState.PAUSED,
        JobState.WAITING_OPERATOR,
    }
)
# states whose machine has started on the part: ending there leaves something on the bed
_STARTED = frozenset({JobState.ACCEPTED, JobState.RUNNING, JobState.PAUSED, JobState.WAITING_OPERATOR})


class AttemptState(StrEnum):
    OFFERED = "offered"
    NEEDS_PREPARATION = "needs_preparation"
    ACCEPTED = "accepted"
    RUNNING = "running"
    PAUSED = "paused"
    WAITING_OPERATOR = "waiting_operator"
    CANCELLING = "cancelling"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


LIVE_ATTEMPT_STATES = frozenset(
    {
        AttemptState.OFFERED,
        AttemptState.NEEDS_PREPARATION,
        AttemptState.ACCEPTED,
        AttemptState.RUNNING,
        AttemptState.PAUSED,
        AttemptState.WAITING_OPERATOR,
        AttemptState.CANCELLING,
    }
)


class Trigger(StrEnum):
    SUBMITTED = "job:submitted"
    OFFERED = "job:offered"
    NEEDS_PREPARATION = "job:needs_preparation"
    ACCEPTED = "job:accepted"
    PROGRESS = "job:progress"
    PAUSED = "job:paused"
    RESUMED = "job:resumed"
    WAITING_OPERATOR = "job:waiting_operator"
    DONE = "job:done"
    FAILED = "job:failed"
    REJECTED = "job:rejected"
    AGENT_CANCELLED = "job:cancelled"
    LEASE_EXPIRED = "lease:expired"
    CANCEL = "job:cancel"
    OPERATOR_FAIL = "operator:fail"


RETRY = "retry"  # target: queued again while attempts remain, else failed
_ACTIVE = ACTIVE_STATES
_WORKING = frozenset({JobState.ACCEPTED, JobState.RUNNING, JobState.PAUSED, JobState.WAITING_OPERATOR})
# states a job holds until someone acts; the job's reason says why
_WAITING = frozenset({JobState.NEEDS_PREPARATION, JobState.PAUSED, JobState.WAITING_OPERATOR})

# trigger -> (states it may leave from, state it goes to): the whole job state machine
TRANSITIONS: dict[Trigger, tuple[frozenset[str], str]] = {
    Trigger.OFFERED: (frozenset({JobState.QUEUED}), JobState.ASSIGNED),
    # again from needs_preparation: the operator's file could not run there, with the new reason
    Trigger.NEEDS_PREPARATION: (
        frozenset({JobState.ASSIGNED, JobState.NEEDS_PREPARATION}),
        JobState.NEEDS_PREPARATION,
    ),
    # the operator made the machine's file: the machine accepts it as it accepts an offer
    Trigger.ACCEPTED: (frozenset({JobState.ASSIGNED, JobState.NEEDS_PREPARATION}), JobState.ACCEPTED),
    # a lost job:accepted must not strand a job its machine is visibly making
    Trigger.PROGRESS: (
        frozenset({JobState.ASSIGNED, JobState.ACCEPTED, JobState.RUNNING, JobState.WAITING_OPERATOR}),
        JobState.RUNNING,
    ),
    Trigger.PAUSED: (
        frozenset({JobState.ACCEPTED, JobState.RUNNING, JobState.WAITING_OPERATOR}),
        JobState.PAUSED,
    ),
    Trigger.RESUMED: (frozenset({JobState.PAUSED, JobState.WAITING_OPERATOR}), JobState.RUNNING),
    Trigger.WAITING_OPERATOR: (_ACTIVE, JobState.WAITING_OPERATOR),
    Trigger.DONE: (_ACTIVE, JobState.DONE),
    Trigger.FAILED: (_ACTIVE, RETRY),
    Trigger.REJECTED: (frozenset({JobState.ASSIGNED}), RETRY),
    Trigger.AGENT_CANCELLED: (_ACTIVE, RETRY),
    Trigger.LEASE_EXPIRED: (_ACTIVE, RETRY),
    Trigger.OPERATOR_FAIL: (_ACTIVE, RETRY),
    Trigger.CANCEL: (_ACTIVE | {JobState.QUEUED}, JobState.CANCELLED),
}

ATTEMPT_AFTER: dict[Trigger, AttemptState] = {
    Trigger.NEEDS_PREPARATION: AttemptState.NEEDS_PREPARATION,
    Trigger.ACCEPTED: AttemptState.ACCEPTED,
    Trigger.PROGRESS: AttemptState.RUNNING,
    Trigger.PAUSED: AttemptState.PAUSED,
    Trigger.RESUMED: AttemptState.RUNNING,
    Trigger.WAITING_OPERATOR: AttemptState.WAITING_OPERATOR,
    Trigger.DONE: AttemptState.DONE,
    Trigger.FAILED: AttemptState.FAILED,
    Trigger.REJECTED: AttemptState.REJECTED,
    Trigger.AGENT_CANCELLED: AttemptState.CANCELLED,
    Trigger.LEASE_EXPIRED: AttemptState.EXPIRED,
    Trigger.OPERATOR_FAIL: AttemptState.FAILED,
    Trigger.CANCEL: AttemptState.CANCELLING,
}

# what a machine is assumed to do after a transition of its job, until its agent says otherwise
MACHINE_AFTER: dict[Trigger, MachineStatus] = {
    Trigger.OFFERED: MachineStatus.PREPARING,
    Trigger.NEEDS_PREPARATION: MachineStatus.WAITING_OPERATOR,
    Trigger.ACCEPTED: MachineStatus.RUNNING,
    Trigger.PROGRESS: MachineStatus.RUNNING,
    Trigger.RESUMED: MachineStatus.RUNNING,
    Trigger.PAUSED: MachineStatus.PAUSED,
    Trigger.WAITING_OPERATOR: MachineStatus.WAITING_OPERATOR,
}

# the same state reached again is an update within it, not a transition
_WITHIN = {
    (Trigger.PROGRESS, JobState.RUNNING),
    (Trigger.PAUSED, JobState.PAUSED),
    (Trigger.RESUMED, JobState.RUNNING),
    (Trigger.WAITING_OPERATOR, JobState.WAITING_OPERATOR),
    (Trigger.ACCEPTED, JobState.ACCEPTED),
}

# ---- transitions -------------------------------------------------------------------------------


def transition(
    job: JobSnap,
    trigger: Trigger,
    now: datetime,
    *,
    attempt: AttemptSnap | None = None,
    machine: MachineSnap | None = None,
    source: Source = COORDINATOR,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> Decision:
    """Move `job` along `trigger`, with its attempt and machine; refused when the state does not allow it."""
    allowed, target = TRANSITIONS[trigger]
    if job.state not in allowed:
        return refused()
    if (trigger, job.state) in _WITHIN:
        return _within(job, attempt, trigger, now)
    state = _resolve(job, target)
    after = _job_after(job, state, trigger, reason, now)
    decision = Decision(rows=[after])
    decision.events.append(
        EventRow(
            job.id,
            trigger.value,
            job.state,
            state,
            attempt.id if attempt else job.attempt_id,
            payload if payload is not None else ({"reason": reason} if reason else {}),
            source,
            now,
        )
    )
    if attempt is not None and trigger in ATTEMPT_AFTER:
        decision.rows.append(_attempt_after(attempt, trigger, reason, now))
    freed = False
    if machine is not None and (status := _machine_after(job, machine, trigger)) is not None:
        decision.rows.append(replace(machine, status=status))
        freed = status == MachineStatus.IDLE
    decision.happened += _domain_events(job, after, trigger, now)
    decision.wake = state not in ACTIVE_STATES or freed
    return decision


def _within(job: JobSnap, attempt: AttemptSnap | None, trigger: Trigger, now: datetime) -> Decision:
    """The job is in the state the trigger leads to already (progress within running): only its
    progress moves, and its attempt catches up."""
    rows: list[Row] = [job]
    if attempt is not None and trigger in ATTEMPT_AFTER:
        caught_up = attempt.state == ATTEMPT_AFTER[trigger]
        rows.append(attempt if caught_up else _attempt_after(attempt, trigger, "", now))
    return Decision(rows=rows)


def _resolve(job: JobSnap, target: str) -> str:
    if target != RETRY:
        return target
    return JobState.FAILED if job.attempts >= job.max_attempts else JobState.QUEUED


def _job_after(job: JobSnap, state: str, trigger: Trigger, reason: str, now: datetime) -> JobSnap:
    if state == JobState.QUEUED:
        return replace(job, state=state, attempt_id=None, fablab=None, machine_id=None,
                       progress=0.0, eta_s=None, reason=reason)  # fmt: skip
    if state in FINAL_STATES:
        if state == JobState.FAILED and not reason:
            reason = "no attempts left"
        progress = 1.0 if state == JobState.DONE else job.progress
        return replace(job, state=state, ended_at=now, reason=reason or job.reason, progress=progress)
    if state in _WAITING:
        return replace(job, state=state, reason=reason or job.reason)  # what the job waits for, and why
    if state in (JobState.ACCEPTED, JobState.RUNNING):
        return replace(job, state=state, reason="")  # nothing to wait for any more
    return replace(job, state=state)


def _attempt_after(attempt: AttemptSnap, trigger: Trigger, reason: str, now: datetime) -> AttemptSnap:
    state = ATTEMPT_AFTER[trigger]
    ended = None if state in LIVE_ATTEMPT_STATES else now
    return replace(attempt, state=state, ended_at=ended, reason=reason or attempt.reason)


def _machine_after(job: JobSnap, machine: MachineSnap, trigger: Trigger) -> str | None:
    """The status a machine is assumed to have after its job's transition (None: leave it)."""
    if machine.status == MachineStatus.OFFLINE:
        return None
    if trigger in MACHINE_AFTER:
        return MACHINE_AFTER[trigger]
    if trigger == Trigger.LEASE_EXPIRED:
        return None  # nobody heard from the machine: its next report will say
    if trigger == Trigger.REJECTED:
        return MachineStatus.IDLE if machine.status == MachineStatus.PREPARING else None
    if job.state in _STARTED and machine.operator_confirm:
        return MachineStatus.WAITING_OPERATOR  # the bed holds what the job made
    return MachineStatus.IDLE


def _domain_events(before: JobSnap, after: JobSnap, trigger: Trigger, now: datetime) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    if before.state not in _STARTED and after.state in _STARTED:
        events.append(JobStarted(after.id, now))
    if after.state in FINAL_STATES:
        events.append(JobEnded(after.id, after.state, after.reason, trigger.value, now))
    return events


# ---- offers ------------------------------------------------------------------------------------


def offer(
    job: JobSnap,
    machine: MachineSnap,
    *,
    attempt_id: str,
    lease_s: float,
    now: datetime,
    command: BaseModel,
) -> Decision:
    """Offer a queued job to an idle machine: a new attempt with its lease, the job assigned to it."""
    if job.state != JobState.QUEUED:
        return refused()
    lease = now + timedelta(seconds=lease_s)
    attempt = AttemptSnap(attempt_id, job.id, machine.fablab, machine.agent, machine.machine_id,
                          AttemptState.OFFERED, lease_s, lease, now, None, "")  # fmt: skip
    assigned = replace(job, attempts=job.attempts + 1, attempt_id=attempt_id, fablab=machine.fablab,
                       machine_id=machine.machine_id)  # fmt: skip
    decision = transition(
        assigned, Trigger.OFFERED, now, machine=machine, payload={"machine": machine.machine_id}
    )
    decision.rows.insert(1, attempt)
    decision.commands.append(Outgoing(machine.fablab, machine.agent, command))
    decision.wake = False
    return decision


# ---- what people do ----------------------------------------------------------------------------


def cancel(
    job: JobSnap, attempt: AttemptSnap | None, machine: MachineSnap | None, by: str, now: datetime
) -> Decision:
    """Cancel a job that has not ended; a machine working on it is told to stop."""
    live = attempt if attempt is not None and attempt.state in LIVE_ATTEMPT_STATES else None
    decision = transition(job, Trigger.CANCEL, now, attempt=live, machine=machine if live else None,
                          reason=f"cancelled by {by or 'a user'}")  # fmt: skip
    if decision.outcome == "applied" and live is not None:
        decision.commands.append(
            Outgoing(live.fablab, live.agent, cancel_command(job.id, live.id, "cancelled"))
        )
    return decision


def mark_failed(
    job: JobSnap, attempt: AttemptSnap, machine: MachineSnap | None, reason: str, by: str, now: datetime
) -> Decision:
    """The operator saw the job fail on the machine: stop it there; it is made again while attempts remain."""
    said = f"marked failed by {by or 'an operator'}: {reason}"
    decision = transition(job, Trigger.OPERATOR_FAIL, now, attempt=attempt, machine=machine, reason=said)
    if decision.outcome == "applied":
        decision.commands.append(Outgoing(attempt.fablab, attempt.agent,
                                          cancel_command(job.id, attempt.id, "marked failed")))  # fmt: skip
    return decision


# job state -> the controls an operator may use on it (the API refuses the others, pages hide them)
CONTROLS: dict[str, frozenset[str]] = {
    JobState.QUEUED: frozenset({"cancel"}),
    JobState.ASSIGNED: frozenset({"cancel", "fail"}),
    JobState.NEEDS_PREPARATION: frozenset({"prepare", "cancel", "fail"}),
    JobState.ACCEPTED: frozenset({"pause", "cancel", "fail"}),
    JobState.RUNNING: frozenset({"pause", "cancel", "fail"}),
    JobState.PAUSED: frozenset({"resume", "cancel", "fail"}),
    JobState.WAITING_OPERATOR: frozenset({"resume", "cancel", "fail"}),
}


def allowed_controls(state: str) -> frozenset[str]:
    """What may be done to a job in `state`: a subset of pause, resume, cancel, fail and prepare
    (hand the machine a file an operator prepared)."""
    return CONTROLS.get(state, frozenset())


def request_control(job: JobSnap, attempt: AttemptSnap, kind: str, by: str, now: datetime) -> Decision:
    """Ask the machine to pause or resume (`kind`); the job changes when the agent reports it did."""
    if kind not in allowed_controls(job.state):
        return refused()
    command = p.JobControl(type=f"job:{kind}", job_id=job.id, attempt_id=attempt.id,  # type: ignore[arg-type]
                           reason=f"by {by or 'an operator'}")  # fmt: skip
    logged = EventRow(job.id, f"operator:{kind}", None, None, attempt.id, {"by": by}, COORDINATOR, now)
    return Decision(events=[logged], commands=[Outgoing(attempt.fablab, attempt.agent, command)])


def supply_machine_file(
    job: JobSnap, attempt: AttemptSnap, file: p.FileRef, by: str, now: datetime
) -> Decision:
    """An operator prepared the machine's file of a job that needed it: the machine is sent the file."""
    if "prepare" not in allowed_controls(job.state):
        return refused()
    command = p.JobPrepared(job_id=job.id, attempt_id=attempt.id, file=file, reason=f"prepared by {by}")
    payload = {"by": by, "file": file.name, "sha256": file.sha256}
    logged = EventRow(job.id, "operator:prepared", None, None, attempt.id, payload, COORDINATOR, now)
    return Decision(events=[logged], commands=[Outgoing(attempt.fablab, attempt.agent, command)])


def cancel_command(job_id: str, attempt_id: str, reason: str = "") -> p.JobControl:
    return p.JobControl(type="job:cancel", job_id=job_id, attempt_id=attempt_id, reason=reason)


# ---- leases ------------------------------------------------------------------------------------


def renewed(attempt: AttemptSnap, now: datetime) -> AttemptSnap | None:
    """The attempt with its lease renewed from `now`, or None when renewing moves it too little to write.

    Heartbeats come every few seconds; a lease renewed whenever less than three quarters of it is
    left never comes near running out, and costs a fraction of the writes.
    """
    if attempt.state not in LIVE_ATTEMPT_STATES:
        return None
    lease = timedelta(seconds=attempt.lease_s)
    if attempt.lease_expires_at - now >= lease * 0.75:
        return None
    return replace(attempt, lease_expires_at=now + lease)


def expire_lease(
    job: JobSnap | None, attempt: AttemptSnap, machine: MachineSnap | None, now: datetime
) -> Decision:
    """An attempt whose lease ran out: its job goes back to the queue (or fails)."""
    if job is not None and job.attempt_id == attempt.id and job.state in ACTIVE_STATES:
        return transition(job, Trigger.LEASE_EXPIRED, now, attempt=attempt, machine=machine,
                          reason="lease expired")  # fmt: skip
    return Decision(rows=[replace(attempt, state=AttemptState.EXPIRED, ended_at=now)])


def restart_lease(attempt: AttemptSnap, now: datetime) -> AttemptSnap | None:
    """After the coordinator could not hear the agents, a live lease runs again in full from `now`."""
    if attempt.state not in LIVE_ATTEMPT_STATES:
        return None
    restarted = now + timedelta(seconds=attempt.lease_s)
    return replace(attempt, lease_expires_at=restarted) if attempt.lease_expires_at < restarted else None


# ---- submissions -------------------------------------------------------------------------------


def submitted(job_id: str, now: datetime) -> EventRow:
    """The event row every new job starts its history with."""
    return EventRow(job_id, Trigger.SUBMITTED.value, None, JobState.QUEUED, None, {}, COORDINATOR, now)
