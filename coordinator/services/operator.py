"""What an operator at a fablab does to machines and jobs: clear a bed, pause, resume, fail a job."""

from __future__ import annotations

from sqlmodel import Session

from coordinator.models.jobs import LIVE_ATTEMPT_STATES, Job, JobAttempt, JobEvent, JobState
from coordinator.services import jobs, machines
from coordinator.services.jobs import Effects, Trigger
from protocol import payloads as p
from protocol.errors import Conflict, InvalidInput
from protocol.topics import validate_id

MAX_REASON = 500


def confirm_clear(session: Session, fablab: str, machine_id: str, effects: Effects) -> str:
    """The operator cleared a machine: its agent is told it may take the next job; return the agent."""
    validate_id(fablab, "fablab id")
    validate_id(machine_id, "machine id")
    machine = machines.get_machine(session, fablab, machine_id)
    effects.send(fablab, machine.agent, p.ConfirmClear(machine_id=machine_id))
    return machine.agent


def pause_job(session: Session, job_id: str, by: str, effects: Effects) -> Job:
    """Ask the machine running a job to pause it; the job keeps its state and its lease."""
    return _control(session, job_id, "job:pause", frozenset({JobState.RUNNING}), by, effects)


def resume_job(session: Session, job_id: str, by: str, effects: Effects) -> Job:
    """Ask the machine holding a paused or waiting job to go on."""
    states = frozenset({JobState.RUNNING, JobState.WAITING_OPERATOR})
    return _control(session, job_id, "job:resume", states, by, effects)


def _control(
    session: Session, job_id: str, kind: str, states: frozenset[str], by: str, effects: Effects
) -> Job:
    job = jobs.get_job(session, job_id)
    if job.state not in states:
        raise Conflict(f"job {job_id} is {job.state}; {kind.split(':')[1]} needs it {' or '.join(states)}")
    attempt = _live_attempt(session, job)
    command = p.JobControl(
        type=kind, job_id=job.id, attempt_id=attempt.id, reason=f"by {by or 'an operator'}"
    )
    effects.send(attempt.fablab, attempt.agent, command)
    # a request, not a transition: logged so the job's history shows who asked for it
    session.add(
        JobEvent(
            job_id=job.id, attempt_id=attempt.id, type=f"operator:{kind.split(':')[1]}", payload={"by": by}
        )
    )
    return job


def mark_failed(session: Session, job_id: str, reason: str, by: str, effects: Effects) -> Job:
    """The operator saw the job fail on the machine: stop it there and retry it while attempts remain."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInput("give a reason for marking the job failed (field 'reason')")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason is {len(reason)} characters long; at most {MAX_REASON}")
    job = jobs.get_job(session, job_id)
    attempt = _live_attempt(session, job)
    said = f"marked failed by {by or 'an operator'}: {reason}"
    if jobs.transition(session, job, Trigger.FAILED, attempt=attempt, reason=said) is None:
        raise Conflict(f"job {job_id} is {job.state} and cannot be marked failed")
    effects.send(attempt.fablab, attempt.agent, jobs.cancel_command(job.id, attempt.id, "marked failed"))
    effects.dispatch_needed = True
    return job


def _live_attempt(session: Session, job: Job) -> JobAttempt:
    attempt = session.get(JobAttempt, job.attempt_id) if job.attempt_id else None
    if attempt is None or attempt.state not in LIVE_ATTEMPT_STATES:
        raise Conflict(f"job {job.id} is {job.state} and no machine is working on it")
    return attempt
