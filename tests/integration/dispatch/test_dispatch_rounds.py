"""The dispatcher's rounds: offers every round, lease expiry and the planner once a tick."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from coordinator.db import session_scope
from coordinator.models.jobs import JobAttempt, JobState
from coordinator.mqtt.service import DispatchService
from coordinator.services import jobs
from coordinator.services.jobs import Effects, utcnow

SPEC = jobs.JobSpec(file_sha256="f" * 64, file_name="spacer.gcode", process="fdm_print", material="pla")
TICK_S = 1.0


def _offered_with_lapsed_lease(runtime: Any) -> str:
    with session_scope(runtime.engine) as session:
        (job_id,) = jobs.submit_jobs(session, SPEC)
    with session_scope(runtime.engine) as session:
        attempt = jobs.start_attempt(session, jobs.get_job(session, job_id), "lab", "agent", "m1", 60)
        assert attempt is not None
        attempt.lease_expires_at = utcnow() - timedelta(seconds=1)
    return job_id


def _state(runtime: Any, job_id: str) -> str:
    with session_scope(runtime.engine) as session:
        return jobs.get_job(session, job_id).state


def test_leases_are_looked_at_once_a_tick_however_many_rounds_run(runtime: Any) -> None:
    service = DispatchService(runtime, tick_s=TICK_S)  # not started: its rounds are called directly
    first = _offered_with_lapsed_lease(runtime)
    started = time.monotonic()
    service._round(Effects())
    assert _state(runtime, first) == JobState.QUEUED  # the first round always looks

    second = _offered_with_lapsed_lease(runtime)
    service._round(Effects())
    if time.monotonic() - started < TICK_S:  # a slow machine may have let a tick pass already
        assert _state(runtime, second) == JobState.ASSIGNED

    time.sleep(TICK_S)
    service._round(Effects())
    assert _state(runtime, second) == JobState.QUEUED
    with session_scope(runtime.engine) as session:
        expired = [a for a in jobs.job_history(session, second)[0] if a.state == "expired"]
    assert len(expired) == 1 and isinstance(expired[0], JobAttempt)
