"""A real coordinator (waitress, dispatcher, embedded broker) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coordinator.db import session_scope
from coordinator.models.jobs import Job
from coordinator.services import auth, jobs, machines
from coordinator.services.jobs import Effects, Trigger
from protocol import payloads as p

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# set to a folder (e.g. docs/screenshots) to save the pages the tests visit
SCREENSHOTS = os.environ.get("PEERFAB_SCREENSHOTS", "")
FABLAB, AGENT = "fablab-demo", "agent-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if UNDER_CI:
            pytest.fail(f"{CHROMIUM} is required under CI (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Site:
    """The running coordinator as the browser tests use it."""

    process: Any

    @property
    def url(self) -> str:
        return str(self.process.url)

    @property
    def runtime(self) -> Any:
        return self.process.runtime

    def token(self, role: str) -> str:
        with session_scope(self.runtime.engine) as session:
            return auth.create_token(session, role, name=f"{role}-in-browser")[1]

    def announce(self, *machine_states: tuple[str, str], agent: str = AGENT, fablab: str = FABLAB) -> None:
        """An agent's birth message with machines (id, status), straight into the services."""
        caps = p.Capabilities(process="fdm_print", materials=("pla",), build_volume_mm=(200, 200, 180))
        infos = tuple(
            p.MachineInfo(id=m, driver="simulated", status=s, capabilities=caps) for m, s in machine_states
        )
        state = p.AgentState(fablab=fablab, agent=agent, online=True, software="test", machines=infos)
        with session_scope(self.runtime.engine) as session:
            link = machines.LinkCache(session).get(fablab, agent)
            machines.record_birth(session, link, state, Effects())

    def agent_gone(self, fablab: str, agent: str) -> None:
        with session_scope(self.runtime.engine) as session:
            machines.record_death(session, machines.LinkCache(session).get(fablab, agent))

    def running_job(self, machine_id: str, agent: str = AGENT, progress: float = 0.1) -> str:
        spec = jobs.JobSpec(
            file_sha256="b" * 64, file_name="bracket.gcode", process="fdm_print", material="pla"
        )
        with session_scope(self.runtime.engine) as session:
            job = jobs.get_job(session, jobs.submit_jobs(session, spec)[0])
            attempt = jobs.start_attempt(session, job, FABLAB, agent, machine_id, 600)
            assert attempt is not None
            jobs.transition(session, job, Trigger.ACCEPTED, attempt=attempt)
            jobs.transition(session, job, Trigger.PROGRESS, attempt=attempt)
            job.progress, job.eta_s = progress, 3600 * (1 - progress)
            return job.id

    def job(self, job_id: str) -> Job:
        with session_scope(self.runtime.engine) as session:
            return jobs.get_job(session, job_id)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from coordinator.demo import publish_examples
    from coordinator.process import CoordinatorProcess
    from coordinator.settings import load_settings

    folder = tmp_path_factory.mktemp("coordinator")
    settings = load_settings(
        env={},
        overrides={
            "storage": {"data_dir": str(folder)},
            "server": {"host": "127.0.0.1", "port": 0},
            "mqtt": {"embedded_port": free_port(), "client_id": f"dashboard-e2e-{folder.name}"},
        },
    )
    process = CoordinatorProcess(settings).start()
    try:
        publish_examples(process.runtime)
        yield Site(process)
    finally:
        process.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shoot(page: Any, name: str) -> None:
    """Save a screenshot when PEERFAB_SCREENSHOTS names a folder."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=False)
