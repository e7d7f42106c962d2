"""The rows a unit of work loaded, found by primary key; and rows loaded as plain values (records).

A burst looks each of its jobs, attempts, links and machines up several times; Session.get does
that through the identity map at about 4 % of the dispatcher's time. `keep_loaded` indexes ORM
objects just loaded, and `load_records` its records, by primary key in the session's info, for
`row_by_key` to find. Of ORM objects, the index holds the very ones the identity map holds, and
keeps them alive (the map holds them weakly). Nothing the dispatcher does deletes these rows; code
that deletes one must use Session.get.

A burst touches a few hundred of these rows. As ORM objects, each costs SQLAlchemy's instance
construction on load, instrumented attribute sets while the burst applies its messages, and its
unit-of-work bookkeeping at flush. A `Record` holds one row's columns as attributes and remembers
the value each column had before its first change.

Records live in the session's info for one transaction. When the session flushes or commits,
their changes are written with the ORM objects' batched updates (`job_writes`): the same
statements, the same version guard on jobs, the same lock order. A record may change only a
table's batched columns; it is never inserted or deleted. Columns left out of the load are not
attributes at all: reading one raises AttributeError, and so does setting a column the record does
not have, so a typo cannot pass for a change that is never written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session as OrmSession

from coordinator.models.jobs import AgentLink, Job, JobAttempt, Machine

LOADED = "peerfab.loaded_rows"  # (model, primary key) -> the ORM object or record loaded for it
_RECORDS = "peerfab.records"  # every record of the session's transaction

RowT = TypeVar("RowT")

# the row kinds a burst loads -> their primary key's column names
KEY_NAMES: dict[type[Any], tuple[str, ...]] = {
    model: tuple(column.name for column in inspect(model).primary_key)
    for model in (Job, JobAttempt, AgentLink, Machine)
}


def key_of(values: dict[str, Any], names: tuple[str, ...]) -> Any:
    """A primary key as Session.get takes it: a value, or a tuple for a composite key."""
    return values[names[0]] if len(names) == 1 else tuple(values[name] for name in names)


def keep_loaded(session: OrmSession, rows: Iterable[Any]) -> None:
    """Index ORM objects just loaded into the session by primary key, for `row_by_key` to find."""
    index = session.info.setdefault(LOADED, {})
    for row in rows:
        names = KEY_NAMES.get(type(row))
        if names is not None:
            index[(type(row), key_of(row.__dict__, names))] = row


def row_by_key(session: OrmSession, model: type[RowT], key: Any) -> RowT | None:
    """Session.get, answered from the rows indexed by `keep_loaded` and `load_records` when it can."""
    row = session.info.get(LOADED, {}).get((model, key))
    return row if row is not None else session.get(model, key)


class Record:
    """One row of `model`, its columns as attributes; `changes` maps each changed column to its old value."""

    __slots__ = ("__dict__", "changes")
    changes: dict[str, Any]
    model: ClassVar[type[Any]]
    key_names: ClassVar[tuple[str, ...]]

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "__dict__", values)
        object.__setattr__(self, "changes", {})

    def __setattr__(self, name: str, value: Any) -> None:
        values = self.__dict__
        if name not in values:
            raise AttributeError(f"{type(self).__name__} has no loaded column {name!r}")
        if name not in self.changes:
            self.changes[name] = values[name]
        values[name] = value

    @property
    def key(self) -> Any:
        """The primary key as Session.get takes it."""
        return key_of(self.__dict__, self.key_names)

    def changed_columns(self) -> tuple[str, ...]:
        """The columns whose value differs from the one read (sorted)."""
        values = self.__dict__
        return tuple(sorted(name for name, before in self.changes.items() if values[name] != before))

    def written(self) -> None:
        """What the record holds is in the database now."""
        self.changes.clear()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"


def _record_type(model: type[Any], keys: tuple[str, ...]) -> type[Record]:
    return type(f"{model.__name__}Record", (Record,), {"__slots__": (), "model": model, "key_names": keys})


RECORD_TYPES: dict[type[Any], type[Record]] = {
    model: _record_type(model, keys) for model, keys in KEY_NAMES.items()
}


def load_records(session: OrmSession, model: type[Any], where: Any, skip: Iterable[str] = ()) -> list[Record]:
    """The rows of `model` matching `where` as records, indexed for `row_by_key` (one query).

    `skip` names columns not to load (JSON the caller never reads, say); they are not attributes.
    A row already indexed in this transaction keeps that copy: two copies of one row would write
    over each other. Load records first in a unit of work, before anything loads ORM objects of
    the same rows by a query.
    """
    left_out = set(skip)
    columns = [column for column in model.__table__.columns if column.name not in left_out]
    record_type = RECORD_TYPES[model]
    index = session.info.setdefault(LOADED, {})
    tracked = session.info.setdefault(_RECORDS, [])
    loaded: list[Record] = []
    result = session.connection().execute(select(*columns).where(where))
    names = tuple(result.keys())
    for row in result.all():
        record = record_type(dict(zip(names, row, strict=True)))
        if (model, record.key) in index:
            continue
        index[(model, record.key)] = record
        loaded.append(record)
    tracked.extend(loaded)
    return loaded


def changed_records(session: OrmSession) -> list[Record]:
    """The session's records holding a change not yet written."""
    return [record for record in session.info.get(_RECORDS, ()) if record.changes]


def has_records(session: OrmSession) -> bool:
    return bool(session.info.get(_RECORDS))


def track(session: OrmSession, row: Any) -> None:
    """Make sure the session writes `row`'s changes: an ORM object is added; a record always is written."""
    if not isinstance(row, Record) and row not in session:  # add() walks cascades even when held
        session.add(row)


@event.listens_for(OrmSession, "after_transaction_end")
def _drop_records(session: OrmSession, transaction: Any) -> None:
    # a record is true for one transaction: afterwards, rows are read afresh
    if transaction.parent is None and session.info.pop(_RECORDS, None) is not None:
        session.info.pop(LOADED, None)
