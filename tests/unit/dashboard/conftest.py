"""Fixtures for the dashboard views: published examples, a fablab with a busy machine, sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from coordinator.db import session_scope
from coordinator.services.designs import publish_path
from designs import EXAMPLES_DIR
from protocol import payloads as p
from tests.support.agents import BusAgent, RecordingTransport, attach_transport, machine_info, running_job

FABLAB, AGENT = "fablab-a", "agent-1"


@pytest.fixture
def published(runtime: Any) -> list[str]:
    """Both versions of the example printer, published."""
    refs = []
    for name in ("reprap-printer", "reprap-printer-1.1.0"):
        with session_scope(runtime.engine) as session:
            version, _ = publish_path(session, runtime.store, EXAMPLES_DIR / name, runtime.settings.limits)
            refs.append(version.version)
    return refs


@dataclass
class Workshop:
    printing: str  # machine printing `job`
    waiting: str  # machine waiting for its bed to be cleared
    job: str
    agent: BusAgent  # the agent of both machines, to report more of the job
    offer: p.JobOffer  # the offer the job runs under


@pytest.fixture
def dispatcher(runtime: Any) -> RecordingTransport:
    """The MQTT dispatcher's place, taken by a recorder of what would go to agents."""
    return attach_transport(runtime)


@pytest.fixture
def workshop(runtime: Any, dispatcher: RecordingTransport) -> Workshop:
    agent = BusAgent(runtime, FABLAB, AGENT)
    agent.birth(machine_info("mk3"), machine_info("prusa-2", "waiting_operator"))
    job_id, offer = running_job(runtime, agent, "mk3", material="pla", file_name="bracket.gcode")
    dispatcher.sent.clear()  # tests look at what their own actions send
    return Workshop(printing="mk3", waiting="prusa-2", job=job_id, agent=agent, offer=offer)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no form token"
    return match.group(1)


@pytest.fixture
def sign_in(client: FlaskClient, token_for: Any) -> Any:
    """Sign the test client in with a new token of `role`; return the form token to post with."""

    def run(role: str) -> str:
        page = client.get("/dashboard/sign-in").get_data(as_text=True)
        response = client.post(
            "/dashboard/sign-in", data={"token": token_for(role), "csrf_token": csrf_of(page)}
        )
        assert response.status_code == 302
        return csrf_of(client.get("/dashboard/machines").get_data(as_text=True))

    return run
