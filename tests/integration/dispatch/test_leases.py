"""Leases: a lapsed one sends its job back to the queue, but only while the coordinator hears the agents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from coordinator.jobs.commands import Housekeeping, RestartLeases
from coordinator.models.jobs import Job, JobAttempt, JobEvent
from tests.support.agents import BusAgent, attach_transport, machine_info, offer_to, submit


def _offered_with_lapsed_lease(runtime: Any, machine_id: str = "m1") -> str:
    (job_id,) = submit(runtime)
    offer_to(runtime, job_id, "lab", "agent", machine_id, lease_s=60)
    with runtime.engine.begin() as connection:
        lapsed = datetime.now(UTC) - timedelta(seconds=1)
        connection.execute(
            update(JobAttempt).where(JobAttempt.job_id == job_id).values(lease_expires_at=lapsed)
        )
    return job_id


def _job(runtime: Any, job_id: str) -> Job:
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _lab(runtime: Any) -> None:
    attach_transport(runtime)
    BusAgent(runtime, "lab", "agent").birth(machine_info("m1"), machine_info("m2"))


def test_a_lapsed_lease_sends_the_job_back_to_the_queue_once(runtime: Any) -> None:
    _lab(runtime)
    job_id = _offered_with_lapsed_lease(runtime)
    runtime.bus.handle(Housekeeping())
    runtime.bus.handle(Housekeeping())
    job = _job(runtime, job_id)
    assert (job.state, job.attempt_id, job.reason) == ("queued", None, "lease expired")
    with Session(runtime.engine) as session:
        attempts = session.exec(select(JobAttempt).where(JobAttempt.job_id == job_id)).all()
        expiries = session.exec(select(JobEvent).where(JobEvent.type == "lease:expired")).all()
    assert [a.state for a in attempts] == ["expired"] and len(expiries) == 1


def test_no_lease_expires_while_the_coordinator_cannot_hear_the_agents(runtime: Any) -> None:
    _lab(runtime)
    job_id = _offered_with_lapsed_lease(runtime)
    runtime.bus.handle(Housekeeping(expire_leases=False))
    assert _job(runtime, job_id).state == "assigned"


def test_leases_restart_in_full_when_the_coordinator_hears_the_agents_again(runtime: Any) -> None:
    _lab(runtime)
    lapsed = _offered_with_lapsed_lease(runtime, "m1")
    (fresh,) = submit(runtime)
    offer_to(runtime, fresh, "lab", "agent", "m2", lease_s=600)
    before = datetime.now(UTC)
    assert runtime.bus.handle(RestartLeases()) == 2
    runtime.bus.handle(Housekeeping())
    assert _job(runtime, lapsed).state == "assigned"
    with Session(runtime.engine) as session:
        leases = {a.job_id: a.lease_expires_at for a in session.exec(select(JobAttempt)).all()}
    restarted = leases[lapsed].replace(tzinfo=UTC)
    assert before + timedelta(seconds=59) <= restarted <= datetime.now(UTC) + timedelta(seconds=60)
    assert leases[fresh].replace(tzinfo=UTC) > before + timedelta(seconds=590)
