"""Pause, resume, fail and cancel through the API: who may, what the machine is told, what the job becomes."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from sqlmodel import Session, select

from coordinator.models.jobs import Job, JobEvent, Machine
from protocol import payloads as p
from tests.support.agents import (
    BusAgent,
    RecordingTransport,
    attach_transport,
    machine_info,
    offers_after_round,
    running_job,
    submit,
)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def printing(runtime: Any) -> tuple[RecordingTransport, BusAgent, str, p.JobOffer]:
    transport = attach_transport(runtime)
    agent = BusAgent(runtime, "lab", "agent")
    agent.birth(machine_info("mk4", operator_confirm=True))
    job_id, offer = running_job(runtime, agent, "mk4", progress=0.3)
    transport.sent.clear()
    return transport, agent, job_id, offer


def _job(runtime: Any, job_id: str) -> Job:
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _status(runtime: Any, machine_id: str = "mk4") -> str:
    with Session(runtime.engine) as session:
        machine = session.exec(select(Machine).where(Machine.machine_id == machine_id)).one()
        return machine.status


def test_pause_then_resume_goes_on_from_where_it_was(
    client: Any, runtime: Any, token_for: Any, printing: Any
) -> None:
    transport, agent, job_id, offer = printing
    operator = _bearer(token_for("operator"))
    asked = client.post(f"/api/v1/jobs/{job_id}/pause", headers=operator)
    assert asked.status_code == 200 and asked.json["state"] == "running"  # a request: the machine decides
    assert [c.type for c in transport.commands(p.JobControl)] == ["job:pause"]
    agent.job_event(p.JobPaused, offer)
    paused = client.get(f"/api/v1/jobs/{job_id}").json
    assert (paused["state"], paused["progress"], paused["actions"]) == (
        "paused",
        0.3,
        ["cancel", "fail", "resume"],
    )
    assert _status(runtime) == "paused"
    assert client.post(f"/api/v1/jobs/{job_id}/pause", headers=operator).status_code == 409
    assert client.post(f"/api/v1/jobs/{job_id}/resume", headers=operator).status_code == 200
    agent.job_event(p.JobResumed, offer)
    agent.job_event(p.JobProgress, offer, progress=0.35)
    job = _job(runtime, job_id)
    assert (job.state, job.progress, job.attempts) == ("running", 0.35, 1)  # one attempt: nothing restarted
    assert _status(runtime) == "running"
    agent.job_event(p.JobDone, offer)
    assert _job(runtime, job_id).state == "done"
    assert _status(runtime) == "waiting_operator"  # the part is on the bed until someone clears it


def test_only_operators_pause_resume_and_fail(
    client: Any, runtime: Any, token_for: Any, printing: Any
) -> None:
    transport, _agent, job_id, _offer = printing
    for role in ("builder", "designer", "agent"):
        for action in ("pause", "resume", "fail"):
            response = client.post(
                f"/api/v1/jobs/{job_id}/{action}", json={"reason": "x"}, headers=_bearer(token_for(role))
            )
            assert response.status_code == 403, (role, action)
    assert client.post(f"/api/v1/jobs/{job_id}/pause").status_code == 401
    assert transport.sent == []


def test_fail_stops_the_machine_and_the_part_goes_round_again(
    client: Any, runtime: Any, token_for: Any, printing: Any
) -> None:
    transport, _agent, job_id, _offer = printing
    operator = _bearer(token_for("operator"))
    assert client.post(f"/api/v1/jobs/{job_id}/fail", json={}, headers=operator).status_code == 422
    response = client.post(f"/api/v1/jobs/{job_id}/fail", json={"reason": "layer shift"}, headers=operator)
    assert response.status_code == 200 and response.json["state"] == "queued"
    assert "layer shift" in response.json["reason"]
    assert [c.type for c in transport.commands(p.JobControl)] == ["job:cancel"]
    again = client.post(f"/api/v1/jobs/{job_id}/fail", json={"reason": "again"}, headers=operator)
    assert again.status_code == 409  # no machine works on it now


def test_a_pause_the_coordinator_cannot_deliver_is_refused_and_not_logged(
    client: Any, runtime: Any, token_for: Any, printing: Any
) -> None:
    _transport, _agent, job_id, _offer = printing
    runtime.outbox.transport = None
    response = client.post(f"/api/v1/jobs/{job_id}/pause", headers=_bearer(token_for("operator")))
    assert response.status_code == 409 and "dispatcher is not running" in response.json["message"]
    with Session(runtime.engine) as session:
        assert session.exec(select(JobEvent).where(JobEvent.type == "operator:pause")).all() == []


def test_an_operator_scoped_to_another_fablab_may_not_touch_the_job(runtime: Any, printing: Any) -> None:
    from coordinator.jobs.commands import PauseJob
    from coordinator.services.auth import Actor
    from protocol.errors import Forbidden

    _transport, _agent, job_id, _offer = printing
    elsewhere = Actor("olga", "operator", ("other-lab",))
    with pytest.raises(Forbidden, match="fablab 'lab'"):
        runtime.bus.handle(PauseJob(job_id, elsewhere))
    here = Actor("olga", "operator", ("lab",))
    runtime.bus.handle(PauseJob(job_id, here))


def test_an_operator_gives_a_job_that_needs_preparation_its_machine_file(
    client: Any, runtime: Any, token_for: Any
) -> None:
    transport = attach_transport(runtime)
    agent = BusAgent(runtime, "lab", "agent")
    caps = p.Capabilities(
        process="pcb_fab", materials=("fr4",), build_volume_mm=(229, 305, 10), max_spindle_rpm=30000
    )
    agent.birth(machine_info("mill", capabilities=caps))
    (job_id,) = submit(runtime, process="pcb_fab", material="fr4", file_name="board-F_Cu.gtl")
    [offer] = offers_after_round(runtime, transport)
    agent.job_event(p.JobNeedsPreparation, offer, reason="Gerber files are prepared by an operator")
    waiting = client.get(f"/api/v1/jobs/{job_id}").json
    assert waiting["state"] == "needs_preparation" and "prepare" in waiting["actions"]
    assert _status(runtime, "mill") == "waiting_operator"
    url = f"/api/v1/jobs/{job_id}/machine-file"
    unsafe_gcode = b"G21\nM3 S90000\nG1 X10 F300\n"
    unsafe = {"file": (io.BytesIO(unsafe_gcode), "board.nc")}
    refused = client.post(
        url, data=unsafe, headers=_bearer(token_for("operator")), content_type="multipart/form-data"
    )
    assert refused.status_code == 400 and "spindle" in refused.json["message"].lower()
    assert transport.commands(p.JobPrepared) == []
    assert not runtime.store.exists(hashlib.sha256(unsafe_gcode).hexdigest())  # a refused file is not kept
    good = b"G21\nG90\nM3 S12000\nG1 X10 Y0 F300\nM5\n"

    def upload(role: str) -> Any:
        form = {"file": (io.BytesIO(good), "board.nc")}
        return client.post(
            url, data=form, headers=_bearer(token_for(role)), content_type="multipart/form-data"
        )

    assert upload("builder").status_code == 403
    sent = upload("operator")
    assert sent.status_code == 200
    [prepared] = transport.commands(p.JobPrepared)
    assert prepared.attempt_id == offer.attempt_id and prepared.file.name == "board.nc"
    assert prepared.file.url.endswith(prepared.file.sha256)
    refusal = "the file given (board.nc) cannot run: download failed"
    agent.job_event(p.JobNeedsPreparation, offer, reason=refusal)
    again = client.get(f"/api/v1/jobs/{job_id}").json
    assert again["state"] == "needs_preparation" and "board.nc" in again["reason"]
    agent.job_event(p.JobAccepted, offer)
    assert client.get(f"/api/v1/jobs/{job_id}").json["state"] == "accepted"
