"""An operator pauses, resumes and cancels a print in the browser, and every page tells the truth.

A real agent drives a simulated printer over the coordinator's broker: what the pages and the API say
comes from what the agent reports, not from what the coordinator asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from coordinator.db import session_scope
from coordinator.jobs.commands import COORDINATOR, SubmitJobs
from coordinator.jobs.submission import JobSpec, store_upload
from fablab_agents.agent import Agent
from fablab_agents.config import load_agent_config
from tests.support.waiting import wait_until

from .conftest import Site, shoot

FABLAB = "fablab-truth"
# slow moves: about 300 simulated seconds, half a minute at this scale
GCODE = b"G21\nG90\nG28\n" + b"".join(
    f"G1 X{20 + (i % 2) * 150} Y{20 + i} F1200\n".encode() for i in range(40)
)


@pytest.fixture
def printer(site: Site, tmp_path: Path) -> Iterator[Agent]:
    settings = site.process.settings
    config = load_agent_config({
        "agent": {"fablab": FABLAB, "id": "agent-1", "coordinator_url": site.url, "local_port": 0,
                  "mqtt_url": f"mqtt://{settings.mqtt.embedded_host}:{settings.mqtt.embedded_port}",
                  "heartbeat_s": 1, "progress_interval_s": 0.5},
        "machine mk4": {"driver": "simulated", "process": "fdm_print", "materials": ["pla"],
                        "build_volume_mm": [250, 210, 210], "operator_confirm": True, "time_scale": 10},
    })  # fmt: skip
    agent = Agent(config, tmp_path / "agent")
    agent.start()
    yield agent
    agent.stop()


def _submit(site: Site, folder: Path) -> str:
    source = folder / "plate.gcode"
    source.write_bytes(GCODE)
    with session_scope(site.runtime.engine) as session:
        digest, size = store_upload(session, site.runtime.store, source)
    spec = JobSpec(
        file_sha256=digest, file_name="plate.gcode", file_size=size, process="fdm_print", material="pla"
    )
    (job_id,) = site.runtime.bus.handle(SubmitJobs(spec, 1, COORDINATOR))
    return str(job_id)


def _machine_status(page: Any, site: Site) -> str:
    machines = page.request.get(f"{site.url}/api/v1/machines").json()["machines"]
    return next(m["status"] for m in machines if m["fablab"] == FABLAB)


def test_pause_resume_and_cancel_show_what_the_machine_does(
    site: Site, page: Any, printer: Agent, tmp_path: Path
) -> None:
    job_id = _submit(site, tmp_path)
    wait_until(lambda: site.job(job_id).state == "running", timeout_s=30, what="the print running")
    page.goto(f"{site.url}/dashboard/sign-in?next=/dashboard/machines")
    page.get_by_label("API token").fill(site.token("operator"))
    page.get_by_role("button", name="Sign in").click()
    card = page.locator(f"#machine-{FABLAB}-mk4")
    expect(card).to_contain_text("Printing")
    assert _machine_status(page, site) == "running"
    expect(card.get_by_role("button", name="Resume")).to_have_count(0)  # only what the state allows

    card.get_by_role("button", name="Pause").click()
    expect(card).to_contain_text("Paused")
    expect(card.get_by_role("button", name="Resume")).to_be_visible()
    expect(card.get_by_role("button", name="Pause")).to_have_count(0)
    held = site.job(job_id)
    assert held.state == "paused" and 0 < held.progress < 1 and _machine_status(page, site) == "paused"
    assert printer.machines["mk4"].job is not None and printer.machines["mk4"].job.state == "paused"
    shoot(page, "machine-paused")

    page.goto(f"{site.url}/dashboard/jobs/{job_id}")
    expect(page.locator("#job-detail")).to_contain_text("Paused")
    expect(page.locator("[data-live-log]")).to_contain_text("job:paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#job-detail")).to_contain_text("Running")
    wait_until(lambda: site.job(job_id).progress > held.progress, what="progress going on from where it was")

    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#job-detail")).to_contain_text("Cancelled")
    page.goto(f"{site.url}/dashboard/machines")
    expect(page.locator(f"#machine-{FABLAB}-mk4")).to_contain_text("Waiting for operator")  # the bed
    wait_until(lambda: _machine_status(page, site) == "waiting_operator", what="the API agreeing")
    job = site.job(job_id)
    assert job.state == "cancelled" and job.attempts == 1
