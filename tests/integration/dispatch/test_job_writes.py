"""Job rows written in batches at flush: every change lands, a concurrent change is never lost."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from coordinator.db import session_scope
from coordinator.models.jobs import Job, JobEvent, JobState
from coordinator.services import jobs
from coordinator.services.jobs import Trigger

SPEC = jobs.JobSpec(file_sha256="c" * 64, file_name="clip.gcode", process="fdm_print", material="pla")


def _submit(runtime: Any, count: int = 1) -> list[str]:
    with session_scope(runtime.engine) as session:
        return [job.id for job in jobs.submit_jobs(session, SPEC, count)]


def _events(runtime: Any, job_id: str) -> int:
    with Session(runtime.engine) as session:
        query = select(func.count()).select_from(JobEvent).where(JobEvent.job_id == job_id)
        return int(session.exec(query).one())


def _job(runtime: Any, job_id: str) -> Job:
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_state_changes_of_many_jobs_land_with_their_versions(runtime: Any) -> None:
    ids = _submit(runtime, 5)
    with session_scope(runtime.engine) as session:
        for job_id in ids:
            job = session.get(Job, job_id)
            assert job is not None
            assert jobs.start_attempt(session, job, "lab", "agent", "m1", 60) is not None
    for job_id in ids:
        job = _job(runtime, job_id)
        assert (job.state, job.attempts, job.machine_id, job.version) == (JobState.ASSIGNED, 1, "m1", 2)
        assert _events(runtime, job_id) == 2  # submitted, offered


def test_a_job_changed_elsewhere_since_it_was_read_fails_the_whole_flush(runtime: Any) -> None:
    first, second = _submit(runtime, 2)
    with Session(runtime.engine) as stale:
        stale_jobs = [stale.get(Job, first), stale.get(Job, second)]
        with session_scope(runtime.engine) as other:  # someone cancels the first job meanwhile
            jobs.transition(other, jobs.get_job(other, first), Trigger.CANCEL, reason="not needed")
        for job in stale_jobs:
            assert job is not None
            assert jobs.start_attempt(stale, job, "lab", "agent", "m1", 60) is not None
        with pytest.raises(StaleDataError):
            stale.commit()
        stale.rollback()
    assert _job(runtime, first).state == JobState.CANCELLED
    assert _job(runtime, second).state == JobState.QUEUED  # nothing half-written
    assert _events(runtime, second) == 1


def test_other_changes_keep_the_orm_version_check(runtime: Any) -> None:
    (job_id,) = _submit(runtime)
    with Session(runtime.engine) as stale:
        job = stale.get(Job, job_id)
        assert job is not None
        with session_scope(runtime.engine) as other:
            jobs.transition(other, jobs.get_job(other, job_id), Trigger.CANCEL)
        job.priority = 5  # not a state column: the ORM writes it, with its own version check
        with pytest.raises(StaleDataError):
            stale.commit()
    assert _job(runtime, job_id).priority == 0


def test_an_unchanged_assignment_writes_nothing(runtime: Any) -> None:
    (job_id,) = _submit(runtime)
    with session_scope(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.state = job.state
    assert _job(runtime, job_id).version == 1
