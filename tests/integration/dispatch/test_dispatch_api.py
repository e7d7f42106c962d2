"""The jobs, machines and fablabs API, with the dispatcher running against Mosquitto."""

from __future__ import annotations

import io

from protocol import payloads as p
from tests.support.auth import bearer

from .conftest import job_state, wait_until
from .fake_agent import machine

GCODE = b"G28\nG1 X10 Y10 F3000\nM84\n"


def _upload(client, token, **fields):
    data = {"file": (io.BytesIO(GCODE), "bracket.gcode"), "process": "fdm_print", **fields}
    return client.post("/api/v1/jobs", data=data, headers=bearer(token), content_type="multipart/form-data")


def test_uploaded_file_becomes_jobs_that_agents_can_download(client, token_for, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1"), machine("prusa-2"))
    response = _upload(client, token_for("builder"), material="pla", quantity="2", min_box_mm="20,10,5")
    assert response.status_code == 201, response.json
    created = response.json["jobs"]
    assert len(created) == 2 and len({j["group_id"] for j in created}) == 1
    assert created[0]["min_box_mm"] == [20, 10, 5]

    offer = agent.wait_offer()
    download = client.get(offer.file.url.split("127.0.0.1:8400", 1)[1])
    assert download.status_code == 200 and download.data == GCODE
    agent.job_event(p.JobAccepted, offer)
    agent.job_event(p.JobDone, offer)
    wait_until(lambda: job_state(client.application.extensions["peerfab"], offer.job_id) == "done")

    detail = client.get(f"/api/v1/jobs/{offer.job_id}").json
    assert [e["type"] for e in detail["events"]] == [
        "job:submitted",
        "job:offered",
        "job:accepted",
        "job:done",
    ]
    assert detail["attempts"][0]["state"] == "done"
    assert client.get("/api/v1/jobs?state=done").json["counts"]["done"] == 1


def test_submission_needs_a_builder_or_operator(client, token_for):
    assert _upload(client, token_for("designer")).status_code == 403
    assert client.post("/api/v1/jobs", json={"design": "x", "part": "y"}).status_code == 401


def test_bad_submissions_say_what_is_wrong(client, token_for):
    token = token_for("operator")
    response = _upload(client, token, quantity="0")
    assert response.status_code == 400 and "quantity" in response.json["message"]
    response = client.post("/api/v1/jobs", json={"part": "x"}, headers=bearer(token))
    assert response.status_code == 400 and "design" in response.json["message"]
    response = client.post("/api/v1/jobs", json={"design": "nope", "part": "x"}, headers=bearer(token))
    assert response.status_code == 404
    assert client.get("/api/v1/jobs?state=bogus").status_code == 422
    assert client.get("/api/v1/jobs/does-not-exist").status_code == 404


def test_cancel_through_the_api_stops_the_machine(client, token_for, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1"))
    token = token_for("builder")
    job_id = _upload(client, token).json["jobs"][0]["id"]
    offer = agent.wait_offer()
    agent.job_event(p.JobAccepted, offer)
    response = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bearer(token))
    assert response.status_code == 200 and response.json["state"] == "cancelled"
    agent.wait_command(lambda c: getattr(c, "type", "") == "job:cancel" and c.job_id == job_id)
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bearer(token))
    assert again.status_code == 409 and "already ended" in again.json["message"]


def test_machines_fablabs_and_confirm_clear(client, token_for, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1", status="waiting_operator"))
    rt = client.application.extensions["peerfab"]
    wait_until(lambda: client.get("/api/v1/machines").json["machines"], what="machine announced")
    listed = client.get("/api/v1/machines").json["machines"]
    assert listed[0]["id"] == "prusa-1" and listed[0]["status"] == "waiting_operator"
    labs = client.get("/api/v1/fablabs").json["fablabs"]
    assert labs[0]["id"] == "lab-berlin" and labs[0]["agents"][0]["online"] is True

    url = "/api/v1/machines/lab-berlin/prusa-1/confirm-clear"
    assert client.post(url, headers=bearer(token_for("builder"))).status_code == 403
    assert client.post(url, headers=bearer(token_for("operator"))).status_code == 202
    clear = agent.wait_command(lambda c: getattr(c, "type", "") == "machine:confirm_clear")
    assert clear.machine_id == "prusa-1"
    missing = "/api/v1/machines/lab-berlin/nope/confirm-clear"
    assert client.post(missing, headers=bearer(token_for("operator"))).status_code == 404
    assert rt.dispatcher is not None
