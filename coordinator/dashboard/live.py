"""Server-sent events: every open page follows the live stream that the outbox feeds after each commit.

A page connects with the id of the last event-log row it shows (Last-Event-ID, or `?after=`). It is
sent the log rows after that one and the current state of the active jobs and of every machine,
read once from the database; from then on it reads the in-memory stream
(`coordinator.jobs.outbox.LiveStream`) a few times a second, getting only the newest state of each
job and machine that changed meanwhile. Nothing polls the database. A page that falls behind the
stream's memory starts over the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from flask import Response, request
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from coordinator.dashboard.blueprint import bp
from coordinator.dashboard.present import ago, duration, iso, job_badge, machine_badge
from coordinator.db import session_scope
from coordinator.jobs.lifecycle import ACTIVE_STATES
from coordinator.jobs.outbox import Behind, LiveItem, LiveStream
from coordinator.jobs.rows import EventRow, MachineSnap, Source
from coordinator.jobs.store import Written
from coordinator.models.jobs import AgentLink, Job, JobEvent, Machine
from coordinator.runtime import Runtime, runtime

BATCH_S = 0.25  # a page gets what changed in this long in one write: the newest state of each
WAIT_S = 1.0  # how often a quiet stream looks whether its page went away
HEARTBEAT_S = 15.0
MAX_STREAM_S = 300.0  # then the browser reconnects, resuming from its last event id
RETRY_MS = 2000
LOG_BATCH = 200


def sse(data: Any, event: str | None = None, event_id: int | None = None) -> str:
    """One server-sent event in wire format."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


def job_view(job: Any) -> dict[str, Any]:
    """A job as pages show it live (a Job row or a job snapshot)."""
    return {
        "id": job.id,
        "state": job.state,
        "badge": job_badge(job.state).to_dict(),
        "percent": round(max(0.0, min(1.0, job.progress)) * 100),
        "eta": f"about {duration(job.eta_s)} left" if job.eta_s is not None else "time left unknown",
        "machine": f"{job.fablab}/{job.machine_id}" if job.machine_id else None,
    }


def machine_view(
    fablab: str, machine_id: str, status: str, process: str, last_seen: datetime | None
) -> dict[str, Any]:
    return {
        "key": f"{fablab}/{machine_id}",
        "status": status,
        "badge": machine_badge(status, process).to_dict(),
        "last_seen": iso(last_seen),
        "last_seen_text": ago(last_seen),
    }


def log_view(event_id: int, row: EventRow) -> dict[str, Any]:
    """An event-log row as pages show it live."""
    source = row.source
    return {
        "id": event_id,
        "job_id": row.job_id,
        "type": row.type,
        "from": row.from_state or "",
        "to": row.to_state or "",
        "at": iso(row.at),
        "source": f"{source.fablab}/{source.agent}" if source.agent else "coordinator",
        "details": "; ".join(f"{k}: {v}" for k, v in row.payload.items()),
    }


# ---- what the outbox publishes -----------------------------------------------------------------


def format_written(written: Written) -> list[LiveItem]:
    """A commit's changes as pages receive them (formatted once, for every open page)."""
    items = [LiveItem(f"job:{job.id}", sse(job_view(job), "job")) for job in written.jobs]
    items += [_machine_item(m) for m in written.machines]
    items += [_log_item(event_id, row) for event_id, row in written.events]
    return items


def _machine_item(machine: MachineSnap) -> LiveItem:
    view = machine_view(
        machine.fablab, machine.machine_id, machine.status, machine.process, machine.last_seen
    )
    return LiveItem(f"machine:{view['key']}", sse(view, "machine"))


def _log_item(event_id: int, row: EventRow) -> LiveItem:
    return LiveItem(f"log:{event_id}", sse(log_view(event_id, row), "log", event_id), event_id)


# ---- what a page is sent when it connects ------------------------------------------------------


def latest_event_id(session: Session) -> int:
    return int(session.exec(select(func.max(JobEvent.id))).one() or 0)


def current_state(engine: Engine, after: int | None) -> tuple[list[str], int]:
    """Log rows after `after` (at most LOG_BATCH), active jobs and every machine; and the last log id."""
    with session_scope(engine) as session:
        last = latest_event_id(session)
        start = last if after is None else max(after, last - LOG_BATCH)
        events = session.exec(
            select(JobEvent).where(col(JobEvent.id) > start).order_by(col(JobEvent.id))
        ).all()
        messages = [_stored_log(e) for e in events]
        active = session.exec(select(Job).where(col(Job.state).in_(list(ACTIVE_STATES)))).all()
        messages += [sse(job_view(job), "job") for job in active]
        messages += _machines(session)
    return messages, last


def _stored_log(event: JobEvent) -> str:
    source = Source(event.fablab, event.agent, event.msg_id)
    row = EventRow(event.job_id, event.type, event.from_state, event.to_state, event.attempt_id,
                   event.payload, source, event.at)  # fmt: skip
    return sse(log_view(event.id or 0, row), "log", event.id)


def _machines(session: Session) -> list[str]:
    online = {(ln.fablab, ln.agent): ln.online for ln in session.exec(select(AgentLink)).all()}
    views = []
    for m in session.exec(select(Machine)).all():
        status = m.status if online.get((m.fablab, m.agent), False) else "offline"
        process = str((m.capabilities or {}).get("process") or "")
        views.append(sse(machine_view(m.fablab, m.machine_id, status, process, m.last_seen), "machine"))
    return views


# ---- one page's stream -------------------------------------------------------------------------


def stream(
    rt: Runtime,
    after: int | None,
    disconnected: Callable[[], bool],
    *,
    max_s: float = MAX_STREAM_S,
    batch_s: float = BATCH_S,
) -> Iterator[str]:
    """The event stream of one page; ends on disconnect, after `max_s`, or when too many are open."""
    if not rt.live.join():
        yield f"retry: {RETRY_MS * 5}\n: too many live pages open; retrying later\n\n"
        return
    try:
        yield f"retry: {RETRY_MS}\n\n"
        yield from _follow(rt.engine, rt.live, after, disconnected, max_s, batch_s)
    finally:
        rt.live.leave()


def _follow(
    engine: Engine,
    live: LiveStream,
    after: int | None,
    disconnected: Callable[[], bool],
    max_s: float,
    batch_s: float,
) -> Iterator[str]:
    position = live.head()
    messages, last_log = current_state(engine, after)
    yield "".join(messages)
    started = quiet_since = time.monotonic()
    while time.monotonic() - started < max_s and not disconnected():
        try:
            position, items = live.read(position, WAIT_S)
            if items:
                time.sleep(batch_s)  # let a burst of changes arrive: each page gets them in one write
                position, more = live.read(position, 0)
                items += more
        except Behind:
            position = live.head()
            messages, last_log = current_state(engine, last_log)
            yield "".join(messages)
            continue
        if items:
            last_log = max([last_log, *[i.event_id for i in items if i.event_id is not None]])
            yield "".join(newest_of_each(items))
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= HEARTBEAT_S:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


def newest_of_each(items: list[LiveItem]) -> list[str]:
    """The texts of `items`, keeping only the newest of each key, in the order of their last change."""
    newest = {item.key: item.text for item in items}
    for item in items:  # move each key to its last position
        newest[item.key] = newest.pop(item.key)
    return list(newest.values())


@bp.record_once
def _publish_to_pages(state: Any) -> None:
    state.app.extensions["peerfab"].live.format = format_written


@bp.get("/dashboard/events")
def events() -> Response:
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    after = int(raw) if raw.isdigit() else None
    check = request.environ.get("waitress.client_disconnected") or (lambda: False)
    response = Response(stream(runtime(), after, check), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must pass events on at once
    return response
