"""What the API and the dashboard read of jobs, attempts, machines and fablabs (nothing here writes)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from coordinator.jobs.lifecycle import JobState, Trigger
from coordinator.models.builds import Build, BuildTask
from coordinator.models.jobs import AgentLink, Fablab, Job, JobAttempt, JobEvent, Machine
from coordinator.planning.durations import MachineEstimate
from coordinator.services.network import machine_key
from protocol.errors import InvalidInput, NotFound

MAX_OFFSET = 1_000_000


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    return job


def get_jobs(session: Session, job_ids: list[str]) -> list[Job]:
    """The jobs of `job_ids`, in that order (one query)."""
    found = {job.id: job for job in session.exec(select(Job).where(col(Job.id).in_(job_ids)))}
    return [found[job_id] for job_id in job_ids if job_id in found]


def list_jobs(session: Session, state: str | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
    """Jobs, newest first, optionally in one state."""
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")
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


def job_owners(session: Session, job_id: str) -> set[str]:
    """Who may act on a job as its owner: whoever submitted it, and whoever started its build."""
    job = get_job(session, job_id)
    owners = {job.submitted_by}
    started = session.exec(
        select(Build.started_by)
        .join(BuildTask, col(BuildTask.build_id) == col(Build.id))
        .where(BuildTask.job_id == job_id)
    ).first()
    build_id = (job.params or {}).get("build")
    if started is None and build_id:
        build = session.get(Build, build_id)
        started = build.started_by if build else None
    if started:
        owners.add(started)
    return {owner for owner in owners if owner}


def list_machines(
    session: Session, fablab: str | None = None, limit: int | None = None, offset: int = 0
) -> list[Machine]:
    """Machines by fablab and id; a page of them when `limit` is given."""
    query = select(Machine).order_by(col(Machine.fablab), col(Machine.machine_id))
    if fablab is not None:
        query = query.where(Machine.fablab == fablab)
    return list(session.exec(query.offset(offset).limit(limit)).all())


def count_machines(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Machine)).one())


def get_machine(session: Session, fablab: str, machine_id: str) -> Machine:
    machine = session.get(Machine, (fablab, machine_id))
    if machine is None:
        raise NotFound(f"no machine {machine_id!r} in fablab {fablab!r}")
    return machine


def list_fablabs(session: Session, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Fablabs by id (a page of them when `limit` is given) with their agents and machine counts."""
    labs = session.exec(select(Fablab).order_by(col(Fablab.id)).offset(offset).limit(limit)).all()
    ids = [lab.id for lab in labs]
    links = session.exec(
        select(AgentLink).where(col(AgentLink.fablab).in_(ids)).order_by(col(AgentLink.agent))
    ).all()
    machines = session.exec(select(Machine).where(col(Machine.fablab).in_(ids))).all()
    result = []
    for lab in labs:
        own = [m for m in machines if m.fablab == lab.id]
        result.append(
            {
                "id": lab.id,
                "name": lab.name,
                "agents": [
                    {"id": ln.agent, "online": ln.online, "software": ln.software}
                    for ln in links
                    if ln.fablab == lab.id
                ],
                "machines": len(own),
                "idle": sum(1 for m in own if m.status == "idle"),
            }
        )
    return result


def count_fablabs(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Fablab)).one())


def machine_estimates(session: Session, job_ids: Collection[str]) -> dict[str, MachineEstimate]:
    """Each job's own estimate from the machine that prepared it (the last `job:accepted` that brought
    estimates), for the jobs of `job_ids` that have one."""
    with_estimate = set(
        session.exec(select(Job.id).where(col(Job.id).in_(job_ids), col(Job.estimate_s).is_not(None))).all()
    )
    if not with_estimate:
        return {}
    rows = session.exec(
        select(JobEvent.job_id, JobEvent.payload, JobAttempt.fablab, JobAttempt.machine_id)
        .join(JobAttempt, col(JobAttempt.id) == col(JobEvent.attempt_id))
        .where(col(JobEvent.job_id).in_(with_estimate), JobEvent.type == Trigger.ACCEPTED)
        .order_by(col(JobEvent.id))
    ).all()
    found: dict[str, MachineEstimate] = {}
    for job_id, payload, fablab, machine_id in rows:
        seconds = ((payload or {}).get("estimates") or {}).get("duration_s")
        if isinstance(seconds, int | float) and seconds > 0:
            found[job_id] = MachineEstimate(machine_key(fablab, machine_id), float(seconds))
    return found
