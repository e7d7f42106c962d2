"""The fablab API: profiles, spools, maintenance, notifications and statistics, with who may do what."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session

from tests.support.auth import bearer
from tests.support.network import add_machine


@pytest.fixture
def labs(runtime):  # type: ignore[no-untyped-def]
    with Session(runtime.engine) as session:
        add_machine(session, "lab-a", "mk4", "fdm_print")
        add_machine(session, "lab-b", "mk4", "fdm_print")
        session.commit()


def test_a_profile_put_keeps_omitted_fields_and_clears_null_ones(client, token_for, labs) -> None:  # type: ignore[no-untyped-def]
    staff = bearer(token_for("operator", "lab-a-staff", fablabs=["lab-a"]))
    full = {"name": "Lab A", "latitude": 52.5, "longitude": 13.4, "hourly_rate": 8.0, "currency": "CHF",
            "opening_hours": {"mon": ["09:00-18:00"]}}  # fmt: skip
    assert client.put("/api/v1/fablabs/lab-a/profile", json=full, headers=staff).status_code == 200
    moved = client.put("/api/v1/fablabs/lab-a/profile", json={"latitude": 48.1}, headers=staff)
    assert moved.status_code == 200, moved.json
    assert {k: moved.json[k] for k in full} == {**full, "latitude": 48.1}
    cleared = client.put("/api/v1/fablabs/lab-a/profile", json={"hourly_rate": None}, headers=staff).json
    assert (cleared["hourly_rate"], cleared["currency"], cleared["name"]) == (None, "CHF", "Lab A")
    assert client.get("/api/v1/fablabs/lab-a/profile").json == cleared
    refused = client.put("/api/v1/fablabs/lab-a/profile", json={"name": None}, headers=staff)
    assert refused.status_code == 422  # only fields that may be unset can be cleared


def test_a_new_profile_takes_the_defaults_for_the_fields_it_omits(client, token_for, labs) -> None:  # type: ignore[no-untyped-def]
    admin = bearer(token_for("admin"))
    made = client.put("/api/v1/fablabs/lab-b/profile", json={"hourly_rate": 5}, headers=admin)
    assert made.status_code == 200, made.json
    assert {k: made.json[k] for k in ("name", "accepts", "currency", "latitude", "hourly_rate")} == {
        "name": "", "accepts": "all", "currency": "EUR", "latitude": None, "hourly_rate": 5.0}  # fmt: skip


def test_an_operator_keeps_the_spools_of_their_own_fablab(client, token_for, labs) -> None:  # type: ignore[no-untyped-def]
    staff = bearer(token_for("operator", "lab-a-staff", fablabs=["lab-a"]))
    made = client.post(
        "/api/v1/fablabs/lab-a/spools",
        json={"material": "PLA", "colour": "orange", "initial_g": 1000, "cost_per_kg": 24},
        headers=staff,
    )
    assert made.status_code == 201, made.json
    spool = made.json
    assert (spool["material"], spool["remaining_g"], spool["value"]) == ("pla", 1000.0, 24.0)
    loaded = client.put(
        "/api/v1/fablabs/lab-a/machines/mk4/spool", json={"spool_id": spool["id"]}, headers=staff
    )
    assert loaded.status_code == 200 and loaded.json["machine_id"] == "mk4"
    weighed = client.patch(
        f"/api/v1/fablabs/lab-a/spools/{spool['id']}", json={"remaining_g": 312}, headers=staff
    )
    assert weighed.json["remaining_g"] == 312.0
    listing = client.get("/api/v1/fablabs/lab-a/spools").json
    assert listing["loaded"] == {"lab-a/mk4": f"spool {spool['id']}"}

    other = client.post("/api/v1/fablabs/lab-b/spools", json={"material": "pla"}, headers=staff)
    assert other.status_code == 403
    builder = client.post(
        "/api/v1/fablabs/lab-a/spools", json={"material": "pla"}, headers=bearer(token_for("builder"))
    )
    assert builder.status_code == 403
    bad = client.post(
        "/api/v1/fablabs/lab-a/spools", json={"material": "pla", "remaining_g": -1}, headers=staff
    )
    assert bad.status_code == 422 and "remaining_g" in str(bad.json)
    nowhere = client.put(
        "/api/v1/fablabs/lab-a/machines/mk9/spool", json={"spool_id": spool["id"]}, headers=staff
    )
    assert nowhere.status_code == 404 and "mk9" in nowhere.json["message"]


def test_a_task_holds_its_machine_and_signing_off_frees_it(client, token_for, labs) -> None:  # type: ignore[no-untyped-def]
    staff = bearer(token_for("operator", "lab-a-staff", fablabs=["lab-a"]))
    none = client.post(
        "/api/v1/fablabs/lab-a/machines/mk4/maintenance", json={"name": "belts"}, headers=staff
    )
    assert none.status_code == 400 and "at least one interval" in none.json["message"]
    task = client.post(
        "/api/v1/fablabs/lab-a/machines/mk4/maintenance",
        json={"name": "lubricate rods", "every_days": 0.00001},
        headers=staff,
    ).json
    time.sleep(1.0)  # the task's interval (0.00001 day: 0.86 s) passes
    held = client.get("/api/v1/maintenance").json["held"]
    assert list(held) == ["lab-a/mk4"] and held["lab-a/mk4"].startswith("lubricate rods is due (")
    signed = client.post(
        f"/api/v1/fablabs/lab-a/maintenance/{task['id']}/sign-off", json={"note": "done"}, headers=staff
    )
    assert signed.status_code == 200 and signed.json["note"] == "done"
    assert client.get("/api/v1/maintenance").json["held"] == {}


def test_subscriptions_belong_to_their_owner(client, token_for) -> None:  # type: ignore[no-untyped-def]
    anna, otto = bearer(token_for("builder", "anna")), bearer(token_for("builder", "otto"))
    made = client.post(
        "/api/v1/notifications/subscriptions",
        json={"kinds": ["build_done"], "channel": "webhook", "url": "http://127.0.0.1:9/hook"},
        headers=anna,
    )
    assert made.status_code == 201 and len(made.json["secret"]) > 20
    assert client.get("/api/v1/notifications/subscriptions", headers=otto).json["subscriptions"] == []
    assert (
        client.post(f"/api/v1/notifications/subscriptions/{made.json['id']}/test", headers=otto).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/notifications/subscriptions/{made.json['id']}/test", headers=anna).status_code
        == 202
    )
    wrong = client.post(
        "/api/v1/notifications/subscriptions",
        json={"kinds": ["coffee"], "channel": "webhook", "url": "http://x/y"},
        headers=anna,
    )
    assert wrong.status_code == 400 and "coffee" in wrong.json["message"]
    ftp = client.post(
        "/api/v1/notifications/subscriptions",
        json={"kinds": ["build_done"], "channel": "webhook", "url": "ftp://x/y"},
        headers=anna,
    )
    assert ftp.status_code == 400 and "http(s)" in ftp.json["message"]
    assert client.get("/api/v1/notifications/subscriptions").status_code == 401


def test_statistics_without_runs_and_a_bad_grouping(client) -> None:  # type: ignore[no-untyped-def]
    empty = client.get("/api/v1/statistics?by=fablab").json
    assert empty["groups"] == [] and empty["total"]["success_rate"] is None
    assert client.get("/api/v1/statistics?by=colour").status_code == 422
    assert client.get("/api/v1/statistics/speed-factors").json == {"machines": []}
