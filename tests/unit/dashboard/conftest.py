"""Fixtures for the dashboard views: published examples, a fablab with a busy machine, sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient

from coordinator.db import session_scope
from coordinator.services import jobs, machines
from coordinator.services.designs import publish_path
from coordinator.services.jobs import Effects, Trigger
from designs import EXAMPLES_DIR
from protocol import payloads as p

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


def machine_info(machine_id: str, status: str) -> p.MachineInfo:
    caps = p.Capabilities(process="fdm_print", materials=("pla", "petg"), build_volume_mm=(200, 200, 180))
    return p.MachineInfo(id=machine_id, driver="simulated", status=status, capabilities=caps)


def announce(runtime: Any, *infos: p.MachineInfo) -> None:
    """An agent comes online with these machines, as its birth message would say."""
    state = p.AgentState(fablab=FABLAB, agent=AGENT, online=True, software="test", machines=infos)
    with session_scope(runtime.engine) as session:
        link = machines.LinkCache(session).get(FABLAB, AGENT)
        machines.record_birth(session, link, state, Effects())


def running_job(runtime: Any, machine_id: str, progress: float = 0.4) -> str:
    """A job printing on `machine_id` at `progress`."""
    spec = jobs.JobSpec(file_sha256="a" * 64, file_name="bracket.gcode", process="fdm_print", material="pla")
    with session_scope(runtime.engine) as session:
        job = jobs.get_job(session, jobs.submit_jobs(session, spec)[0])
        attempt = jobs.start_attempt(session, job, FABLAB, AGENT, machine_id, 60)
        assert attempt is not None
        jobs.transition(session, job, Trigger.ACCEPTED, attempt=attempt)
        jobs.transition(session, job, Trigger.PROGRESS, attempt=attempt)
        job.progress, job.eta_s = progress, 1800
        return job.id


@dataclass
class Workshop:
    printing: str  # machine printing `job`
    waiting: str  # machine waiting for its bed to be cleared
    job: str


@pytest.fixture
def workshop(runtime: Any) -> Workshop:
    announce(runtime, machine_info("mk3", "busy"), machine_info("prusa-2", "waiting_operator"))
    return Workshop(printing="mk3", waiting="prusa-2", job=running_job(runtime, "mk3"))


@dataclass
class FakeDispatcher:
    """Stands in for the MQTT dispatcher: records what would go to agents."""

    sent: list[tuple[str, str, Any]] = field(default_factory=list)
    wakes: int = 0

    def send(self, fablab: str, agent: str, command: Any) -> None:
        self.sent.append((fablab, agent, command))

    def wake(self) -> None:
        self.wakes += 1


@pytest.fixture
def dispatcher(runtime: Any) -> FakeDispatcher:
    fake = FakeDispatcher()
    runtime.services["dispatch"] = fake
    return fake


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
