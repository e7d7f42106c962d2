"""Spools, maintenance, statistics and notifications in a real browser, at desktop and phone widths."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from coordinator.jobs.commands import SaveMaintenanceTask, SaveSpool
from coordinator.services.auth import Actor
from protocol import payloads as p
from tests.support.agents import machine_info, running_job

from .conftest import FABLAB, Site, shoot

LAB_OPERATOR = Actor(name="operator-in-browser", role="operator")
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True}


@pytest.fixture(scope="module")
def workshop(site: Site) -> Site:
    """Two printers with spools (one nearly empty), one finished job, a task due on one printer."""
    caps = p.Capabilities(process="fdm_print", materials=("pla",), build_volume_mm=(250, 210, 210))
    low = caps.model_copy(
        update={"spool": p.LoadedSpool(id="PLA-LOW", material="pla", colour="black", remaining_g=30)}
    )
    site.agent("agent-shop").birth(
        machine_info("mk4-a", "idle", capabilities=low), machine_info("mk4-b", "idle", capabilities=caps)
    )
    site.runtime.bus.handle(
        SaveSpool(
            FABLAB,
            None,
            {
                "material": "pla",
                "colour": "orange",
                "initial_g": 1000,
                "remaining_g": 820,
                "cost_per_kg": 24.0,
                "machine_id": "mk4-b",
            },
            LAB_OPERATOR,
        )
    )
    reporter = site.agent("agent-shop")
    site.runtime.bus.handle(
        SaveMaintenanceTask(FABLAB, "mk4-b", None, {"name": "nozzle change", "every_jobs": 1}, LAB_OPERATOR)
    )
    _, offer = running_job(
        site.runtime,
        reporter,
        "mk4-b",
        0.5,
        60,
        material="pla",
        params={"filament_g": 40.0},
        design="reprap-printer",
        part_id="x-carriage",
    )
    reporter.job_event(p.JobDone, offer, duration_s=60)
    _, second = running_job(
        site.runtime, reporter, "mk4-a", 0.2, 60, material="pla", params={"filament_g": 10.0}, max_attempts=1
    )
    reporter.job_event(p.JobFailed, second, reason="spaghetti")
    return site


def sign_in(site: Site, page: Any, role: str = "operator") -> None:
    page.goto(f"{site.url}/dashboard/sign-in")
    page.get_by_label("API token").fill(site.token(role))
    page.get_by_role("button", name="Sign in").click()


def no_console_errors(page: Any) -> list[str]:
    """Script errors, CSP refusals and failed loads of the page's own resources (not the favicon)."""
    seen: list[str] = []
    page.on(
        "console",
        lambda m: seen.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None,
    )
    page.on(
        "response",
        lambda r: seen.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None,
    )
    return seen


def test_operator_adds_and_loads_a_spool(workshop: Site, page: Any) -> None:
    errors = no_console_errors(page)
    sign_in(workshop, page)
    page.goto(f"{workshop.url}/dashboard/spools")
    section = page.locator(f"#lab-{FABLAB}")
    # the agent's spool entered the inventory with its first job, which failed a fifth of the way in
    expect(section.locator("tr[data-spool]").filter(has_text="PLA-LOW")).to_contain_text("28 of 30 g")
    expect(section).to_contain_text("780 of 1000 g")  # 820 g less the 40 g the finished job used
    section.get_by_text(f"Add a spool to {FABLAB}").click()
    section.get_by_label("Material").fill("petg")
    section.get_by_label("Colour").fill("orange")
    section.get_by_label("Filament, g").fill("750")
    section.get_by_label("Load on").last.select_option("mk4-a")
    section.get_by_role("button", name="Add spool").click()
    expect(page.locator(".flash-ok")).to_contain_text("added to")
    expect(page.locator("tr[data-spool]").filter(has_text="petg")).to_contain_text("mk4-a")
    shoot(page, "spools")
    assert errors == []


def test_maintenance_holds_a_machine_until_signed_off(workshop: Site, page: Any) -> None:
    sign_in(workshop, page)
    page.goto(f"{workshop.url}/dashboard/machines")
    card = page.locator(f"#machine-{FABLAB}-mk4-b")
    expect(card.get_by_test_id("held")).to_contain_text("nozzle change is due (1 of 1 jobs)")
    page.get_by_role("link", name="Maintenance").first.click()
    row = page.locator("tr[data-due='yes']").filter(has_text="nozzle change")
    shoot(page, "maintenance")
    row.get_by_label("Note").fill("new 0.4 mm nozzle")
    row.get_by_role("button", name="Sign off").click()
    expect(page.locator(".flash-ok")).to_contain_text("signed off")
    expect(page.locator("tr[data-due='no']").filter(has_text="new 0.4 mm nozzle")).to_be_visible()


def test_statistics_show_success_rates_and_charts(workshop: Site, page: Any, browser: Any) -> None:
    errors = no_console_errors(page)
    page.goto(f"{workshop.url}/dashboard/statistics")
    expect(page.locator("tr[data-group='fablab-demo/mk4-b'] [data-testid=success]")).to_have_text("100 %")
    expect(page.locator("tr[data-group='fablab-demo/mk4-a'] [data-testid=success]")).to_have_text("0 %")
    chart = page.locator("[data-chart=success] svg")
    expect(chart).to_be_visible()
    assert chart.locator("rect.bar").count() >= 1
    shoot(page, "statistics")
    page.get_by_role("link", name="per design").click()
    expect(page.locator("tr[data-group='reprap-printer']")).to_be_visible()
    assert errors == []
    context = browser.new_context(**PHONE)
    try:
        small = context.new_page()
        small.goto(f"{workshop.url}/dashboard/statistics")
        expect(small.locator("[data-chart=accuracy] svg")).to_be_visible()
        assert small.evaluate("document.documentElement.scrollWidth") <= 360
        shoot(small, "statistics-phone")
        small.goto(f"{workshop.url}/dashboard/spools")
        assert small.evaluate("document.documentElement.scrollWidth") <= 360
        shoot(small, "spools-phone")
    finally:
        context.close()


class Hook:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's name
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/peerfab"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_subscribe_and_send_a_test_notification(workshop: Site, page: Any, browser: Any) -> None:
    hook = Hook()
    try:
        sign_in(workshop, page, "builder")
        page.goto(f"{workshop.url}/dashboard/notifications")
        page.get_by_label("a build is complete").check()
        page.get_by_label("a job failed for good").check()
        page.get_by_label("URL").fill(hook.url)
        page.get_by_role("button", name="Subscribe").click()
        expect(page.locator(".flash-ok")).to_contain_text("signing secret")
        page.get_by_role("button", name="Send a test").click()
        expect(page.locator(".flash-ok")).to_contain_text("Test notification queued")
        page.wait_for_timeout(3000)
        page.reload()
        expect(page.locator("tr[data-delivery][data-state=sent]")).to_contain_text(
            "peerfab test notification"
        )
        assert [b["kind"] for b in hook.bodies] == ["test"]
        shoot(page, "notifications")
        context = browser.new_context(**PHONE)
        try:
            small = context.new_page()
            small.goto(f"{workshop.url}/dashboard/notifications")
            assert small.evaluate("document.documentElement.scrollWidth") <= 360
        finally:
            context.close()
    finally:
        hook.server.shutdown()
