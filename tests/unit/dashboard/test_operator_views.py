"""Machines and jobs pages with roles: who sees buttons, who may post, what the actions do."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from coordinator.models.jobs import Job, JobEvent
from protocol import payloads as p
from tests.support.agents import RecordingTransport, submit

from .conftest import FABLAB, Workshop, csrf_of

CONFIRM = f"/dashboard/machines/{FABLAB}/prusa-2/confirm-clear"


def get_job(runtime: Any, job_id: str) -> Job:
    with Session(runtime.engine) as session:
        found = session.get(Job, job_id)
        assert found is not None
        return found


def test_machines_page_shows_status_with_label_icon_and_progress(
    client: FlaskClient, workshop: Workshop
) -> None:
    html = client.get("/dashboard/machines").get_data(as_text=True)
    assert "Printing" in html and "Waiting for operator" in html
    assert 'href="#i-play"' in html and 'href="#i-hand"' in html  # an icon with every label
    assert 'value="40"' in html and "about 30 min left" in html
    assert "pla, petg" in html


def test_anonymous_sees_no_action_buttons(client: FlaskClient, workshop: Workshop) -> None:
    html = client.get("/dashboard/machines").get_data(as_text=True)
    assert "Confirm bed clear" not in html
    assert "Cancel job" not in html and "Mark failed" not in html
    assert "Sign in" in html


@pytest.mark.parametrize(
    "url",
    [CONFIRM, "/dashboard/jobs/JOB/pause", "/dashboard/jobs/JOB/cancel", "/dashboard/jobs/JOB/fail"],
)
def test_anonymous_post_is_forbidden(
    client: FlaskClient, workshop: Workshop, dispatcher: RecordingTransport, url: str
) -> None:
    token = csrf_of(client.get("/dashboard/sign-in").get_data(as_text=True))
    response = client.post(url.replace("JOB", workshop.job), data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 403
    assert dispatcher.sent == []


def test_designer_cannot_act_on_machines(
    client: FlaskClient, workshop: Workshop, dispatcher: RecordingTransport, sign_in: Any
) -> None:
    token = sign_in("designer")
    assert "Confirm bed clear" not in client.get("/dashboard/machines").get_data(as_text=True)
    assert client.post(CONFIRM, data={"csrf_token": token}).status_code == 403
    assert dispatcher.sent == []


def test_operator_confirms_a_bed_clear(
    client: FlaskClient, workshop: Workshop, dispatcher: RecordingTransport, sign_in: Any
) -> None:
    token = sign_in("operator")
    html = client.get("/dashboard/machines").get_data(as_text=True)
    assert html.count("Confirm bed clear") == 1  # only on the machine that waits
    response = client.post(CONFIRM, data={"csrf_token": token, "next": "/dashboard/machines"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard/machines")
    [(fablab, agent, command)] = [(o.fablab, o.agent, o.command) for o in dispatcher.sent]
    assert (fablab, agent) == (FABLAB, "agent-1")
    assert isinstance(command, p.ConfirmClear) and command.machine_id == "prusa-2"
    assert "bed is clear" in client.get("/dashboard/machines").get_data(as_text=True)


def test_post_without_form_token_is_refused(
    client: FlaskClient, workshop: Workshop, dispatcher: RecordingTransport, sign_in: Any
) -> None:
    sign_in("operator")
    assert client.post(CONFIRM, data={}).status_code == 400
    assert client.post(CONFIRM, data={"csrf_token": "forged"}).status_code == 400
    assert dispatcher.sent == []


def test_revoked_token_signs_out(
    client: FlaskClient, workshop: Workshop, dispatcher: RecordingTransport, sign_in: Any, runtime: Any
) -> None:
    from coordinator.db import session_scope
    from coordinator.models.auth import ApiToken

    token = sign_in("operator")
    with session_scope(runtime.engine) as session:
        for record in session.exec(select(ApiToken)).all():
            record.revoked = True
            session.add(record)
    assert client.post(CONFIRM, data={"csrf_token": token}).status_code == 403


def test_bad_token_does_not_sign_in(client: FlaskClient) -> None:
    token = csrf_of(client.get("/dashboard/sign-in").get_data(as_text=True))
    response = client.post("/dashboard/sign-in", data={"token": "pf_nope", "csrf_token": token})
    assert response.status_code == 401
    assert "not valid" in response.get_data(as_text=True)


def test_sign_in_returns_only_to_dashboard_pages(client: FlaskClient, token_for: Any) -> None:
    token = csrf_of(client.get("/dashboard/sign-in").get_data(as_text=True))
    data = {"token": token_for("operator"), "csrf_token": token, "next": "https://evil.example/"}
    response = client.post("/dashboard/sign-in", data=data)
    assert response.headers["Location"].endswith("/dashboard/machines")


def test_operator_cancels_a_running_job(
    client: FlaskClient, workshop: Workshop, dispatcher: RecordingTransport, sign_in: Any, runtime: Any
) -> None:
    token = sign_in("operator")
    response = client.post(f"/dashboard/jobs/{workshop.job}/cancel", data={"csrf_token": token})
    assert response.status_code == 302
    assert get_job(runtime, workshop.job).state == "cancelled"
    [command] = [o.command for o in dispatcher.sent]
    assert isinstance(command, p.JobControl) and command.type == "job:cancel"


def test_operator_pauses_a_running_job(
    client: FlaskClient, workshop: Workshop, dispatcher: RecordingTransport, sign_in: Any, runtime: Any
) -> None:
    token = sign_in("operator")
    client.post(f"/dashboard/jobs/{workshop.job}/pause", data={"csrf_token": token})
    [command] = [o.command for o in dispatcher.sent]
    assert isinstance(command, p.JobControl) and command.type == "job:pause"
    assert get_job(runtime, workshop.job).state == "running"
    log = client.get(f"/dashboard/jobs/{workshop.job}").get_data(as_text=True)
    assert "operator:pause" in log


def test_pause_without_dispatcher_says_so(
    client: FlaskClient, workshop: Workshop, sign_in: Any, runtime: Any
) -> None:
    runtime.outbox.transport = None  # this coordinator runs no dispatcher
    token = sign_in("operator")
    client.post(f"/dashboard/jobs/{workshop.job}/pause", data={"csrf_token": token})
    assert "dispatcher is not running" in client.get("/dashboard/machines").get_data(as_text=True)
    with Session(runtime.engine) as session:
        assert not session.exec(select(JobEvent).where(JobEvent.type == "operator:pause")).all()


def test_operator_marks_a_job_failed_with_a_reason(
    client: FlaskClient, workshop: Workshop, dispatcher: RecordingTransport, sign_in: Any, runtime: Any
) -> None:
    token = sign_in("operator")
    url = f"/dashboard/jobs/{workshop.job}/fail"
    client.post(url, data={"csrf_token": token, "reason": "   "})
    assert get_job(runtime, workshop.job).state == "running"  # a reason is required
    client.post(url, data={"csrf_token": token, "reason": "spaghetti on the bed"})
    job = get_job(runtime, workshop.job)
    assert job.state == "queued"  # attempts remain: it goes round again
    assert "spaghetti on the bed" in job.reason
    assert [o.command.type for o in dispatcher.sent] == ["job:cancel"]
    assert "spaghetti on the bed" in client.get(f"/dashboard/jobs/{job.id}").get_data(as_text=True)


def test_operator_sees_job_actions(client: FlaskClient, workshop: Workshop, sign_in: Any) -> None:
    sign_in("operator")
    html = client.get(f"/dashboard/jobs/{workshop.job}").get_data(as_text=True)
    for label in ("Pause", "Cancel job", "Mark failed", 'label for="reason-'):
        assert label in html


def test_jobs_list_filters_by_state(client: FlaskClient, workshop: Workshop, runtime: Any) -> None:
    all_jobs = client.get("/dashboard/jobs").get_data(as_text=True)
    assert workshop.job[:8] in all_jobs
    queued = client.get("/dashboard/jobs?state=queued").get_data(as_text=True)
    assert workshop.job[:8] not in queued and "No queued jobs" in queued
    (other,) = submit(runtime, process="laser_cut")  # no machine here cuts: it stays queued
    queued = client.get("/dashboard/jobs?state=queued").get_data(as_text=True)
    assert other[:8] in queued and workshop.job[:8] not in queued
    assert "unknown job state" in client.get("/dashboard/jobs?state=melted").get_data(as_text=True)


def test_job_page_shows_attempts_and_event_log(client: FlaskClient, workshop: Workshop) -> None:
    html = client.get(f"/dashboard/jobs/{workshop.job}").get_data(as_text=True)
    for event in ("job:submitted", "job:offered", "job:accepted", "job:progress"):
        assert event in html
    assert f"{FABLAB}/mk3" in html
    assert "1 of 3" in html


def test_machine_fragment_is_one_card(client: FlaskClient, workshop: Workshop) -> None:
    html = client.get(f"/dashboard/fragments/machines/{FABLAB}/mk3?next=/dashboard/machines").get_data(
        as_text=True
    )
    assert html.lstrip().startswith("<article") and html.count("<article") == 1
    assert f'data-job-id="{workshop.job}"' in html and 'data-status="running"' in html


def test_home_counts_machines_and_jobs(client: FlaskClient, workshop: Workshop) -> None:
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "Printing: 1" in html and "Waiting for operator: 1" in html
    assert "Running</a>: 1" in html
