"""In a real browser: the Content-Security-Policy blocks nothing the pages need, framing is refused,
and the API docs work with no host but the coordinator."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .conftest import Site


def csp_reports(page: Any) -> list[str]:
    """Console messages in which the browser says it refused something under the policy."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text))
    return seen


def refusals(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m or "Refused to" in m]


def test_pages_run_under_the_policy_without_a_refusal(site: Site, page: Any) -> None:
    site.announce(("csp-1", "busy"))
    site.running_job("csp-1", progress=0.2)
    messages = csp_reports(page)
    for path in ("/dashboard/", "/dashboard/machines", "/dashboard/jobs", "/dashboard/designs",
                 "/dashboard/designs/reprap-printer/1.1.0", "/dashboard/sign-in"):  # fmt: skip
        page.goto(f"{site.url}{path}")
        # live.js ran: it hides the indicator on a page with nothing live, or has the stream on
        page.wait_for_function(
            "() => { const s = document.getElementById('live-state');"
            " return s.hidden || s.textContent === 'Live updates: on'; }"
        )
    assert refusals(messages) == []


def test_another_site_cannot_frame_the_dashboard(site: Site, page: Any) -> None:
    page.set_content(
        f'<iframe id="victim" src="{site.url}/dashboard/machines" width="600" height="400"></iframe>'
    )
    page.wait_for_timeout(1000)
    frame = next(f for f in page.frames if f != page.main_frame)
    assert "Fablabs and machines" not in frame.content()


def test_api_docs_render_with_no_other_host(site: Site, page: Any) -> None:
    outside: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(site.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    messages = csp_reports(page)
    page.goto(f"{site.url}/api/v1/docs")
    expect(page.get_by_text("peerfab coordinator API").first).to_be_visible()
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 20
    assert outside == [] and refusals(messages) == []
