"""How job changes reach the database when a session flushes: in batches, each still checked.

Event rows skip the ORM: `add_row` queues them in the session, and they are written in one go
(COPY on PostgreSQL, an executemany INSERT on SQLite) after the ORM's own statements (so the jobs
they point to exist), in the same transaction as the transition that made them. A rollback or a
session closed without commit drops them. New jobs and the dispatch round's attempts are written
from plain rows the same way, at once (`insert_job_rows`, `insert_attempt_rows`), and the round
assigns its jobs in one set-based statement (`assign_jobs`).

Updates of loaded rows: the ORM writes an updated row one UPDATE at a time (and, for a row with a
version column, always so). The rows whose changes stay within the columns the dispatcher moves
(jobs' state-machine columns, attempts' state and lease, agents' sequence, machines' status; see
BATCHED) are written before the ORM flushes instead: one statement per table and set of changed
columns, an executemany on SQLite and one UPDATE ... FROM json_to_recordset(rows) on PostgreSQL.
Only the changed columns are written, so a concurrent change of another column is kept; a job row
is still guarded by its version (compare and set). If any row's version moved or the row is gone,
the flush fails with StaleDataError and the transaction rolls back. Tables are written in one
order and rows sorted by key, so two writers always lock in the same order. Any other change
goes through the ORM's own UPDATE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import (
    JSON,
    Connection,
    String,
    Table,
    bindparam,
    cast,
    column,
    event,
    func,
    insert,
    inspect,
    literal,
    update,
)
from sqlalchemy.dialects.postgresql import JSON as PG_JSON
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.state import InstanceState

from coordinator.models.base import utcnow
from coordinator.models.jobs import AgentLink, Job, JobAttempt, JobEvent, Machine
from coordinator.services.records import Record, changed_records, has_records

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
        insert_event_rows(session.connection(), rows)


def insert_event_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert event rows in the connection's transaction: COPY on PostgreSQL, executemany elsewhere.

    Through psycopg's pipelined executemany an event row cost 17 µs of the dispatcher's CPU (each
    row a statement's parameters to convert and send); COPY streams the rows in psycopg's C code at
    6 µs, and the wall time per row fell from 24 to 17 µs (docs/benchmarks-dispatch.md). Constraints hold as
    for INSERT: a duplicate message id or a missing job fails the statement, as IntegrityError.
    """
    insert_rows(connection, _EVENTS, rows)


def insert_job_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new job rows (every column given, as `jobs.job_row` makes them), as `insert_event_rows` does.

    Building a Job object and letting the ORM insert it cost 0.35 ms a job, so that 10,000 jobs
    took 3.6 s to submit (docs/benchmarks-dispatch.md).
    """
    insert_rows(connection, _JOBS, rows)


def insert_attempt_rows(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new attempt rows (every column given), as `insert_event_rows` does."""
    insert_rows(connection, _ATTEMPTS, rows)


@dataclass(frozen=True)
class RowTable:
    """A table written from plain rows: its columns in COPY order, those holding JSON, the statement."""

    table: Table
    columns: tuple[str, ...]
    json_columns: frozenset[str]
    copy: str


def _row_table(model: type[Any], skip: tuple[str, ...] = ()) -> RowTable:
    table: Table = model.__table__
    columns = tuple(c.name for c in table.columns if c.name not in skip)
    json_columns = frozenset(c.name for c in table.columns if isinstance(c.type, JSON))
    return RowTable(table, columns, json_columns, f"COPY {table.name} ({', '.join(columns)}) FROM STDIN")


def insert_rows(connection: Connection, target: RowTable, rows: list[dict[str, Any]]) -> None:
    """COPY the rows on PostgreSQL (a constraint broken raises IntegrityError); executemany elsewhere."""
    if not rows:
        return  # an empty parameter list would make SQLAlchemy insert one row of defaults
    if connection.dialect.name != "postgresql":
        connection.execute(insert(target.table), rows)
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    columns, json_columns = target.columns, target.json_columns
    try:
        with driver.cursor() as cursor, cursor.copy(target.copy) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
    except psycopg.IntegrityError as exc:
        raise IntegrityError(target.copy, None, exc) from exc


# every column but the generated id: the keys of `event_row`
_EVENTS = _row_table(JobEvent, skip=("id",))
_JOBS = _row_table(Job)
_ATTEMPTS = _row_table(JobAttempt)


@event.listens_for(OrmSession, "before_commit")
def _write_rows_before_commit(session: OrmSession) -> None:
    if session.info.get(_PENDING_ROWS) or has_records(session):
        session.flush()
        # a flush with no ORM change to write fires neither before_flush nor after_flush
        _write_batched_updates(session)
        _write_rows(session)


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_rows(session: OrmSession, _previous: Any) -> None:
    session.info.pop(_PENDING_ROWS, None)


@event.listens_for(OrmSession, "after_transaction_end")
def _drop_unwritten_rows(session: OrmSession, transaction: Any) -> None:
    # a session closed without commit or rollback must not write its rows in a later transaction
    if transaction.parent is None:
        session.info.pop(_PENDING_ROWS, None)


# ---- updates of loaded rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchedTable:
    """A mapped class whose updates within `columns` are written in batches at flush."""

    model: type[Any]
    keys: tuple[str, ...]
    columns: frozenset[str]
    versioned: bool = False

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[no-any-return]

    @property
    def guards(self) -> tuple[str, ...]:
        """The columns an UPDATE matches a row on: its key, and its version when it has one."""
        return (*self.keys, "version") if self.versioned else self.keys


# the columns the state machine, attempts, leases, progress reports and agent sequences move
BATCHED: dict[type[Any], BatchedTable] = {
    table.model: table
    for table in (
        BatchedTable(
            Job,
            ("id",),
            frozenset(
                {
                    "state",
                    "attempts",
                    "attempt_id",
                    "fablab",
                    "machine_id",
                    "progress",
                    "eta_s",
                    "reason",
                    "ended_at",
                }
            ),
            versioned=True,
        ),
        BatchedTable(JobAttempt, ("id",), frozenset({"state", "lease_expires_at", "ended_at", "reason"})),
        BatchedTable(
            AgentLink, ("fablab", "agent"), frozenset({"online", "boot_seq", "last_seq", "last_seen"})
        ),
        BatchedTable(Machine, ("fablab", "machine_id"), frozenset({"status", "last_seen"})),
    )
}


@event.listens_for(OrmSession, "before_flush")
def _write_batched_updates(session: OrmSession, _context: Any = None, _instances: Any = None) -> None:
    """Write the updates of loaded rows that stay within their batched columns, before the ORM flushes.

    Rows of one class changing the same columns go out as one statement, whether they were loaded
    as ORM objects or as records; each row keeps its version guard (jobs), and a row changed or
    gone meanwhile fails the flush.
    """
    groups: dict[tuple[BatchedTable, tuple[str, ...]], list[_Change]] = {}
    for obj in session.dirty:
        spec = BATCHED.get(type(obj))
        if spec is not None and (changed := _changed_columns(state := inspect(obj), spec)):
            groups.setdefault((spec, changed), []).append(_Change(state.dict, state))
    for record in changed_records(session):
        spec = BATCHED[record.model]
        if changed := record.changed_columns():
            if not set(changed) <= spec.columns:
                allowed = ", ".join(sorted(spec.columns))
                raise InvalidRequestError(f"{record!r} changed {changed}; a record writes only {allowed}")
            groups.setdefault((spec, changed), []).append(_Change(record.__dict__, record))
        else:
            record.written()  # set back to what it was read as: nothing to write
    # rows are locked in one order, tables as BATCHED lists them (a job before its attempt, as the
    # API's cancel writes them) and rows by key: two writers never wait for each other in a cycle
    order = list(BATCHED.values())
    for (spec, columns), changes in sorted(
        groups.items(), key=lambda item: (order.index(item[0][0]), item[0][1])
    ):
        changes.sort(key=lambda change: tuple(change.values[key] for key in spec.keys))
        _write_group(session.connection(), session.identity_map, spec, columns, changes)


@dataclass(frozen=True)
class _Change:
    """A row to update: its current values, and the ORM state or record that holds them."""

    values: dict[str, Any]
    owner: InstanceState[Any] | Record


def _changed_columns(state: InstanceState[Any], spec: BatchedTable) -> tuple[str, ...]:
    """The columns a persistent row really changed (sorted), when they all are batched ones; else none."""
    if not state.persistent or not state.committed_state:
        return ()
    values = state.dict
    changed = frozenset(
        key
        for key, before in state.committed_state.items()
        if before is NO_VALUE or values.get(key, NO_VALUE) != before
    )
    if not changed <= spec.columns or state.unloaded & changed.union(spec.guards):
        return ()
    return tuple(sorted(changed))


def _write_group(
    connection: Connection,
    identity_map: Any,
    spec: BatchedTable,
    columns: tuple[str, ...],
    changes: list[_Change],
) -> None:
    postgresql = connection.dialect.name == "postgresql"
    statement = _update_statement(spec, columns, postgresql)
    rows = [_update_params(change.values, spec, columns) for change in changes]
    result = connection.execute(statement, {"b_rows": _as_json(rows)} if postgresql else rows)
    if result.rowcount != len(rows):
        raise StaleDataError(
            f"{len(rows) - result.rowcount} of {len(rows)} {spec.table.name} rows were changed or removed "
            "by someone else since they were read"
        )
    if spec.versioned:
        for change, written in zip(changes, rows, strict=True):
            change.values["version"] = written["b_next"]
    # what was written is the committed state now, and these rows hold no other change: leave
    # them out of the ORM's flush (as its own flush does with the rows it wrote)
    states = [(c.owner, c.values) for c in changes if isinstance(c.owner, InstanceState)]
    if states:
        InstanceState._commit_all_states(states, identity_map)
    for change in changes:
        if isinstance(change.owner, Record):
            change.owner.written()


def _update_params(values: dict[str, Any], spec: BatchedTable, columns: tuple[str, ...]) -> dict[str, Any]:
    params = {f"b_{name}": values.get(name) for name in (*spec.keys, *columns)}
    if spec.versioned:
        params.update(b_version=values["version"], b_next=values["version"] + 1)  # version is unchanged
    return params


def _as_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=_json_value, separators=(",", ":"))


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a batched column type")


@lru_cache(maxsize=256)
def _update_statement(spec: BatchedTable, columns: tuple[str, ...], postgresql: bool) -> Any:
    """UPDATE for one shape of change: an executemany, or on PostgreSQL one UPDATE ... FROM JSON rows."""
    if postgresql:
        return _update_from_json(spec, columns)
    table = spec.table
    values: dict[str, Any] = {name: bindparam(f"b_{name}") for name in columns}
    if spec.versioned:
        values["version"] = bindparam("b_next")
    return (
        update(table).where(*[table.c[name] == bindparam(f"b_{name}") for name in spec.guards]).values(values)
    )


def _update_from_json(spec: BatchedTable, columns: tuple[str, ...]) -> Any:
    """One statement for all rows, which arrive as one JSON array of objects, one per row.

    The server runs one statement instead of one per row, and its text is the same for any number
    of rows. One JSON text costs the dispatcher far less than typed arrays, which psycopg dumps
    element by element in Python (7.5 % of the dispatcher's CPU, docs/benchmarks-dispatch.md).
    """
    table, guards = spec.table, spec.guards
    names = (*guards, *columns, *(("next",) if spec.versioned else ()))
    source = _json_rows(table, names)
    values: dict[str, Any] = {name: source.c[f"b_{name}"] for name in columns}
    if spec.versioned:
        values["version"] = source.c["b_next"]
    return update(table).where(*[table.c[name] == source.c[f"b_{name}"] for name in guards]).values(values)


def _json_rows(table: Table, names: tuple[str, ...]) -> Any:
    """The `b_rows` parameter, one JSON array of objects keyed `b_<name>`, as a table `v` of typed columns."""
    record = [column(f"b_{name}", _type(table, name)) for name in names]
    return (
        func.json_to_recordset(cast(bindparam("b_rows", type_=String()), PG_JSON))
        .table_valued(*record)
        .render_derived(name="v", with_types=True)
    )


def _type(table: Table, name: str) -> Any:
    return table.c["version" if name == "next" else name].type


# ---- offers: queued jobs assigned in one statement -----------------------------------------------

# what an offer needs of its job, read back by the statement that assigns it
OFFER_COLUMNS = (
    "id",
    "process",
    "material",
    "min_box_mm",
    "nozzle_mm",
    "file_sha256",
    "file_name",
    "file_size",
    "params",
)


def assign_jobs(
    connection: Connection, rows: list[dict[str, Any]], from_state: str, to_state: str
) -> list[Any]:
    """Assign each job of `rows` (id, attempt_id, fablab, machine_id) to its attempt if it is still in
    `from_state`; return the `OFFER_COLUMNS` of the jobs assigned, in no particular order.

    The state is the compare-and-set guard: a job taken or cancelled since it was read is left as it
    is and not returned. The version moves as the ORM's own update moves it, so a session holding an
    older copy of the job fails its flush. On PostgreSQL one UPDATE ... FROM JSON rows RETURNING;
    elsewhere one UPDATE ... RETURNING per job.
    """
    if not rows:
        return []
    params = [{f"b_{key}": value for key, value in row.items()} for row in rows]
    if connection.dialect.name == "postgresql":
        statement = _assign_from_json(from_state, to_state)
        return list(connection.execute(statement, {"b_rows": _as_json(params)}).all())
    statement = _assign_one(from_state, to_state)
    taken: list[Any] = []
    for one in params:
        taken += connection.execute(statement, one).all()
    return taken


_ASSIGNED = ("attempt_id", "fablab", "machine_id")


@lru_cache(maxsize=8)
def _assign_from_json(from_state: str, to_state: str) -> Any:
    table = Job.__table__  # type: ignore[attr-defined]
    source = _json_rows(table, ("id", *_ASSIGNED))
    return _assignment(
        table, from_state, to_state, table.c.id == source.c.b_id, {n: source.c[f"b_{n}"] for n in _ASSIGNED}
    )


@lru_cache(maxsize=8)
def _assign_one(from_state: str, to_state: str) -> Any:
    table = Job.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {name: bindparam(f"b_{name}") for name in _ASSIGNED}
    return _assignment(table, from_state, to_state, table.c.id == bindparam("b_id"), values)


def _assignment(table: Table, from_state: str, to_state: str, match: Any, values: dict[str, Any]) -> Any:
    # the states are rendered as literals: they are fixed by the state machine, not input
    return (
        update(table)
        .where(match, table.c.state == literal(from_state, literal_execute=True))
        .values(
            state=to_state,
            attempts=table.c.attempts + 1,
            version=table.c.version + 1,
            **values,
        )
        .returning(*[table.c[name] for name in OFFER_COLUMNS])
    )
