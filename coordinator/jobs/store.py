"""Loads job-domain rows as snapshots and writes back the ones a unit of work changed.

This is the only code that writes `job`, `job_attempt`, `machine`, `agent_link` and `job_event` rows.
A unit of work has one Store: each row is read at most once, every decision replaces its snapshot in
memory, and `flush` writes each changed row once, with only the columns that changed, grouped into
one UPDATE per table and set of columns (on PostgreSQL the batch's rows travel as one JSON parameter;
on SQLite, in-process, it is an executemany). A job row is written only if its `version` is still the
one read (compare and set), and moves it on; a row changed or removed meanwhile fails the flush with
`StaleData`, and the bus runs the unit of work again on fresh rows. Tables are written in one order
and rows sorted by key, so two writers always take their row locks in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    String,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    column,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Update
from sqlmodel import Session

from coordinator.jobs.lifecycle import LIVE_ATTEMPT_STATES, AttemptState
from coordinator.jobs.rows import (
    AttemptSnap,
    Decision,
    EventRow,
    JobSnap,
    LinkSnap,
    MachineSnap,
    Row,
)
from coordinator.models.base import aware, utcnow
from coordinator.models.jobs import AgentLink, Fablab, Job, JobAttempt, JobEvent, Machine
from protocol import payloads as p


class StaleData(Exception):
    """A row the unit of work read was changed or removed by someone else before it was written."""


@dataclass(frozen=True)
class Kind:
    """A kind of snapshot: its table, key columns, the columns it holds and what is selected to load it."""

    snap: type[Any]
    table: Table
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    selected: tuple[Any, ...]  # one expression per field of the snapshot, in its order
    versioned: bool = False

    def key(self, row: Any) -> Any:
        """A row's primary key: a value, or a tuple for a composite key."""
        values = tuple(getattr(row, name) for name in self.keys)
        return values[0] if len(values) == 1 else values


def _kind(snap: type[Any], model: type[Any], keys: tuple[str, ...], versioned: bool = False) -> Kind:
    table: Table = model.__table__
    columns = tuple(f.name for f in fields(snap) if f.name in table.c)
    selected = tuple(table.c[f.name] if f.name in table.c else _DERIVED[f.name](table) for f in fields(snap))
    return Kind(snap, table, keys, columns, selected, versioned)


# snapshot fields that are not columns: read straight out of the row (a machine's process, from its
# capabilities JSON, without decoding the whole document)
_DERIVED: dict[str, Any] = {
    "process": lambda table: func.coalesce(table.c.capabilities["process"].as_string(), "")
}


JOBS = _kind(JobSnap, Job, ("id",), versioned=True)
ATTEMPTS = _kind(AttemptSnap, JobAttempt, ("id",))
LINKS = _kind(LinkSnap, AgentLink, ("fablab", "agent"))
MACHINES = _kind(MachineSnap, Machine, ("fablab", "machine_id"))
# the one order in which tables are written, so that concurrent writers lock rows in the same order
WRITE_ORDER: tuple[Kind, ...] = (JOBS, ATTEMPTS, LINKS, MACHINES)
KINDS: dict[type[Any], Kind] = {kind.snap: kind for kind in WRITE_ORDER}
EVENTS: Table = JobEvent.__table__  # type: ignore[attr-defined]


@dataclass
class Written:
    """What a flush wrote: the rows as they are now, and the event rows with their ids."""

    jobs: list[JobSnap] = field(default_factory=list)
    machines: list[MachineSnap] = field(default_factory=list)
    links: list[LinkSnap] = field(default_factory=list)
    events: list[tuple[int, EventRow]] = field(default_factory=list)


class Store:
    """The rows of one unit of work, as snapshots, and the writes that make its changes durable."""

    def __init__(self, session: Session) -> None:
        self.session = session
        # per kind of snapshot: primary key -> the row as read, and as the unit of work left it
        self._read: dict[type, dict[Any, Row]] = {kind.snap: {} for kind in WRITE_ORDER}
        self._rows: dict[type, dict[Any, Row]] = {kind.snap: {} for kind in WRITE_ORDER}
        self._events: list[EventRow] = []
        self._announced: set[Any] = set()  # machines a birth wrote, for the live stream

    @property
    def connection(self) -> Connection:
        return self.session.connection()

    # ---- reading -------------------------------------------------------------------------------

    def get(self, snap: type[Any], key: Any) -> Any:
        """The current snapshot of a row this unit of work loaded, or None."""
        return self._rows[snap].get(key)

    @property
    def _arrays(self) -> bool:
        """Whether the database takes array parameters (PostgreSQL): a lookup of any number of keys
        is then one statement text, compiled and prepared once, instead of one per IN-list length."""
        return self.session.get_bind().dialect.name == "postgresql"

    def jobs(self, ids: Iterable[str]) -> dict[str, JobSnap]:
        """Jobs by id (loading those not loaded yet)."""
        return self._by_key(JOBS, ids, lambda wanted: _ids(JOBS.table, wanted, self._arrays))

    def attempts(self, ids: Iterable[str]) -> dict[str, AttemptSnap]:
        return self._by_key(ATTEMPTS, ids, lambda wanted: _ids(ATTEMPTS.table, wanted, self._arrays))

    def links(self, agents: Iterable[tuple[str, str]]) -> dict[tuple[str, str], LinkSnap]:
        return self._by_key(LINKS, agents, lambda wanted: _pairs(LINKS.table, "agent", wanted, self._arrays))

    def machines(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], MachineSnap]:
        where = lambda wanted: _pairs(MACHINES.table, "machine_id", wanted, self._arrays)  # noqa: E731
        return self._by_key(MACHINES, keys, where)

    def job_at_machine(self, job_id: str) -> tuple[JobSnap | None, AttemptSnap | None, MachineSnap | None]:
        """A job with its live attempt and that attempt's machine (None where there is none)."""
        job = self.jobs([job_id]).get(job_id)
        attempt = self.attempts([job.attempt_id]).get(job.attempt_id) if job and job.attempt_id else None
        if attempt is None or attempt.state not in LIVE_ATTEMPT_STATES:
            return job, None, None
        key = (attempt.fablab, attempt.machine_id)
        return job, attempt, self.machines([key]).get(key)

    def machines_of(self, agents: Iterable[tuple[str, str]]) -> list[MachineSnap]:
        """Every machine driven by these agents."""
        wanted = set(agents)
        if not wanted:
            return []
        self._load(MACHINES, _pairs(MACHINES.table, "agent", wanted, self._arrays))
        return self._current(MachineSnap, lambda m: (m.fablab, m.agent) in wanted)

    def live_attempts(self, *, fablab: str | None = None, agent: str | None = None) -> list[AttemptSnap]:
        """Live attempts, of one agent when named."""
        table = ATTEMPTS.table
        clause: Any = table.c.state.in_(sorted(LIVE_ATTEMPT_STATES))
        if fablab is not None and agent is not None:
            clause = and_(clause, table.c.fablab == fablab, table.c.agent == agent)
        self._load(ATTEMPTS, clause)
        return self._current(AttemptSnap, lambda a: a.state in LIVE_ATTEMPT_STATES
                             and (fablab is None or (a.fablab, a.agent) == (fablab, agent)))  # fmt: skip

    def expired_attempts(self, now: datetime) -> list[AttemptSnap]:
        table = ATTEMPTS.table
        self._load(
            ATTEMPTS, and_(table.c.state.in_(sorted(LIVE_ATTEMPT_STATES)), table.c.lease_expires_at < now)
        )
        return self._current(
            AttemptSnap, lambda a: a.state in LIVE_ATTEMPT_STATES and a.lease_expires_at < now
        )

    def cancelling_attempts(self) -> list[AttemptSnap]:
        self._load(ATTEMPTS, ATTEMPTS.table.c.state == AttemptState.CANCELLING)
        return self._current(AttemptSnap, lambda a: a.state == AttemptState.CANCELLING)

    def recorded_messages(self, msg_ids: Sequence[str]) -> set[tuple[str, str, str]]:
        """(fablab, agent, msg_id) of these messages that already have an event row (a replay)."""
        if not msg_ids:
            return set()
        where = _ids(EVENTS, msg_ids, self._arrays, column="msg_id")
        rows = self.connection.execute(select(EVENTS.c.fablab, EVENTS.c.agent, EVENTS.c.msg_id).where(where))
        return {(f, a, m) for f, a, m in rows if f and a and m}

    def pending_events(self, job_id: str) -> list[EventRow]:
        """Event rows of a job this unit of work has queued and not written yet (what a report said)."""
        return [event for event in self._events if event.job_id == job_id]

    def _by_key(self, kind: Kind, keys: Iterable[Any], where: Any) -> dict[Any, Any]:
        held = self._rows[kind.snap]
        keys = set(keys)
        missing = [key for key in keys if key not in held]
        if missing:
            self._load(kind, where(missing))
        return {key: row for key in keys if (row := held.get(key)) is not None}

    def _load(self, kind: Kind, where: Any) -> None:
        """Read rows into the unit of work; a row it holds already keeps its current snapshot."""
        held, read = self._rows[kind.snap], self._read[kind.snap]
        for values in self.connection.execute(select(*kind.selected).where(where)):
            row = kind.snap(*[aware(v) if isinstance(v, datetime) else v for v in values])
            key = kind.key(row)
            if key not in held:
                read[key] = held[key] = row

    def _current(self, snap: type[Any], keep: Any) -> list[Any]:
        return [row for row in self._rows[snap].values() if keep(row)]

    # ---- changing ------------------------------------------------------------------------------

    def apply(self, decision: Decision) -> None:
        """Take a decision's rows as the current ones, and queue its event rows."""
        for row in decision.rows:
            kind = KINDS[type(row)]
            self._rows[kind.snap][kind.key(row)] = row
        self._events += decision.events

    def insert_jobs(self, rows: list[dict[str, Any]], events: list[EventRow]) -> None:
        """New job rows (every column given) and their first event rows, at once."""
        if rows:
            self.connection.execute(insert(JOBS.table), rows)
        self._events += events

    def ensure_link(self, fablab: str, agent: str) -> LinkSnap:
        """The agent's link, created (with its fablab) the first time the agent is heard of."""
        found = self._rows[LinkSnap].get((fablab, agent)) or self.links([(fablab, agent)]).get(
            (fablab, agent)
        )
        if found is not None:
            return found  # type: ignore[return-value]
        self._ensure_fablab(fablab)
        link = LinkSnap(fablab, agent, online=False, boot_seq=-1, last_seq=-1, birth_msg_id="", software="",
                        last_seen=None)  # fmt: skip
        self.connection.execute(insert(LINKS.table), [_values(LINKS, link)])
        self._read[LinkSnap][(fablab, agent)] = self._rows[LinkSnap][(fablab, agent)] = link
        return link

    def _ensure_fablab(self, fablab: str) -> None:
        table: Table = Fablab.__table__  # type: ignore[attr-defined]
        if self.connection.execute(select(table.c.id).where(table.c.id == fablab)).first() is None:
            self.connection.execute(insert(table), [{"id": fablab, "name": fablab, "created_at": utcnow()}])

    def announce_machine(self, info: p.MachineInfo, row: MachineSnap) -> None:
        """Write a machine as its agent's birth describes it (inserted the first time), at once."""
        table = MACHINES.table
        values = {"agent": row.agent, "driver": info.driver, "operator_confirm": row.operator_confirm,
                  "capabilities": info.capabilities.model_dump(mode="json"), "status": row.status,
                  "last_seen": row.last_seen}  # fmt: skip
        key = (row.fablab, row.machine_id)
        if self.machines([key]):
            where = and_(table.c.fablab == row.fablab, table.c.machine_id == row.machine_id)
            self.connection.execute(update(table).where(where).values(**values))
        else:
            self.connection.execute(
                insert(table), [{"fablab": row.fablab, "machine_id": row.machine_id, **values}]
            )
        self._read[MachineSnap][key] = self._rows[MachineSnap][key] = row
        self._announced.add(key)

    # ---- writing -------------------------------------------------------------------------------

    def flush(self) -> Written:
        """Write every changed row and queued event row; raise StaleData when a row moved meanwhile."""
        written = Written()
        for kind in WRITE_ORDER:
            self._insert_new(kind)
            self._write_changes(kind, written)
        written.events = self._insert_events()
        shown = {(m.fablab, m.machine_id) for m in written.machines}
        held = self._rows[MachineSnap]
        written.machines += [held[key] for key in self._announced - shown]  # type: ignore[misc]
        self._announced.clear()
        return written

    def _insert_new(self, kind: Kind) -> None:
        held, read = self._rows[kind.snap], self._read[kind.snap]
        new = [row for key, row in held.items() if key not in read]
        if new:
            self.connection.execute(insert(kind.table), [_values(kind, row) for row in new])
            for row in new:
                read[kind.key(row)] = row

    def _write_changes(self, kind: Kind, written: Written) -> None:
        read = self._read[kind.snap]
        changed_rows = sorted(
            (item for item in self._rows[kind.snap].items() if item[1] != read[item[0]]),
            key=lambda item: _sort_key(item[0]),
        )
        groups: dict[tuple[str, ...], list[tuple[Row, Row]]] = {}
        for key, row in changed_rows:
            before = read[key]
            changed = tuple(name for name in kind.columns if getattr(row, name) != getattr(before, name))
            groups.setdefault(changed, []).append((before, row))
        for columns, pairs in groups.items():
            self._update(kind, columns, [row for _, row in pairs])
            for before, row in pairs:
                self._mark_written(kind, before, row, written)

    def _update(self, kind: Kind, columns: tuple[str, ...], rows: list[Row]) -> None:
        params = [_update_params(kind, columns, row) for row in rows]
        if self._arrays:  # one statement for the whole batch, its rows as one JSON parameter
            statement = _batch_update(kind, columns)
            result = self.connection.execute(statement, {"rows": json.dumps(params, default=_json_value)})
        else:
            result = self.connection.execute(_row_update(kind, columns), params)
        if result.rowcount != len(params):
            raise StaleData(f"{len(params) - result.rowcount} of {len(params)} {kind.table.name} rows were "
                            "changed or removed by someone else since they were read")  # fmt: skip

    def _mark_written(self, kind: Kind, before: Any, row: Any, written: Written) -> None:
        if kind.versioned:
            row = _bump(row)
            self._rows[kind.snap][kind.key(row)] = row
        self._read[kind.snap][kind.key(row)] = row
        if isinstance(row, JobSnap):
            written.jobs.append(row)
        elif isinstance(row, MachineSnap) and row.status != before.status:
            written.machines.append(row)  # pages show a status; last_seen alone is not worth a push
        elif isinstance(row, LinkSnap):
            written.links.append(row)

    def _insert_events(self) -> list[tuple[int, EventRow]]:
        events, self._events = self._events, []
        if not events:
            return []
        statement = insert(EVENTS).returning(EVENTS.c.id, sort_by_parameter_order=True)
        ids = self.connection.execute(statement, [_event_values(e) for e in events]).scalars().all()
        return list(zip(ids, events, strict=True))


def _ids(table: Table, ids: Sequence[str], arrays: bool, column: str = "id") -> Any:
    """WHERE clause for rows with one of these values in `column` (their ids unless named)."""
    if arrays:
        return table.c[column] == any_(bindparam("ids", sorted(ids), type_=ARRAY(String)))
    return table.c[column].in_(ids)


def _pairs(table: Table, second: str, pairs: Iterable[tuple[str, str]], arrays: bool) -> Any:
    """WHERE clause for rows of these (fablab, second) pairs: (fablab, second) IN the zip of two
    arrays, or, without arrays, per fablab second IN (...)."""
    if arrays:
        ordered = sorted(set(pairs))
        firsts = bindparam("firsts", [a for a, _ in ordered], type_=ARRAY(String))
        seconds = bindparam("seconds", [b for _, b in ordered], type_=ARRAY(String))
        wanted = select(func.unnest(firsts), func.unnest(seconds))
        return tuple_(table.c.fablab, table.c[second]).in_(wanted)
    by_fablab: dict[str, list[str]] = {}
    for fablab, other in sorted(set(pairs)):
        by_fablab.setdefault(fablab, []).append(other)
    return or_(*[and_(table.c.fablab == lab, table.c[second].in_(names)) for lab, names in by_fablab.items()])


@cache
def _row_update(kind: Kind, columns: tuple[str, ...]) -> Update:
    """UPDATE of one row per parameter set: its key (and version) as read, the changed columns' values."""
    table = kind.table
    guards = [table.c[name] == bindparam(f"k_{name}") for name in kind.keys]
    values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in columns}
    if kind.versioned:
        guards.append(table.c.version == bindparam("k_version"))
        values["version"] = table.c.version + 1
    return update(table).where(*guards).values(values)


@cache
def _batch_update(kind: Kind, columns: tuple[str, ...]) -> Update:
    """The same UPDATE for every row of a batch at once: the parameter sets arrive as one JSON array,
    unpacked by jsonb_to_recordset into rows typed like the columns they key and set (PostgreSQL)."""
    table = kind.table
    names = [f"k_{name}" for name in kind.keys] + [f"v_{name}" for name in columns]
    typed = [column(name, table.c[name[2:]].type) for name in names]
    if kind.versioned:
        typed.append(column("k_version", table.c.version.type))
    given = func.jsonb_to_recordset(cast(bindparam("rows", type_=String), JSONB))
    batch = given.table_valued(*typed).render_derived(name="batch", with_types=True)
    guards = [table.c[name] == batch.c[f"k_{name}"] for name in kind.keys]
    values: dict[str, Any] = {name: batch.c[f"v_{name}"] for name in columns}
    if kind.versioned:
        guards.append(table.c.version == batch.c.k_version)
        values["version"] = table.c.version + 1
    return update(table).where(*guards).values(values)


def _json_value(value: Any) -> Any:
    """Parameter values JSON has no type for: timestamps as ISO 8601 with their offset."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a batch update")


def _values(kind: Kind, row: Row) -> dict[str, Any]:
    return {name: getattr(row, name) for name in kind.columns}


def _update_params(kind: Kind, columns: tuple[str, ...], row: Row) -> dict[str, Any]:
    params = {f"k_{name}": getattr(row, name) for name in kind.keys}
    params.update({f"v_{name}": getattr(row, name) for name in columns})
    if kind.versioned:
        params["k_version"] = row.version  # type: ignore[union-attr]
    return params


def _bump(job: JobSnap) -> JobSnap:
    return replace(job, version=job.version + 1)


def _sort_key(key: Any) -> tuple[str, ...]:
    return key if isinstance(key, tuple) else (key,)


def _event_values(event: EventRow) -> dict[str, Any]:
    return {
        "job_id": event.job_id,
        "attempt_id": event.attempt_id,
        "type": event.type,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "payload": event.payload,
        "fablab": event.source.fablab,
        "agent": event.source.agent,
        "msg_id": event.source.msg_id,
        "at": event.at,
    }
