"""Odd input the fuzz run and its review found: NUL characters and deep JSON answer 400, never 500."""

from __future__ import annotations

import io

import pytest

from tests.support.auth import bearer


@pytest.mark.parametrize(
    ("method", "path", "where"),
    [
        ("GET", "/api/v1/designs/a%00b", "the path"),
        ("GET", "/api/v1/jobs/a%00b", "the path"),
        ("GET", "/api/v1/builds/a%00b", "the path"),
        ("GET", "/api/v1/designs/a/diff?from=1.0.0%00&to=b", "query parameter 'from'"),
        ("GET", "/api/v1/builds?state=a%00", "query parameter 'state'"),
        ("POST", "/api/v1/jobs/a%00/cancel", "the path"),
        ("GET", "/dashboard/jobs/a%00b", "the path"),
    ],
)
def test_a_nul_in_the_path_or_a_parameter_is_refused_before_the_database(
    client, token_for, method: str, path: str, where: str
) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL cannot compare text with U+0000: before this check these were 500s there
    response = client.open(path, method=method, headers=bearer(token_for("admin")))
    assert response.status_code == 400
    assert f"{where} holds a NUL character" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/api/v1/jobs", {"design": "a\x00", "part": "b"}, "body.design"),
        ("/api/v1/builds", {"design": "ceb-press", "site": "lab\x00"}, "body.site"),
        ("/api/v1/designs/ceb-press/maintainers", {"name": "x\x00"}, "body.name"),
        ("/api/v1/builds/b/purchases/receive", {"parts": ["ok", "bolt\x00"]}, "body.parts[1]"),
    ],
)
def test_a_nul_in_a_json_body_is_refused_naming_the_field(
    client, token_for, path: str, body: dict, where: str
) -> None:  # type: ignore[no-untyped-def]
    response = client.post(path, json=body, headers=bearer(token_for("admin")))
    assert response.status_code == 400 and response.json["message"] == f"{where} holds a NUL character"


def test_a_nul_in_a_form_field_is_refused(client, token_for) -> None:  # type: ignore[no-untyped-def]
    data = {"file": (io.BytesIO(b"G28\n"), "part.gcode"), "process": "fdm_print", "material": "pla\x00"}
    response = client.post("/api/v1/jobs", data=data, headers=bearer(token_for("builder")))
    assert (
        response.status_code == 400
        and response.json["message"] == "form field 'material' holds a NUL character"
    )


@pytest.mark.parametrize("levels", [900, 5000])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/builds"),
        ("POST", "/api/v1/jobs"),
        ("POST", "/api/v1/jobs/j/fail"),
        ("PUT", "/api/v1/fablabs/lab/okw"),
    ],
)
def test_deeply_nested_json_is_refused_not_a_500(
    client, token_for, method: str, path: str, levels: int
) -> None:  # type: ignore[no-untyped-def]
    body = '{"name": ' + "[" * levels + "]" * levels + "}"
    headers = {**bearer(token_for("admin")), "Content-Type": "application/json"}
    response = client.open(path, method=method, data=body, headers=headers)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:200]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v1/notifications/subscriptions/9223372036854775807"),
        ("POST", "/api/v1/notifications/subscriptions/2147483648/test"),
        ("PATCH", "/api/v1/fablabs/fablab-berlin/spools/99999999999"),
        ("POST", "/api/v1/fablabs/fablab-berlin/maintenance/2147483648/sign-off"),
    ],
)
def test_a_row_id_past_the_integer_columns_names_no_row(client, token_for, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL's integer keys end at 2**31 - 1: before the bound these were 500s there
    response = client.open(path, method=method, json={}, headers=bearer(token_for("admin")))
    assert response.status_code == 404
    assert response.json["error"] == "NotFound"


def test_a_subscription_filter_past_the_integer_columns_is_refused(client, token_for) -> None:  # type: ignore[no-untyped-def]
    response = client.get(
        "/api/v1/notifications/deliveries?subscription=2147483648", headers=bearer(token_for("admin"))
    )
    assert response.status_code == 422
    assert "subscription" in response.json["details"]["query"]
