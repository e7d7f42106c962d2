"""Server-sent events: what a browser hears when jobs and machines change."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlmodel import Session

from coordinator.dashboard import live
from coordinator.db import session_scope
from coordinator.models.jobs import Job
from coordinator.services import jobs, machines
from coordinator.services.jobs import Trigger

from .conftest import FABLAB, Workshop


def parse(messages: list[str]) -> list[tuple[str, dict[str, Any], str | None]]:
    """(event name, data, id) of each message."""
    result = []
    for message in "".join(messages).strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in message.splitlines() if not line.startswith(":"))
        if "data" in fields:
            result.append((fields.get("event", "message"), json.loads(fields["data"]), fields.get("id")))
    return result


def poll(runtime: Any, watcher: live.Watcher) -> list[tuple[str, dict[str, Any], str | None]]:
    with session_scope(runtime.engine) as session:
        return parse(watcher.poll(session))


def fresh_watcher(runtime: Any) -> live.Watcher:
    with Session(runtime.engine) as session:
        return live.Watcher(live.latest_event_id(session))


def test_first_poll_sends_machines_and_active_jobs(runtime: Any, workshop: Workshop) -> None:
    events = poll(runtime, fresh_watcher(runtime))
    kinds = sorted(name for name, _, _ in events)
    assert kinds == ["job", "machine", "machine"]
    job = next(data for name, data, _ in events if name == "job")
    assert job["id"] == workshop.job and job["percent"] == 40 and job["badge"]["label"] == "Running"
    statuses = {data["key"]: data["badge"]["label"] for name, data, _ in events if name == "machine"}
    assert statuses == {f"{FABLAB}/mk3": "Printing", f"{FABLAB}/prusa-2": "Waiting for operator"}


def test_nothing_changed_sends_nothing(runtime: Any, workshop: Workshop) -> None:
    watcher = fresh_watcher(runtime)
    poll(runtime, watcher)
    assert poll(runtime, watcher) == []


def test_progress_is_sent_when_it_moves(runtime: Any, workshop: Workshop) -> None:
    watcher = fresh_watcher(runtime)
    poll(runtime, watcher)
    with session_scope(runtime.engine) as session:
        job = session.get(Job, workshop.job)
        assert job is not None
        job.progress, job.eta_s = 0.75, 600
    [(name, data, event_id)] = poll(runtime, watcher)
    assert (name, data["percent"], data["eta"], event_id) == ("job", 75, "about 10 min left", None)


def test_a_transition_sends_a_log_entry_with_its_id_and_the_new_state(
    runtime: Any, workshop: Workshop
) -> None:
    watcher = fresh_watcher(runtime)
    poll(runtime, watcher)
    with session_scope(runtime.engine) as session:
        job = session.get(Job, workshop.job)
        assert job is not None
        jobs.transition(session, job, Trigger.DONE)
    events = poll(runtime, watcher)
    log = [(data, eid) for name, data, eid in events if name == "log"]
    assert len(log) == 1 and log[0][0]["type"] == "job:done" and log[0][1] == str(watcher.after)
    job_events = [data for name, data, _ in events if name == "job"]
    assert job_events[0]["state"] == "done" and job_events[0]["badge"]["label"] == "Done"


def test_agent_going_away_shows_its_machines_offline(runtime: Any, workshop: Workshop) -> None:
    watcher = fresh_watcher(runtime)
    poll(runtime, watcher)
    with session_scope(runtime.engine) as session:
        machines.record_death(session, machines.LinkCache(session).get(FABLAB, "agent-1"))
    labels = {
        data["key"]: data["badge"]["label"] for name, data, _ in poll(runtime, watcher) if name == "machine"
    }
    assert labels == {f"{FABLAB}/mk3": "Offline", f"{FABLAB}/prusa-2": "Offline"}


def test_resuming_from_an_event_id_replays_what_was_missed(runtime: Any, workshop: Workshop) -> None:
    events = poll(runtime, live.Watcher(0))
    types = [data["type"] for name, data, _ in events if name == "log"]
    assert types == ["job:submitted", "job:offered", "job:accepted", "job:progress"]


def test_stream_ends_when_the_client_is_gone(runtime: Any, workshop: Workshop) -> None:
    gone = iter([False, True])
    chunks = list(live.stream(runtime.engine, None, lambda: next(gone), poll_s=0.01, max_s=60))
    assert chunks[0].startswith("retry:")
    assert {name for name, _, _ in parse(chunks[1:])} == {"job", "machine"}


def test_stream_ends_after_its_lifetime(runtime: Any, workshop: Workshop) -> None:
    chunks = list(live.stream(runtime.engine, None, lambda: False, poll_s=0.01, max_s=0.05))
    assert chunks[0].startswith("retry:")


def test_streams_are_limited(runtime: Any, workshop: Workshop) -> None:
    open_streams = [
        live.stream(runtime.engine, None, lambda: False, poll_s=0.01) for _ in range(live.MAX_STREAMS)
    ]
    for stream in open_streams:
        next(stream)
    try:
        refused = list(live.stream(runtime.engine, None, lambda: False))
        assert len(refused) == 1 and "too many" in refused[0]
    finally:
        for stream in open_streams:
            stream.close()
    assert next(live.stream(runtime.engine, None, lambda: True)).startswith("retry:")


def test_events_endpoint_streams_text_event_stream(client: FlaskClient, workshop: Workshop) -> None:
    response = client.get("/dashboard/events", buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        body = iter(response.response)
        assert next(body).decode().startswith("retry:")
        assert {name for name, _, _ in parse([next(body).decode()])} == {"job", "machine"}
    finally:
        response.close()
