"""Server-sent events: what a page hears when jobs and machines change, pushed after each commit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from coordinator.dashboard import live
from protocol import payloads as p
from tests.support.agents import BusAgent, RecordingTransport, machine_info

from .conftest import FABLAB, Workshop


def parse(*chunks: str) -> list[tuple[str, dict[str, Any], str | None]]:
    """(event name, data, id) of each message."""
    result = []
    for message in "".join(chunks).strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in message.splitlines() if not line.startswith(":"))
        if "data" in fields:
            result.append((fields.get("event", "message"), json.loads(fields["data"]), fields.get("id")))
    return result


@pytest.fixture
def page(app: Any, runtime: Any) -> Iterator[Iterator[str]]:
    """An open page's stream, past its retry line (the dashboard is registered: changes are published)."""
    stream = live.stream(runtime, None, lambda: False, batch_s=0.0)
    assert next(stream).startswith("retry:")
    yield stream
    stream.close()


def test_a_page_first_gets_machines_and_active_jobs(workshop: Workshop, page: Iterator[str]) -> None:
    events = parse(next(page))
    kinds = sorted(name for name, _, _ in events if name != "log")
    assert kinds == ["job", "machine", "machine"]
    job = next(data for name, data, _ in events if name == "job")
    assert job["id"] == workshop.job and job["percent"] == 40 and job["badge"]["label"] == "Running"
    statuses = {data["key"]: data["badge"]["label"] for name, data, _ in events if name == "machine"}
    assert statuses == {f"{FABLAB}/mk3": "Printing", f"{FABLAB}/prusa-2": "Waiting for operator"}


def test_progress_is_pushed_when_an_agent_reports_it(
    runtime: Any, workshop: Workshop, page: Iterator[str]
) -> None:
    next(page)
    workshop.agent.job_event(p.JobProgress, workshop.offer, progress=0.75, eta_s=600)
    [(name, data, event_id)] = parse(next(page))
    assert (name, data["percent"], data["eta"], event_id) == ("job", 75, "about 10 min left", None)


def test_a_page_gets_only_the_newest_state_of_each_job(
    runtime: Any, workshop: Workshop, page: Iterator[str]
) -> None:
    next(page)
    for percent in (50, 60, 70):
        workshop.agent.job_event(p.JobProgress, workshop.offer, progress=percent / 100)
    assert [data["percent"] for name, data, _ in parse(next(page)) if name == "job"] == [70]


def test_a_transition_pushes_a_log_entry_with_its_id_and_the_new_state(
    runtime: Any, workshop: Workshop, page: Iterator[str]
) -> None:
    next(page)
    workshop.agent.job_event(p.JobDone, workshop.offer)
    events = parse(next(page))
    [(log, event_id)] = [(data, eid) for name, data, eid in events if name == "log"]
    assert log["type"] == "job:done" and event_id == str(log["id"])
    [job] = [data for name, data, _ in events if name == "job"]
    assert job["state"] == "done" and job["badge"]["label"] == "Done"
    machines = {data["key"]: data["badge"]["label"] for name, data, _ in events if name == "machine"}
    assert machines == {f"{FABLAB}/mk3": "Online, idle"}  # no bed to clear on this machine


def test_agent_going_away_shows_its_machines_offline(
    runtime: Any, workshop: Workshop, page: Iterator[str]
) -> None:
    next(page)
    workshop.agent.death()
    labels = {data["key"]: data["badge"]["label"] for name, data, _ in parse(next(page)) if name == "machine"}
    assert labels == {f"{FABLAB}/mk3": "Offline", f"{FABLAB}/prusa-2": "Offline"}


def test_resuming_from_an_event_id_replays_what_was_missed(
    app: Any, runtime: Any, workshop: Workshop
) -> None:
    stream = live.stream(runtime, 0, lambda: False)
    next(stream)
    types = [data["type"] for name, data, _ in parse(next(stream)) if name == "log"]
    stream.close()
    assert types == ["job:submitted", "job:offered", "job:accepted", "job:progress"]


def test_a_page_that_fell_behind_is_sent_the_current_state_again(
    app: Any, runtime: Any, workshop: Workshop, dispatcher: RecordingTransport
) -> None:
    runtime.live.capacity = 3
    stream = live.stream(runtime, None, lambda: False, batch_s=0.0)
    next(stream), next(stream)
    agent = BusAgent(runtime, FABLAB, "agent-2")
    agent.birth(*[machine_info(f"m{i}") for i in range(5)])  # five machine changes: more than the ring holds
    again = parse(next(stream))
    stream.close()
    keys = {data["key"] for name, data, _ in again if name == "machine"}
    assert keys >= {f"{FABLAB}/m{i}" for i in range(5)} | {f"{FABLAB}/mk3"}  # everything, from the database


def test_stream_ends_when_the_client_is_gone(app: Any, runtime: Any, workshop: Workshop) -> None:
    gone = iter([False, True])
    chunks = list(live.stream(runtime, None, lambda: next(gone), max_s=60))
    assert chunks[0].startswith("retry:")
    assert {name for name, _, _ in parse(*chunks[1:])} >= {"job", "machine"}


def test_stream_ends_after_its_lifetime(app: Any, runtime: Any, workshop: Workshop) -> None:
    chunks = list(live.stream(runtime, None, lambda: False, max_s=0.05))
    assert chunks[0].startswith("retry:")


def test_open_pages_are_limited_by_the_setting(app: Any, runtime: Any, workshop: Workshop) -> None:
    runtime.live.max_readers = 3
    open_streams = [live.stream(runtime, None, lambda: False) for _ in range(3)]
    for stream in open_streams:
        next(stream)
    try:
        refused = list(live.stream(runtime, None, lambda: False))
        assert len(refused) == 1 and "too many" in refused[0]
    finally:
        for stream in open_streams:
            stream.close()
    assert next(live.stream(runtime, None, lambda: True)).startswith("retry:")


def test_nothing_is_kept_for_pages_while_none_is_open(runtime: Any, workshop: Workshop, app: Any) -> None:
    workshop.agent.job_event(p.JobProgress, workshop.offer, progress=0.9)
    assert runtime.live.head() == 0


def test_events_endpoint_streams_text_event_stream(client: FlaskClient, workshop: Workshop) -> None:
    response = client.get("/dashboard/events", buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        body = iter(response.response)
        assert next(body).decode().startswith("retry:")
        assert {name for name, _, _ in parse(next(body).decode())} >= {"job", "machine"}
    finally:
        response.close()
