"""Job event rows: queued as plain values, written in one batch when the session flushes.

Event rows skip the ORM: `add_row` queues them in the session, and they are written with one
executemany INSERT after the ORM's own statements (so the jobs they point to exist), in the same
transaction as the transition that made them. A rollback or a session closed without commit
drops them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session as OrmSession

from coordinator.models.jobs import JobEvent

_PENDING_ROWS = "peerfab.pending_event_rows"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Source:
    """Where a message came from, for the event row and duplicate detection."""

    fablab: str | None = None
    agent: str | None = None
    msg_id: str | None = None


COORDINATOR = Source()


# ---- event rows ----------------------------------------------------------------------------------


def event_row(
    job_id: str,
    trigger: str,
    from_state: str | None,
    to_state: str,
    *,
    attempt_id: str | None = None,
    payload: dict[str, Any] | None = None,
    source: Source = COORDINATOR,
) -> dict[str, Any]:
    """A `job_event` row as plain values (every row has the same keys, for one executemany)."""
    return {
        "job_id": job_id,
        "attempt_id": attempt_id,
        "type": trigger,
        "from_state": from_state,
        "to_state": to_state,
        "payload": payload or {},
        "fablab": source.fablab,
        "agent": source.agent,
        "msg_id": source.msg_id,
        "at": utcnow(),
    }


def add_row(session: OrmSession, row: dict[str, Any]) -> None:
    """Queue an event row; it is inserted at the session's next flush, in the same transaction."""
    session.info.setdefault(_PENDING_ROWS, []).append(row)


@event.listens_for(OrmSession, "after_flush")
def _write_rows(session: OrmSession, _context: Any = None) -> None:
    rows = session.info.pop(_PENDING_ROWS, None)
    if rows:
        session.connection().execute(insert(JobEvent), rows)


@event.listens_for(OrmSession, "before_commit")
def _write_rows_before_commit(session: OrmSession) -> None:
    if session.info.get(_PENDING_ROWS):
        session.flush()
        _write_rows(session)  # a flush with nothing else to write does not fire after_flush


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_rows(session: OrmSession, _previous: Any) -> None:
    session.info.pop(_PENDING_ROWS, None)


@event.listens_for(OrmSession, "after_transaction_end")
def _drop_unwritten_rows(session: OrmSession, transaction: Any) -> None:
    # a session closed without commit or rollback must not write its rows in a later transaction
    if transaction.parent is None:
        session.info.pop(_PENDING_ROWS, None)
