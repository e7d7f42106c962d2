"""Rows a burst loads as records: their changes land as the ORM's would, and a conflict still fails."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from coordinator.db import one_of, session_scope
from coordinator.models.jobs import AgentLink, AttemptState, Job, JobAttempt, JobEvent, JobState, Machine
from coordinator.mqtt.handlers import Incoming, handle_burst
from coordinator.services import jobs, machines
from coordinator.services.jobs import Effects, Trigger
from coordinator.services.records import Record, load_records
from protocol import payloads as p
from protocol.topics import agent_topic

SPEC = jobs.JobSpec(file_sha256="e" * 64, file_name="hinge.gcode", process="fdm_print", material="pla")
LAB, AGENT, MACHINE = "lab-east", "agent-7", "printer-1"


def _offered(runtime: Any, count: int = 1) -> list[tuple[str, str]]:
    """Jobs offered to one agent's machine, whose link and machine exist: (job id, attempt id)."""
    with session_scope(runtime.engine) as session:
        machines.ensure_fablab(session, LAB)
        session.add(AgentLink(fablab=LAB, agent=AGENT, online=True, boot_seq=1, last_seq=0))
        session.add(
            Machine(fablab=LAB, machine_id=MACHINE, agent=AGENT, status="idle", operator_confirm=True)
        )
        ids = jobs.submit_jobs(session, SPEC, count)
    pairs = []
    with session_scope(runtime.engine) as session:
        for job_id in ids:
            attempt = jobs.start_attempt(session, jobs.get_job(session, job_id), LAB, AGENT, MACHINE, 60)
            assert attempt is not None
            pairs.append((job_id, attempt.id))
    return pairs


def _event(
    kind: type[Any], job_id: str, attempt_id: str, seq: int, boot_seq: int = 1, **extra: Any
) -> Incoming:
    ids = {"job_id": job_id, "attempt_id": attempt_id, "machine_id": MACHINE}
    message = kind(boot_seq=boot_seq, seq=seq, **ids, **extra)
    return Incoming(agent_topic(LAB, AGENT, "events"), p.encode(message))


def _job(runtime: Any, job_id: str) -> Job:
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _event_types(runtime: Any, job_id: str) -> list[str]:
    with Session(runtime.engine) as session:
        query = select(JobEvent.type).where(JobEvent.job_id == job_id).order_by(col(JobEvent.id))
        return list(session.exec(query).all())


def test_a_burst_of_job_events_runs_on_records_and_lands_whole(runtime: Any) -> None:
    (job_id, attempt_id), (other_id, other_attempt) = _offered(runtime, 2)
    burst = [
        _event(p.JobAccepted, job_id, attempt_id, 1),
        _event(p.JobProgress, job_id, attempt_id, 2, progress=0.5, eta_s=30.0),
        _event(p.JobAccepted, other_id, other_attempt, 3),
        _event(p.JobDone, job_id, attempt_id, 4),
    ]
    with session_scope(runtime.engine) as session:
        handle_burst(session, Effects(), burst)
        held = jobs.row_by_key(session, Job, job_id)
        assert isinstance(held, Record)  # the burst worked on plain values, not ORM objects
    done, accepted = _job(runtime, job_id), _job(runtime, other_id)
    assert (done.state, done.progress, done.eta_s, done.ended_at is not None) == (
        JobState.DONE,
        1.0,
        30.0,
        True,
    )
    assert done.version == 3  # offered, then this burst's one guarded write
    assert accepted.state == JobState.ACCEPTED
    assert _event_types(runtime, job_id) == [
        "job:submitted",
        "job:offered",
        "job:accepted",
        "job:progress",
        "job:done",
    ]
    with Session(runtime.engine) as session:
        attempt = session.get(JobAttempt, attempt_id)
        link = session.get(AgentLink, (LAB, AGENT))
        machine = session.get(Machine, (LAB, MACHINE))
        assert attempt is not None and link is not None and machine is not None
        assert (attempt.state, attempt.ended_at is not None) == (AttemptState.DONE, True)
        assert link.last_seq == 4
        assert machine.status == "waiting_operator"  # done, and the operator must clear the bed


def test_a_job_changed_elsewhere_fails_the_burst_and_writes_nothing(runtime: Any) -> None:
    ((job_id, attempt_id),) = _offered(runtime)
    with Session(runtime.engine) as session:
        handle_burst(session, Effects(), [_event(p.JobAccepted, job_id, attempt_id, 1)])
        with session_scope(runtime.engine) as other:  # the API cancels the job meanwhile
            jobs.transition(other, jobs.get_job(other, job_id), Trigger.CANCEL, reason="not needed")
        with pytest.raises(StaleDataError):
            session.commit()
        session.rollback()
    assert _job(runtime, job_id).state == JobState.CANCELLED
    assert _event_types(runtime, job_id) == ["job:submitted", "job:offered", "job:cancel"]
    with Session(runtime.engine) as session:
        link = session.get(AgentLink, (LAB, AGENT))
        assert link is not None and link.last_seq == 0  # the link's change went with the rest


def test_a_record_takes_only_its_loaded_columns(runtime: Any) -> None:
    ((job_id, _),) = _offered(runtime)
    with Session(runtime.engine) as session:
        (record,) = load_records(session, Job, col(Job.id) == job_id, skip=("params",))
        with pytest.raises(AttributeError, match="params"):
            record.params = {"infill": 0.2}  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="stat"):
            record.stat = JobState.DONE  # type: ignore[attr-defined]
        assert record.changes == {}


def test_a_record_changing_a_column_only_the_orm_writes_fails_the_flush(runtime: Any) -> None:
    ((job_id, _),) = _offered(runtime)
    with Session(runtime.engine) as session:
        (record,) = load_records(session, Job, col(Job.id) == job_id)
        record.priority = 9  # type: ignore[attr-defined]
        with pytest.raises(InvalidRequestError, match="priority"):
            session.commit()
        session.rollback()
    assert _job(runtime, job_id).priority == 0


def test_a_record_set_back_to_what_it_was_writes_nothing(runtime: Any) -> None:
    ((job_id, _),) = _offered(runtime)
    with session_scope(runtime.engine) as session:
        (record,) = load_records(session, Job, col(Job.id) == job_id)
        record.progress = 0.7  # type: ignore[attr-defined]
        record.progress = 0.0  # type: ignore[attr-defined]
    assert _job(runtime, job_id).version == 2


def test_records_end_with_their_transaction(runtime: Any) -> None:
    ((job_id, attempt_id),) = _offered(runtime)
    with Session(runtime.engine) as session:
        loaded = load_records(session, JobAttempt, one_of(session, col(JobAttempt.id), [attempt_id]))
        assert jobs.row_by_key(session, JobAttempt, attempt_id) is loaded[0]
        session.commit()
        fresh = jobs.row_by_key(session, JobAttempt, attempt_id)
        assert isinstance(fresh, JobAttempt)  # read again, through the ORM


def test_a_row_loaded_twice_keeps_its_first_copy(runtime: Any) -> None:
    ((job_id, _),) = _offered(runtime)
    with session_scope(runtime.engine) as session:
        (first,) = load_records(session, Job, col(Job.id) == job_id)
        first.progress = 0.25  # type: ignore[attr-defined]
        assert load_records(session, Job, col(Job.id) == job_id) == []
        assert jobs.row_by_key(session, Job, job_id) is first
    assert _job(runtime, job_id).progress == 0.25


def test_a_burst_with_a_birth_loads_orm_objects(runtime: Any) -> None:
    ((job_id, attempt_id),) = _offered(runtime)
    info = p.MachineInfo(
        id=MACHINE,
        driver="simulated",
        status="busy",
        capabilities=p.Capabilities(process="fdm_print", materials=("pla",)),
        job=p.MachineJob(job_id=job_id, attempt_id=attempt_id, state="running", progress=0.4),
    )
    born = p.AgentState(fablab=LAB, agent=AGENT, online=True, boot_seq=2, seq=0, machines=(info,))
    burst = [
        Incoming(agent_topic(LAB, AGENT, "state"), p.encode(born)),
        _event(p.JobProgress, job_id, attempt_id, 1, boot_seq=2, progress=0.6),
    ]
    with session_scope(runtime.engine) as session:
        handle_burst(session, Effects(), burst)
        assert isinstance(jobs.row_by_key(session, Job, job_id), Job)
    job = _job(runtime, job_id)
    assert (job.state, job.progress) == (JobState.RUNNING, 0.6)
    with Session(runtime.engine) as session:
        count = session.exec(
            select(func.count()).select_from(JobEvent).where(JobEvent.job_id == job_id)
        ).one()
    assert count == 3  # submitted, offered, running from the birth; the progress moves no state
