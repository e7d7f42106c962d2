"""Sessions that end on sign-out, the headers every response carries, Secure cookies, offline API docs,
and private reads."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient

from coordinator.dashboard.access import COOKIE
from tests.support.agents import RecordingTransport
from tests.unit.dashboard.conftest import Workshop, csrf_of

CONFIRM = "/dashboard/machines/fablab-a/prusa-2/confirm-clear"


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "not signed in"
    return cookie.value


def test_sign_out_ends_the_session_on_the_server(
    client: FlaskClient, app: Any, workshop: Workshop, dispatcher: RecordingTransport, sign_in: Any
) -> None:
    form_token = sign_in("operator")
    stolen = session_cookie(client)
    assert client.post("/dashboard/sign-out", data={"csrf_token": form_token}).status_code == 302
    assert client.get_cookie(COOKIE) is None
    # a copy of the cookie taken before signing out is worth nothing afterwards
    thief = app.test_client()
    thief.set_cookie(COOKIE, stolen)
    assert "Sign out" not in thief.get("/dashboard/machines").get_data(as_text=True)
    assert thief.post(CONFIRM, data={"csrf_token": form_token}).status_code == 403
    assert dispatcher.sent == []


def test_the_session_cookie_holds_no_token_and_is_http_only(client: FlaskClient, sign_in: Any) -> None:
    sign_in("operator")
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    assert not cookie.value.startswith("pf_") and "." not in cookie.value  # a random id, nothing signed


def test_cookies_are_secure_when_the_setting_says_so(
    client: FlaskClient, runtime: Any, token_for: Any
) -> None:
    runtime.settings.auth.secure_cookies = True  # a TLS proxy in front: the app itself sees plain HTTP
    token = csrf_of(client.get("/dashboard/sign-in").get_data(as_text=True))
    client.post("/dashboard/sign-in", data={"token": token_for("operator"), "csrf_token": token})
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None and cookie.secure


def test_https_requests_get_secure_cookies_without_the_setting(client: FlaskClient, token_for: Any) -> None:
    base = "https://localhost"
    token = csrf_of(client.get("/dashboard/sign-in", base_url=base).get_data(as_text=True))
    client.post(
        "/dashboard/sign-in", data={"token": token_for("operator"), "csrf_token": token}, base_url=base
    )
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None and cookie.secure


@pytest.mark.parametrize(
    "path", ["/dashboard/", "/dashboard/machines", "/dashboard/designs", "/api/v1/designs", "/api/v1/docs"]
)
def test_every_response_forbids_framing_sniffing_and_inline_script(
    client: FlaskClient, workshop: Workshop, path: str
) -> None:
    headers = client.get(path).headers
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["frame-ancestors"] == "'none'" and policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["object-src"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


class _InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, event handler attributes, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{tag} {name}=" for name in names if name.startswith("on") or name == "style"]
        self.found += [
            f"{tag} javascript: URL" for _, value in attrs if (value or "").startswith("javascript:")
        ]


def test_pages_hold_no_inline_script_or_style(
    client: FlaskClient, published: list[str], workshop: Workshop, sign_in: Any
) -> None:
    sign_in("operator")
    pages = ["/dashboard/", "/dashboard/machines", "/dashboard/jobs", f"/dashboard/jobs/{workshop.job}",
             "/dashboard/designs", "/dashboard/designs/reprap-printer/1.1.0", "/dashboard/sign-in",
             "/dashboard/designs/reprap-printer/diff", "/api/v1/docs"]  # fmt: skip
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        finder = _InlineFinder()
        finder.feed(response.get_data(as_text=True))
        assert finder.found == [], (path, finder.found[:5])


def test_api_docs_load_nothing_from_another_host(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs").get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references and all(ref.startswith("/") and not ref.startswith("//") for ref in references)
    for ref in references:
        asset = client.get(ref)
        assert asset.status_code == 200 and len(asset.data) > 100, ref
    script = client.get("/dashboard/static/api-docs.js").get_data(as_text=True)
    assert "validatorUrl: null" in script and "http" not in script


def test_private_reads_need_a_token(client: FlaskClient, runtime: Any, token_for: Any) -> None:
    runtime.settings.auth.public_reads = False
    refused = client.get("/api/v1/designs")
    assert refused.status_code == 401 and "public_reads" in refused.json["message"]
    assert client.get("/api/v1/designs", headers={"Authorization": "Bearer pf_wrong"}).status_code == 401
    allowed = client.get("/api/v1/designs", headers={"Authorization": f"Bearer {token_for('builder')}"})
    assert allowed.status_code == 200
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    page = client.get("/dashboard/machines")
    assert page.status_code == 302 and "/dashboard/sign-in" in page.headers["Location"]
    assert client.get("/dashboard/sign-in").status_code == 200


def test_private_reads_open_the_dashboard_to_signed_in_people(
    client: FlaskClient, runtime: Any, sign_in: Any
) -> None:
    runtime.settings.auth.public_reads = False
    sign_in("builder")
    assert client.get("/dashboard/machines").status_code == 200
