"""Contributions per fablab and per person: the API and the dashboard's page, read from the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from coordinator.dashboard import contribution_pages
from coordinator.db import session_scope
from coordinator.models.ledger import LedgerEvent


def test_the_fablab_view_adds_up_to_the_ledger(client, built) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/contributions?by=fablab")
    assert response.status_code == 200, response.json
    body = response.json
    (lab,) = body["agents"]
    assert (lab["agent"], lab["parts"], lab["parts_for_others"]) == ("fablab:lab-a", 6.0, 0.0)
    assert lab["material_g"] == 24.0 and lab["material_share"] == 1.0 and lab["parts_share"] == 1.0
    ledger = client.get("/api/v1/ledger?limit=1000").json["@graph"]
    hours = sum(e["effortQuantity"]["hasNumericalValue"] for e in ledger if e["action"] == "use")
    assert body["total"]["machine_hours"] == pytest.approx(hours, abs=1e-3)
    (build,) = body["builds"]
    assert build["build"] == built and build["site"] == "lab-a" and build["agents"][0]["parts"] == 6.0


def test_the_person_view_credits_the_publisher(client, built) -> None:  # type: ignore[no-untyped-def]
    body = client.get(f"/api/v1/contributions?by=person&build={built}").json
    assert body["agents"] == [] and body["build"] == built  # nobody acted on this build's jobs
    everyone = client.get("/api/v1/contributions?by=person").json["agents"]
    ada = next(row for row in everyone if row["name"] == "ada")
    assert (ada["designs"], ada["versions"], ada["work_events"]) == (1, 1, 1)
    assert client.get("/api/v1/contributions?by=person&since=2999-01-01T00:00:00Z").json["agents"] == []


def test_bad_parameters_are_refused_naming_them(client, built) -> None:  # type: ignore[no-untyped-def]
    wrong = client.get("/api/v1/contributions?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z")
    assert wrong.status_code == 400 and "since" in wrong.json["message"]
    missing = client.get("/api/v1/contributions?build=nope")
    assert missing.status_code == 404 and "nope" in missing.json["message"]
    assert client.get("/api/v1/contributions?by=machine").status_code == 422


def test_the_page_shows_each_fablabs_and_persons_share(client, built) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/dashboard/contributions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/dashboard/contributions"' in html  # in the navigation
    assert '<tr data-agent="fablab:lab-a">' in html and '<tr data-agent="person:ada">' in html
    assert "Machine hours" in html and '<g data-row="lab-a">' in html and "24 g" in html
    assert f'data-build="{built}"' in html and "<script" not in html.split("</header>")[-1]
    bad = client.get("/dashboard/contributions?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.get_data(as_text=True)


def test_the_pages_per_build_list_is_paged_keeping_the_window(client, runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(contribution_pages, "PAGE_SIZE", 2)
    with session_scope(runtime.engine) as session:
        for build in ("b1", "b2", "b3"):
            session.add(LedgerEvent(key=f"{build}:use", source_kind="attempt", source_id=build, action="use",
                                    provider="fablab:lab-a", receiver="person:bea", resource_kind="machine",
                                    resource="prusa-1", quantity=1.0, unit="hour", build_id=build,
                                    at=datetime(2026, 3, 1, tzinfo=UTC)))  # fmt: skip
    window = "since=2026-01-01T00:00:00%2B00:00"
    first = _page(client, f"/dashboard/contributions?{window}")
    second = _page(client, f"/dashboard/contributions?{window}&offset=2")
    assert (first["builds"], second["builds"]) == (["b1", "b2"], ["b3"])
    assert first["links"] == {"More builds": f"/dashboard/contributions?offset=2&amp;{window}"}
    assert second["links"] == {"Previous builds": f"/dashboard/contributions?offset=0&amp;{window}"}
    assert "<strong>3.00</strong> machine hours" in second["html"]  # the totals are of every build
    assert client.get("/dashboard/contributions?offset=-1").status_code == 400


def _page(client, url: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The builds a contributions page lists, and its links to the pages before and after."""
    html = client.get(url).get_data(as_text=True)
    builds = [chunk.split('"', 1)[0] for chunk in html.split('<table class="compact" data-build="')[1:]]
    anchors = [chunk.split("</a>", 1)[0].split('">', 1) for chunk in html.split('<a href="')[1:]]
    links = {text: href for href, text in anchors if text.endswith(" builds")}
    return {"builds": builds, "links": links, "html": html}
