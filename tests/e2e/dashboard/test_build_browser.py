"""A build in a real browser: the list, the build page following its jobs live, a builder's action."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from coordinator.db import session_scope
from coordinator.jobs.commands import StartBuild
from coordinator.models.builds import Build, BuildTask
from coordinator.services import builds, designs
from coordinator.services.auth import Actor
from protocol import payloads as p
from tests.support.agents import machine_info, offer_to
from tests.support.packages import write_package

from .conftest import FABLAB, Site, shoot

AGENT = "agent-build"
BUILDER = "builder"


def announce_busy(site: Site) -> None:
    """A printer and an assembly bench that are both busy, so the dispatcher offers them nothing."""
    printer = p.Capabilities(process="fdm_print", materials=("pla",), build_volume_mm=(250, 210, 210))
    bench = p.Capabilities(process="assembly")
    site.agent(AGENT).birth(
        machine_info("mk4", "running", capabilities=printer),
        machine_info("bench", "running", capabilities=bench),
    )


def planned_build(site: Site, folder: Path) -> tuple[str, str]:
    """Publish a small machine, start two builds, wait for the plan; (the two-unit build, its plate job)."""
    announce_busy(site)
    rt = site.runtime
    with session_scope(rt.engine) as session:
        designs.publish_path(session, rt.store, write_package(folder), rt.settings.limits)
    rt.bus.handle(StartBuild("test-machine", "latest", 1, FABLAB, 0, None, Actor("ana", BUILDER)))
    # the rails take five days to arrive, so this build cannot meet a due date three days away
    due = datetime.now(UTC) + timedelta(days=3)
    build_id = rt.bus.handle(
        StartBuild("test-machine", "latest", 2, FABLAB, 0, due, Actor("builder-in-browser", BUILDER))
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with Session(rt.engine) as session:
            build = session.get(Build, build_id)
            if build is not None and build.planned_finish_at is not None:
                break
        time.sleep(0.1)
    else:
        pytest.fail("the coordinator's planner did not plan the build within 20 s")
    with Session(rt.engine) as session:
        task = next(t for t, _ in builds.build_tasks(session, build_id) if t.task_id == "fab:bracket:1")
        assert isinstance(task, BuildTask) and task.job_id is not None
        return build_id, task.job_id


def start_on_the_printer(site: Site, job_id: str, progress: float) -> None:
    """The printer takes the job and reports it running, as its agent would."""
    offer = offer_to(site.runtime, job_id, FABLAB, AGENT, "mk4")
    site.offers[job_id] = (site.agent(AGENT), offer)
    site.report(job_id, p.JobAccepted)
    site.report(job_id, p.JobProgress, progress=progress, eta_s=600)


@pytest.fixture(scope="module")
def made(site: Site, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return planned_build(site, tmp_path_factory.mktemp("design") / "pkg")


def test_build_page_follows_its_jobs_live(site: Site, page: Any, browser: Any, made: tuple[str, str]) -> None:
    build_id, plate_job = made
    page.goto(f"{site.url}/dashboard/builds")
    row = page.locator(f'tr[data-build="{build_id}"]')
    expect(row).to_contain_text("test-machine@1.0.0")
    expect(row).to_contain_text("0 of 5 tasks done")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Late")
    shoot(page, "builds")

    row.get_by_role("link").click()
    status = page.locator("#build-status")
    expect(status).to_contain_text("0 of 5 tasks done")
    expect(page.locator("#live-state")).to_have_text("Live updates: on")
    plate = page.locator('tr[data-task="fab:bracket:1"]')
    expect(plate).to_contain_text("Queued")
    page.evaluate("window.notReloaded = true")

    start_on_the_printer(site, plate_job, progress=0.4)
    expect(plate).to_contain_text("Running")
    expect(plate.locator("progress")).to_have_attribute("value", "40")
    expect(page.locator('#build-gantt g[data-task="fab:bracket:1"] rect.act')).to_have_count(1)
    expect(page.locator("[data-live-build-log] tr").first).to_contain_text("job:progress")

    site.report(plate_job, p.JobDone)
    expect(status).to_contain_text("1 of 5 tasks done")
    expect(plate).to_contain_text("Done")
    expect(status.locator('[data-assembly="frame"]')).to_contain_text("16 of 16 printed parts")
    expect(page.locator("[data-live-build-log] tr").first).to_contain_text("job:done")
    assert page.evaluate("window.notReloaded") is True
    shoot(page, "build")
    page.evaluate("document.getElementById('h-gantt').scrollIntoView()")
    shoot(page, "build-gantt")

    phone = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        small = phone.new_page()
        small.goto(f"{site.url}/dashboard/builds/{build_id}")
        expect(small.locator("#build-status")).to_contain_text("1 of 5 tasks done")
        # wide tables and the chart scroll inside their boxes; the page itself does not
        assert small.evaluate("document.documentElement.scrollWidth") <= 360
        shoot(small, "build-phone")
    finally:
        phone.close()


def test_builder_records_purchases_received(site: Site, page: Any, made: tuple[str, str]) -> None:
    build_id = made[0]
    page.goto(f"{site.url}/dashboard/sign-in?next=/dashboard/builds/{build_id}")
    page.get_by_label("API token").fill(site.token("builder"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Purchases")).to_be_visible()
    page.get_by_label("Rail 300 mm: select").check()
    page.get_by_role("button", name="Mark selected received").click()
    expect(page.get_by_role("status").filter(has_text="Recorded 1 purchase line as received")).to_be_visible()
    expect(page.locator('tr[data-purchase="rail"]')).to_contain_text("Received")
    expect(page.locator('tr[data-purchase="bolt"]')).to_contain_text("To order")
    expect(page.get_by_role("button", name="Cancel build")).to_be_visible()
