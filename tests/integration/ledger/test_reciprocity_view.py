"""The reciprocity view: each party's balance and the score the dispatch order reads, from the ledger."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coordinator.db import session_scope
from coordinator.jobs.reciprocity import party_scores
from tests.support.contributions import give, seeded_build


@pytest.fixture
def history(runtime: Any) -> Any:
    """lab-giver made 4 parts in 5 hours for a build of tess's at lab-taker, 10 and 40 days ago; lab-taker
    made one part in an hour for a build of ben's at lab-giver, 5 days ago."""
    now = datetime.now(UTC)
    with session_scope(runtime.engine) as session:
        for days_ago in (10, 40):
            at = now - timedelta(days=days_ago)
            past = seeded_build(session, "lab-taker", "tess", at)
            give(session, "lab-giver", past, "tess", at, hours=5, grams=200, parts=4)
        at = now - timedelta(days=5)
        give(session, "lab-taker", seeded_build(session, "lab-giver", "ben", at), "ben", at, hours=1)
    return runtime


def _standings(client: Any, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/reciprocity{query}")
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


def test_each_party_has_its_balance_and_the_score_the_order_reads(client, history) -> None:  # type: ignore[no-untyped-def]
    body = _standings(client)
    assert (body["enabled"], body["parties"], body["neutral"], body["total"]) == (False, "both", 0.5, 4)
    rows = {row["party"]: row for row in body["standings"]}
    assert set(rows) == {"fablab:lab-giver", "fablab:lab-taker", "person:tess", "person:ben"}
    giver, taker = rows["fablab:lab-giver"], rows["fablab:lab-taker"]
    # what one gave to the other's builds is what the other (and the person who started them) received
    assert giver["gave"] == pytest.approx(taker["received"], abs=1e-5)
    assert rows["person:tess"]["received"] == pytest.approx(giver["gave"], abs=1e-5)
    assert (
        taker["gave"]
        == pytest.approx(giver["received"], abs=1e-5)
        == pytest.approx(rows["person:ben"]["received"], abs=1e-5)
    )
    assert giver["score"] > 0.5 > taker["score"] and (giver["kind"], giver["name"]) == ("fablab", "lab-giver")
    scores = [row["score"] for row in body["standings"]]
    assert scores == sorted(scores, reverse=True)
    with session_scope(history.engine) as session:
        read = party_scores(session, datetime.now(UTC), history.settings.reciprocity)
    assert {party: row["score"] for party, row in rows.items()} == pytest.approx(read, abs=1e-5)


def test_older_contributions_count_less(client, history) -> None:  # type: ignore[no-untyped-def]
    giver = next(row for row in _standings(client)["standings"] if row["party"] == "fablab:lab-giver")
    # 5 h, 200 g and 4 parts are worth 7.4 at the default weights: halved every 30 days
    assert giver["gave"] == pytest.approx(7.4 * (0.5 ** (10 / 30) + 0.5 ** (40 / 30)), rel=0.05)


def test_a_kind_and_a_page_of_the_standings(client, history) -> None:  # type: ignore[no-untyped-def]
    labs = _standings(client, "?kind=fablab")
    assert labs["total"] == 2 and [row["party"] for row in labs["standings"]] == [
        "fablab:lab-giver",
        "fablab:lab-taker",
    ]
    second = _standings(client, "?kind=fablab&limit=1&offset=1")
    assert second["total"] == 2 and [row["party"] for row in second["standings"]] == ["fablab:lab-taker"]
    people = _standings(client, "?kind=person")
    assert {row["kind"] for row in people["standings"]} == {"person"} and people["total"] == 2


def test_an_empty_ledger_has_no_standings(client) -> None:  # type: ignore[no-untyped-def]
    body = _standings(client)
    assert (body["total"], body["standings"]) == (0, [])


@pytest.mark.parametrize(
    ("query", "named"), [("?kind=lab", "kind"), ("?limit=0", "limit"), ("?offset=-1", "offset")]
)
def test_bad_parameters_are_refused_naming_them(client, query: str, named: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/reciprocity{query}")
    assert response.status_code == 422 and named in str(response.json)


def test_the_contributions_page_shows_the_scores_and_whether_they_order_the_queue(client, history) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/dashboard/contributions").get_data(as_text=True)
    table = html.split('data-testid="reciprocity"', 1)[1].split("</table>", 1)[0]
    parties = re.findall(r'data-party="([^"]+)"', table)
    assert parties[0] == "fablab:lab-giver" and set(parties) == {
        "fablab:lab-giver",
        "fablab:lab-taker",
        "person:tess",
        "person:ben",
    }
    assert "Off: the dispatch round keeps queue order" in html
    history.settings.reciprocity.enabled = True
    html = client.get("/dashboard/contributions").get_data(as_text=True)
    assert "On: when machines are contended, a job is offered as if queued up to 1.0 h earlier" in html
