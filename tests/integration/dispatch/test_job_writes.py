"""Job rows written in batches at flush: every change lands, a concurrent change is never lost."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from coordinator.db import session_scope
from coordinator.models.jobs import AgentLink, AttemptState, Job, JobAttempt, JobEvent, JobState
from coordinator.services import jobs, machines
from coordinator.services.job_writes import Source, add_row, event_row
from coordinator.services.jobs import Trigger
from protocol.errors import InvalidInput

SPEC = jobs.JobSpec(file_sha256="c" * 64, file_name="clip.gcode", process="fdm_print", material="pla")


def _submit(runtime: Any, count: int = 1) -> list[str]:
    with session_scope(runtime.engine) as session:
        return jobs.submit_jobs(session, SPEC, count)


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


def _attempt(runtime: Any, attempt_id: str) -> JobAttempt:
    with Session(runtime.engine) as session:
        attempt = session.get(JobAttempt, attempt_id)
        assert attempt is not None
        return attempt


def _offered(runtime: Any) -> tuple[str, str]:
    (job_id,) = _submit(runtime)
    with session_scope(runtime.engine) as session:
        attempt = jobs.start_attempt(session, jobs.get_job(session, job_id), "lab", "agent", "m1", 60)
        assert attempt is not None
        return job_id, attempt.id


def test_attempt_and_link_changes_land_in_batches(runtime: Any) -> None:
    _, attempt_id = _offered(runtime)
    with session_scope(runtime.engine) as session:
        machines.ensure_fablab(session, "lab")
        session.add(AgentLink(fablab="lab", agent="agent", boot_seq=1, last_seq=0))
    with session_scope(runtime.engine) as session:
        attempt = session.get(JobAttempt, attempt_id)
        link = session.get(AgentLink, ("lab", "agent"))
        assert attempt is not None and link is not None
        attempt.state, attempt.reason = AttemptState.ACCEPTED, "warming up"
        link.last_seq = 7
    assert (_attempt(runtime, attempt_id).state, _attempt(runtime, attempt_id).reason) == (
        "accepted",
        "warming up",
    )
    with Session(runtime.engine) as session:
        stored = session.get(AgentLink, ("lab", "agent"))
        assert stored is not None and stored.last_seq == 7


def test_a_concurrent_change_of_another_column_is_kept(runtime: Any) -> None:
    _, attempt_id = _offered(runtime)
    with Session(runtime.engine) as stale:
        attempt = stale.get(JobAttempt, attempt_id)
        assert attempt is not None
        with session_scope(runtime.engine) as other:  # the API cancels meanwhile
            fresh = other.get(JobAttempt, attempt_id)
            assert fresh is not None
            fresh.state = AttemptState.CANCELLING
        jobs.renew_lease(attempt)  # the dispatcher renews the lease it had loaded
        renewed = attempt.lease_expires_at
        stale.commit()
    stored = _attempt(runtime, attempt_id)
    assert stored.state == AttemptState.CANCELLING
    assert jobs.aware(stored.lease_expires_at) == jobs.aware(renewed)


def test_a_row_removed_since_it_was_read_fails_the_flush(runtime: Any) -> None:
    with session_scope(runtime.engine) as session:
        machines.ensure_fablab(session, "lab")
        session.add(AgentLink(fablab="lab", agent="gone"))
    with Session(runtime.engine) as stale:
        link = stale.get(AgentLink, ("lab", "gone"))
        assert link is not None
        with session_scope(runtime.engine) as other:
            other.delete(other.get(AgentLink, ("lab", "gone")))
        link.last_seq = 3
        with pytest.raises(StaleDataError):
            stale.commit()


def test_event_rows_keep_their_payloads_and_order(runtime: Any) -> None:
    job_id, attempt_id = _offered(runtime)
    with session_scope(runtime.engine) as session:
        job, attempt = jobs.get_job(session, job_id), session.get(JobAttempt, attempt_id)
        note = {"note": "ünïcode\ttab\nline \\ slash", "n": [1, 2]}  # COPY's own separators
        jobs.transition(session, job, Trigger.ACCEPTED, attempt=attempt, payload=note)
        jobs.transition(session, job, Trigger.DONE, attempt=attempt)
    with Session(runtime.engine) as session:
        _, events = jobs.job_history(session, job_id)
    assert [e.type for e in events] == ["job:submitted", "job:offered", "job:accepted", "job:done"]
    assert events[1].payload == {"machine": "m1"} and events[1].attempt_id == attempt_id
    assert events[2].payload == {"note": "ünïcode\ttab\nline \\ slash", "n": [1, 2]}
    assert events[3].payload == {} and events[3].to_state == JobState.DONE


def test_a_message_recorded_twice_fails_the_unit_of_work_and_writes_nothing(runtime: Any) -> None:
    job_id, attempt_id = _offered(runtime)
    source = Source("lab", "agent", "msg-1")
    before = _events(runtime, job_id)
    with pytest.raises(IntegrityError), session_scope(runtime.engine) as session:
        for trigger in ("job:accepted", "job:progress"):
            row = event_row(job_id, trigger, "assigned", "accepted", attempt_id=attempt_id, source=source)
            add_row(session, row)
    assert _events(runtime, job_id) == before


def test_submitted_jobs_are_written_whole_as_rows(runtime: Any) -> None:
    spec = jobs.JobSpec(
        file_sha256="d" * 64,
        file_name="gear 'big'.gcode",
        file_size=4096,
        process="fdm_print",
        material="petg",
        min_box_mm=(20.0, 80.5, 40.0),
        nozzle_mm=0.6,
        design="press",
        design_version="1.2.0",
        part_id="gear",
        priority=3,
        max_attempts=5,
        params={"build": "b1", "note": "tab\there, line\nbreak \\ ünï"},  # COPY's own separators
    )
    with session_scope(runtime.engine) as session:
        ids = jobs.submit_jobs(session, spec, 3, submitted_by="alice")
    assert len(set(ids)) == 3
    with Session(runtime.engine) as session:
        loaded = jobs.get_jobs(session, ids)
        assert [job.id for job in loaded] == ids
        assert len({job.group_id for job in loaded}) == 1
        for job in loaded:
            assert (job.state, job.attempts, job.max_attempts, job.version) == (JobState.QUEUED, 0, 5, 1)
            assert (job.file_name, job.file_size, job.material, job.nozzle_mm) == (
                "gear 'big'.gcode",
                4096,
                "petg",
                0.6,
            )
            assert job.min_box_mm == [80.5, 40.0, 20.0]  # longest side first, as eligibility compares them
            assert (job.design, job.design_version, job.part_id, job.priority) == (
                "press",
                "1.2.0",
                "gear",
                3,
            )
            assert job.params == {"build": "b1", "note": "tab\there, line\nbreak \\ ünï"}
            assert (job.submitted_by, job.progress, job.reason, job.attempt_id) == ("alice", 0.0, "", None)
            _, events = jobs.job_history(session, job.id)
            assert [(e.type, e.from_state, e.to_state) for e in events] == [("job:submitted", None, "queued")]
    # the ORM's own version check holds on a submitted row
    with Session(runtime.engine) as stale:
        job = jobs.get_job(stale, ids[0])
        with session_scope(runtime.engine) as other:
            jobs.transition(other, jobs.get_job(other, ids[0]), Trigger.CANCEL)
        job.priority = 9
        with pytest.raises(StaleDataError):
            stale.commit()


def test_a_submission_rolled_back_leaves_no_job_and_no_event(runtime: Any) -> None:
    with Session(runtime.engine) as session:
        ids = jobs.submit_jobs(session, SPEC, 4)
        with pytest.raises(InvalidInput):
            jobs.submit_jobs(session, SPEC, jobs.MAX_QUANTITY + 1)
        session.rollback()
    with Session(runtime.engine) as session:
        assert jobs.get_jobs(session, ids) == []
        assert session.exec(select(func.count()).select_from(JobEvent)).one() == 0


def _offers(ids: list[str]) -> list[jobs.Offer]:
    return [jobs.Offer(job_id, "lab", "agent", f"m{i}") for i, job_id in enumerate(ids)]


def test_offered_jobs_get_their_attempt_and_event_in_one_transaction(runtime: Any) -> None:
    spec = jobs.JobSpec(
        file_sha256="e" * 64, file_name="hinge.gcode", file_size=77, process="fdm_print",
        min_box_mm=(10.0, 30.0, 20.0), params={"estimated_min": 12, "build": "b2"},
    )  # fmt: skip
    with session_scope(runtime.engine) as session:
        ids = jobs.submit_jobs(session, spec, 3)
    with session_scope(runtime.engine) as session:
        offered = jobs.offer_jobs(session, _offers(ids), lease_s=90)
    assert [job.id for job in offered] == ids
    first = offered[0]
    assert (first.machine_id, first.lease_s, first.file_size, first.min_box_mm) == (
        "m0",
        90,
        77,
        [30.0, 20.0, 10.0],
    )
    assert first.params == {"estimated_min": 12, "build": "b2"}
    with Session(runtime.engine) as session:
        for job_id, offer in zip(ids, offered, strict=True):
            job = jobs.get_job(session, job_id)
            assert (job.state, job.attempts, job.attempt_id, job.version) == (
                JobState.ASSIGNED,
                1,
                offer.attempt_id,
                2,
            )
            attempts, events = jobs.job_history(session, job_id)
            (attempt,) = attempts
            assert (attempt.id, attempt.state, attempt.machine_id, attempt.agent) == (
                offer.attempt_id, AttemptState.OFFERED, offer.machine_id, "agent",
            )  # fmt: skip
            lease = jobs.aware(attempt.lease_expires_at) - jobs.aware(attempt.created_at)
            assert lease.total_seconds() == 90
            assert [(e.type, e.from_state, e.to_state, e.attempt_id, e.payload) for e in events][1:] == [
                ("job:offered", "queued", "assigned", offer.attempt_id, {"machine": offer.machine_id})
            ]


def test_a_job_taken_since_the_queue_was_read_is_not_offered(runtime: Any) -> None:
    ids = _submit(runtime, 3)
    with session_scope(runtime.engine) as other:
        jobs.cancel_job(other, ids[1], by="alice")
    with session_scope(runtime.engine) as session:
        offered = jobs.offer_jobs(session, _offers(ids), lease_s=60)
    assert [job.id for job in offered] == [ids[0], ids[2]]
    with Session(runtime.engine) as session:
        attempts, events = jobs.job_history(session, ids[1])
        assert attempts == [] and [e.type for e in events] == ["job:submitted", "job:cancel"]
        assert jobs.get_job(session, ids[1]).state == JobState.CANCELLED


def test_a_round_whose_jobs_were_all_taken_offers_nothing_and_writes_nothing(runtime: Any) -> None:
    ids = _submit(runtime, 2)
    with session_scope(runtime.engine) as other:
        for job_id in ids:
            jobs.cancel_job(other, job_id)
    with session_scope(runtime.engine) as session:
        assert jobs.offer_jobs(session, _offers(ids), lease_s=60) == []
    with Session(runtime.engine) as session:
        assert session.exec(select(func.count()).select_from(JobAttempt)).one() == 0
        assert session.exec(select(func.count()).select_from(JobEvent)).one() == 4  # submitted, cancel


def test_an_offer_expires_the_sessions_copy_and_fails_an_older_one(runtime: Any) -> None:
    (job_id,) = _submit(runtime)
    with Session(runtime.engine) as stale, session_scope(runtime.engine) as session:
        older = jobs.get_job(stale, job_id)
        held = jobs.get_job(session, job_id)
        (offer,) = jobs.offer_jobs(session, _offers([job_id]), lease_s=60)
        assert (held.state, held.attempt_id) == (JobState.ASSIGNED, offer.attempt_id)  # reloaded
        session.commit()
        older.priority = 4
        with pytest.raises(StaleDataError):
            stale.commit()


def test_a_job_with_changes_in_the_session_is_left_for_a_later_round(runtime: Any) -> None:
    first, second = _submit(runtime, 2)
    with session_scope(runtime.engine) as session:
        jobs.get_job(session, first).priority = 7  # not flushed yet
        offered = jobs.offer_jobs(session, _offers([first, second]), lease_s=60)
        assert [job.id for job in offered] == [second]
    with Session(runtime.engine) as session:
        kept = jobs.get_job(session, first)
        assert (kept.state, kept.priority, kept.attempts) == (JobState.QUEUED, 7, 0)
        assert jobs.get_job(session, second).state == JobState.ASSIGNED


def test_an_offer_rolled_back_leaves_the_job_queued_and_no_attempt(runtime: Any) -> None:
    (job_id,) = _submit(runtime)
    with Session(runtime.engine) as session:
        assert len(jobs.offer_jobs(session, _offers([job_id]), lease_s=60)) == 1
        session.rollback()
    with Session(runtime.engine) as session:
        attempts, events = jobs.job_history(session, job_id)
        assert (jobs.get_job(session, job_id).state, attempts, len(events)) == (JobState.QUEUED, [], 1)
