"""A real coordinator (waitress, dispatcher, embedded broker) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from coordinator.db import session_scope
from coordinator.jobs import queries
from coordinator.models.jobs import Job
from coordinator.services import auth
from protocol import payloads as p
from tests.conftest import UNDER_CI
from tests.support.agents import BusAgent, machine_info, running_job
from tests.support.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# set to a folder (e.g. docs/screenshots) to save the pages the tests visit
SCREENSHOTS = os.environ.get("PEERFAB_SCREENSHOTS", "")
FABLAB, AGENT = "fablab-demo", "agent-1"


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
    agents: dict[tuple[str, str], BusAgent] = field(default_factory=dict)
    offers: dict[str, tuple[BusAgent, p.JobOffer]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.process.url)

    @property
    def runtime(self) -> Any:
        return self.process.runtime

    def token(self, role: str) -> str:
        with session_scope(self.runtime.engine) as session:
            return auth.create_token(session, role, name=f"{role}-in-browser")[1]

    def agent(self, agent: str = AGENT, fablab: str = FABLAB) -> BusAgent:
        """The agent of that name, speaking straight to the coordinator's bus."""
        if (fablab, agent) not in self.agents:
            self.agents[(fablab, agent)] = BusAgent(self.runtime, fablab, agent)
        return self.agents[(fablab, agent)]

    def announce(self, *machine_states: tuple[str, str], agent: str = AGENT, fablab: str = FABLAB) -> None:
        """An agent's birth with machines (id, status)."""
        caps = p.Capabilities(process="fdm_print", materials=("pla",), build_volume_mm=(200, 200, 180))
        self.agent(agent, fablab).birth(*[machine_info(m, s, capabilities=caps) for m, s in machine_states])

    def agent_gone(self, fablab: str, agent: str) -> None:
        self.agent(agent, fablab).death()

    def running_job(self, machine_id: str, agent: str = AGENT, progress: float = 0.1) -> str:
        reporter = self.agent(agent)
        job_id, offer = running_job(self.runtime, reporter, machine_id, progress, 3600 * (1 - progress),
                                    material="pla", file_name="bracket.gcode")  # fmt: skip
        self.offers[job_id] = (reporter, offer)
        return job_id

    def report(self, job_id: str, event_type: type[Any], **fields: Any) -> None:
        """The machine holding `job_id` reports on it, as its agent would."""
        reporter, offer = self.offers[job_id]
        reporter.job_event(event_type, offer, **fields)

    def job(self, job_id: str) -> Job:
        with session_scope(self.runtime.engine) as session:
            return queries.get_job(session, job_id)


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
