"""A job's life through the dispatcher, driven by a scripted agent over a real Mosquitto."""

from __future__ import annotations

from protocol import payloads as p

from .conftest import attempts, final_events, job, job_state, submit, wait_until
from .fake_agent import machine


def test_job_runs_to_done_once(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1"))
    (job_id,) = submit(runtime, material="pla")

    offer = agent.wait_offer()
    assert offer.job_id == job_id and offer.machine_id == "prusa-1"
    assert offer.file is not None and offer.file.url.endswith(f"/api/v1/files/{'a' * 64}")
    agent.job_event(p.JobAccepted, offer, eta_s=100)
    wait_until(lambda: job_state(runtime, job_id) == "accepted", what="accepted")
    agent.job_event(p.JobProgress, offer, progress=0.5)
    wait_until(lambda: job(runtime, job_id).progress == 0.5, what="progress")
    assert job_state(runtime, job_id) == "running"
    agent.job_event(p.JobDone, offer, duration_s=12)
    wait_until(lambda: job_state(runtime, job_id) == "done", what="done")

    assert len(final_events(runtime, job_id)) == 1
    assert [a.state for a in attempts(runtime, job_id)] == ["done"]
