"""Fixtures for the dispatcher against a real broker: the service, scripted agents, DB polling."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from coordinator.jobs.commands import COORDINATOR, SubmitJobs
from coordinator.jobs.lifecycle import FINAL_STATES
from coordinator.jobs.submission import JobSpec
from coordinator.models.jobs import Job, JobAttempt, JobEvent
from coordinator.models.ledger import LedgerEvent
from coordinator.mqtt.service import DispatchService

from .fake_agent import FakeAgent

GCODE_SHA = "a" * 64
LEASE_S = 30.0
EXPIRY_LEASE_S = 2.0  # for tests that wait for a lease to lapse


def wait_until(check: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def submit(runtime: Any, quantity: int = 1, **spec: Any) -> list[str]:
    fields: dict[str, Any] = {"file_sha256": GCODE_SHA, "file_name": "part.gcode", "process": "fdm_print"}
    fields.update(spec)
    return list(runtime.bus.handle(SubmitJobs(JobSpec(**fields), quantity, COORDINATOR)))


def job(runtime: Any, job_id: str) -> Job:
    with Session(runtime.engine) as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def job_state(runtime: Any, job_id: str) -> str:
    return job(runtime, job_id).state


def attempts(runtime: Any, job_id: str) -> list[JobAttempt]:
    with Session(runtime.engine) as session:
        query = select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(col(JobAttempt.created_at))
        return list(session.exec(query).all())


def final_events(runtime: Any, job_id: str) -> list[JobEvent]:
    """Rows that moved the job into a final state: exactly one per ended job."""
    with Session(runtime.engine) as session:
        query = select(JobEvent).where(
            JobEvent.job_id == job_id, col(JobEvent.to_state).in_(list(FINAL_STATES))
        )
        return list(session.exec(query).all())


def ledger_actions(runtime: Any, job_id: str) -> Counter[str]:
    """The commons ledger's events of a job, by action (produce, use, consume...)."""
    with Session(runtime.engine) as session:
        return Counter(session.exec(select(LedgerEvent.action).where(LedgerEvent.job_id == job_id)).all())


@pytest.fixture
def broker_url(mosquitto: Any) -> str:
    return str(mosquitto.url)


@pytest.fixture
def dispatcher(runtime: Any, broker_url: str, request: pytest.FixtureRequest) -> Iterator[DispatchService]:
    """A running dispatcher with fast ticks and a lease of LEASE_S, or a test's `lease_s` mark.

    The scripted agents never send heartbeats, so an offer must be accepted (and a job must report)
    within its lease. A short lease is for the tests about expiry alone: on a loaded machine an accept
    can take over a second to be handled, and a lapsed lease then re-offers the job mid-test.
    """
    runtime.settings.mqtt.url = broker_url
    mark = request.node.get_closest_marker("lease_s")
    lease_s = float(mark.args[0]) if mark else LEASE_S
    service = DispatchService(
        runtime, lease_s=lease_s, tick_s=0.1, reannounce_every_s=0.3, cancel_resend_s=0.5
    )
    service.start()
    yield service
    service.stop()


@pytest.fixture
def make_agent(mosquitto: Any, dispatcher: DispatchService) -> Iterator[Callable[..., FakeAgent]]:
    started: list[FakeAgent] = []

    def make(agent: str = "agent-1", fablab: str = "lab-berlin", **kwargs: Any) -> FakeAgent:
        fake = FakeAgent(mosquitto.host, mosquitto.port, fablab, agent, **kwargs).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()
