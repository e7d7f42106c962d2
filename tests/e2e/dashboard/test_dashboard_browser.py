"""The dashboards in a real browser against a running coordinator: designs, live machines, sign-in."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from protocol import payloads as p

from .conftest import FABLAB, Site, shoot


def test_design_version_and_part_preview(site: Site, page: Any) -> None:
    page.goto(f"{site.url}/")
    page.get_by_role("link", name="Designs").first.click()
    expect(page.get_by_role("heading", name="Designs")).to_be_visible()
    shoot(page, "designs")
    page.get_by_role("link", name="RepRap-style desktop printer").click()
    expect(page).to_have_url(re.compile(r"/dashboard/designs/reprap-printer/1\.1\.0$"))
    expect(page.get_by_text("CERN-OHL-S-2.0")).to_be_visible()
    shoot(page, "design-version")
    page.get_by_role("link", name="X end, motor side").first.click()
    image = page.get_by_role("img", name="Isometric preview of X end, motor side")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(page.get_by_test_id("mass")).to_contain_text(" g of PETG")
    shoot(page, "part-preview")


def test_progress_and_status_update_without_reload(site: Site, page: Any) -> None:
    site.announce(("live-1", "busy"))
    job_id = site.running_job("live-1")
    page.goto(f"{site.url}/dashboard/machines")
    card = page.locator("#machine-fablab-demo-live-1")
    bar = card.locator("progress")
    expect(bar).to_have_attribute("value", "10")
    expect(page.locator("#live-state")).to_have_text("Live updates: on")
    page.evaluate("window.notReloaded = true")
    site.report(job_id, p.JobProgress, progress=0.55)
    expect(bar).to_have_attribute("value", "55")
    expect(card).to_contain_text("55% ·")
    site.report(job_id, p.JobDone)
    site.agent().send(p.MachineStatusEvent, machine_id="live-1", status="waiting_operator")
    expect(card).to_contain_text("Waiting for operator")
    expect(card).to_contain_text("No current job")
    assert page.evaluate("window.notReloaded") is True


def test_anonymous_sees_no_buttons_and_cannot_post(site: Site, page: Any) -> None:
    site.announce(("anon-1", "waiting_operator"), agent="agent-anon")
    page.goto(f"{site.url}/dashboard/machines")
    card = page.locator("#machine-fablab-demo-anon-1")
    expect(card).to_contain_text("Waiting for operator")
    expect(card.get_by_role("button")).to_have_count(0)
    response = page.request.post(f"{site.url}/dashboard/machines/{FABLAB}/anon-1/confirm-clear")
    assert response.status == 403


def test_operator_signs_in_and_confirms_a_bed_clear(site: Site, page: Any) -> None:
    site.announce(("clear-1", "waiting_operator"), agent="agent-clear")
    page.goto(f"{site.url}/dashboard/machines")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("API token").fill(site.token("operator"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as operator-in-browser")).to_be_visible()
    card = page.locator("#machine-fablab-demo-clear-1")
    shoot(page, "machines-operator")
    card.get_by_role("button", name="Confirm bed clear").click()
    expect(page.get_by_role("status").filter(has_text="bed is clear")).to_be_visible()


def test_jobs_list_and_job_page(site: Site, page: Any) -> None:
    site.announce(("jobs-1", "busy"), agent="agent-jobs")
    job_id = site.running_job("jobs-1", agent="agent-jobs")
    page.goto(f"{site.url}/dashboard/jobs?state=running")
    row = page.locator(f"#job-{job_id}")
    expect(row).to_contain_text("Running")
    shoot(page, "jobs")
    row.get_by_role("link", name=job_id[:8]).click()
    expect(page.get_by_role("heading", name=re.compile("Job"))).to_contain_text(job_id[:8])
    expect(page.locator("[data-live-log]")).to_contain_text("job:accepted")
    site.report(job_id, p.JobWaitingOperator, reason="filament out")
    expect(page.locator("[data-live-log]")).to_contain_text("job:waiting_operator")
    expect(page.locator("#job-detail")).to_contain_text("Waiting for operator")
    shoot(page, "job")


def test_machines_page_fits_a_phone(site: Site, page: Any, browser: Any) -> None:
    site.announce(("prusa-mk4", "busy"), ("ender-3", "error"), ("voron", "paused"), agent="agent-phone")
    site.running_job("prusa-mk4", agent="agent-phone", progress=0.62)
    site.announce(("cnc-router", "idle"), agent="agent-north", fablab="fablab-north")
    site.agent_gone("fablab-north", "agent-north")
    page.goto(f"{site.url}/dashboard/machines#fablab-demo")
    expect(page.locator("#machine-fablab-north-cnc-router")).to_contain_text("Offline")
    shoot(page, "machines")
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    try:
        small = context.new_page()
        small.goto(f"{site.url}/dashboard/machines")
        expect(small.locator("#machine-fablab-demo-ender-3")).to_contain_text("Error")
        assert small.evaluate("document.documentElement.scrollWidth") <= 360
        small.locator("#machine-fablab-demo-prusa-mk4").scroll_into_view_if_needed()
        shoot(small, "machines-phone")
    finally:
        context.close()
