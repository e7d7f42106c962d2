"""Server-sent events: job and machine changes, found by polling the database once a second.

Each open stream holds one server thread, so streams are few (MAX_STREAMS), short-lived
(the browser reconnects after MAX_STREAM_S, resuming from the last event id) and do three
small indexed queries a second.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from coordinator.dashboard.blueprint import bp
from coordinator.dashboard.present import ago, duration, iso, job_badge, machine_badge
from coordinator.db import session_scope
from coordinator.models.jobs import ACTIVE_STATES, AgentLink, Job, JobEvent, Machine
from coordinator.runtime import runtime

POLL_S = 1.0
HEARTBEAT_S = 15.0
MAX_STREAM_S = 300.0
MAX_STREAMS = 8
RETRY_MS = 2000
BATCH = 200

_streams = threading.BoundedSemaphore(MAX_STREAMS)


def sse(data: Any, event: str | None = None, event_id: int | None = None) -> str:
    """One server-sent event in wire format."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


def job_view(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": job.state,
        "badge": job_badge(job.state).to_dict(),
        "percent": round(max(0.0, min(1.0, job.progress)) * 100),
        "eta": f"about {duration(job.eta_s)} left" if job.eta_s is not None else "time left unknown",
        "machine": f"{job.fablab}/{job.machine_id}" if job.machine_id else None,
    }


def machine_view(machine: Machine, online: bool) -> dict[str, Any]:
    status = machine.status if online else "offline"
    process = str(machine.capabilities.get("process") or "")
    return {
        "key": f"{machine.fablab}/{machine.machine_id}",
        "status": status,
        "badge": machine_badge(status, process).to_dict(),
        "last_seen": iso(machine.last_seen),
        "last_seen_text": ago(machine.last_seen),
    }


def log_view(event: JobEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "job_id": event.job_id,
        "type": event.type,
        "from": event.from_state or "",
        "to": event.to_state or "",
        "at": iso(event.at),
        "source": f"{event.fablab}/{event.agent}" if event.agent else "coordinator",
        "details": "; ".join(f"{k}: {v}" for k, v in event.payload.items()),
    }


def latest_event_id(session: Session) -> int:
    return int(session.exec(select(func.max(JobEvent.id))).one() or 0)


@dataclass
class Watcher:
    """Remembers what a stream has sent and turns database changes into events."""

    after: int
    jobs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    machines: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def poll(self, session: Session) -> list[str]:
        """Events for everything that changed since the last poll (everything, the first time)."""
        messages, touched = self._new_log(session)
        messages += self._changed_jobs(session, touched)
        messages += self._changed_machines(session)
        return messages

    def _new_log(self, session: Session) -> tuple[list[str], set[str]]:
        query = select(JobEvent).where(col(JobEvent.id) > self.after).order_by(col(JobEvent.id)).limit(BATCH)
        rows = session.exec(query).all()
        if rows:
            self.after = rows[-1].id or self.after
        return [sse(log_view(e), "log", e.id) for e in rows], {e.job_id for e in rows}

    def _changed_jobs(self, session: Session, touched: set[str]) -> list[str]:
        query = select(Job).where(col(Job.state).in_(list(ACTIVE_STATES)) | col(Job.id).in_(list(touched)))
        messages = []
        for job in session.exec(query).all():
            view = job_view(job)
            snapshot = (view["state"], view["percent"], view["eta"], view["machine"])
            if self.jobs.get(job.id) != snapshot:
                self.jobs[job.id] = snapshot
                messages.append(sse(view, "job"))
        return messages

    def _changed_machines(self, session: Session) -> list[str]:
        online = {(ln.fablab, ln.agent): ln.online for ln in session.exec(select(AgentLink)).all()}
        messages = []
        for machine in session.exec(select(Machine)).all():
            view = machine_view(machine, online.get((machine.fablab, machine.agent), False))
            snapshot = (view["status"], view["last_seen"])
            if self.machines.get(view["key"]) != snapshot:
                self.machines[view["key"]] = snapshot
                messages.append(sse(view, "machine"))
        return messages


def stream(
    engine: Engine,
    after: int | None,
    disconnected: Callable[[], bool],
    *,
    poll_s: float = POLL_S,
    max_s: float = MAX_STREAM_S,
) -> Iterator[str]:
    """The event stream of one browser; ends on disconnect, after `max_s`, or when streams run out."""
    if not _streams.acquire(blocking=False):
        yield f"retry: {RETRY_MS * 5}\n: too many live pages open; retrying later\n\n"
        return
    try:
        yield from _run(engine, after, disconnected, poll_s, max_s)
    finally:
        _streams.release()


def _run(
    engine: Engine, after: int | None, disconnected: Callable[[], bool], poll_s: float, max_s: float
) -> Iterator[str]:
    with session_scope(engine) as session:
        watcher = Watcher(after if after is not None else latest_event_id(session))
    yield f"retry: {RETRY_MS}\n\n"
    started = last_write = time.monotonic()
    while time.monotonic() - started < max_s and not disconnected():
        with session_scope(engine) as session:
            messages = watcher.poll(session)
        if messages:
            yield "".join(messages)
            last_write = time.monotonic()
        elif time.monotonic() - last_write >= HEARTBEAT_S:
            yield ": keep-alive\n\n"
            last_write = time.monotonic()
        time.sleep(poll_s)


@bp.get("/dashboard/events")
def events() -> Response:
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    after = int(raw) if raw.isdigit() else None
    check = request.environ.get("waitress.client_disconnected") or (lambda: False)
    response = Response(stream(runtime().engine, after, check), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # a reverse proxy must pass events on at once
    return response
