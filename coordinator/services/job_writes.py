"""How job changes reach the database when a session flushes: in batches, each still checked.

Event rows skip the ORM: `add_row` queues them in the session, and they are written with one
executemany INSERT after the ORM's own statements (so the jobs they point to exist), in the same
transaction as the transition that made them. A rollback or a session closed without commit
drops them.

Job rows: the ORM writes a row guarded by its version (`job.version`) one UPDATE at a time. The
jobs whose changes stay within the state-machine columns are written with one executemany UPDATE
per flush instead, each row still guarded by its version (compare and set); if any row's version
moved since it was read, the flush fails with StaleDataError and the transaction rolls back. Any
other change of a job goes through the ORM's own versioned UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, event, insert, inspect, update
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from coordinator.models.base import utcnow
from coordinator.models.jobs import Job, JobEvent

_PENDING_ROWS = "peerfab.pending_event_rows"


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


# ---- job rows ------------------------------------------------------------------------------------

# the columns the state machine, attempts and progress reports move
STATE_COLUMNS = (
    "state",
    "attempts",
    "attempt_id",
    "fablab",
    "machine_id",
    "progress",
    "eta_s",
    "reason",
    "ended_at",
)
_JOB = Job.__table__  # type: ignore[attr-defined]
_UPDATE_STATE = (
    update(_JOB)
    .where(_JOB.c.id == bindparam("b_id"), _JOB.c.version == bindparam("b_version"))
    .values({name: bindparam(f"b_{name}") for name in STATE_COLUMNS} | {"version": bindparam("b_next")})
)
_STATE_KEYS = frozenset(STATE_COLUMNS)
_NEEDED = _STATE_KEYS | {"id", "version"}
_ALL_KEYS = frozenset(inspect(Job).attrs.keys())


@event.listens_for(OrmSession, "before_flush")
def _write_job_states(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Write the state changes of loaded jobs in one guarded executemany, before the ORM flushes."""
    changed = [
        (job, keys) for job in session.dirty if isinstance(job, Job) and (keys := _changed_state_keys(job))
    ]
    if not changed:
        return
    params = [_update_params(job) for job, _ in changed]
    result = session.connection().execute(_UPDATE_STATE, params)
    if result.rowcount != len(params):
        raise StaleDataError(
            f"{len(params) - result.rowcount} of {len(params)} job rows were changed by someone else "
            "since they were read"
        )
    for (job, keys), written in zip(changed, params, strict=True):
        # what was written is the committed state now: the ORM has nothing left to write
        for key in keys:
            set_committed_value(job, key, written[f"b_{key}"])
        set_committed_value(job, "version", written["b_next"])


def _changed_state_keys(job: Job) -> frozenset[str]:
    """The columns a persistent job really changed, when they all are state columns; else none."""
    state = inspect(job)
    if not state.persistent or state.unloaded & _NEEDED:
        return frozenset()
    touched = _ALL_KEYS.difference(state.unmodified)
    changed = frozenset(key for key in touched if state.attrs[key].history.has_changes())
    return changed if changed <= _STATE_KEYS else frozenset()


def _update_params(job: Job) -> dict[str, Any]:
    values = inspect(job).dict
    params = {f"b_{name}": values.get(name) for name in STATE_COLUMNS}
    params.update(b_id=job.id, b_version=job.version, b_next=job.version + 1)  # version is unchanged
    return params
