"""Rows loaded as plain values: what a burst of agent messages reads and changes, without the ORM.

A burst touches a few hundred jobs, attempts, agent links and machines. As ORM objects, each row
costs SQLAlchemy's instance construction on load, instrumented attribute sets while the burst
applies its messages, and its unit-of-work bookkeeping at flush. A `Record` holds one row's
columns as attributes and remembers the value each column had before its first change.

Records live in the session's info for one transaction. When the session flushes or commits,
their changes are written with the ORM objects' batched updates (`job_writes`): the same
statements, the same version guard on jobs, the same lock order. A record may change only a
table's batched columns; it is never inserted or deleted. Columns left out of the load are not
attributes at all: reading one raises AttributeError, and so does setting a column the record does
not have, so a typo cannot pass for a change that is never written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session as OrmSession

from coordinator.models.jobs import AgentLink, Job, JobAttempt, Machine

LOADED = "peerfab.loaded_rows"  # (model, primary key) -> the ORM object or record loaded for it
_RECORDS = "peerfab.records"  # every record of the session's transaction


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
        """The primary key as Session.get takes it: a value, or a tuple for a composite key."""
        names = self.key_names
        return self.__dict__[names[0]] if len(names) == 1 else tuple(self.__dict__[n] for n in names)

    def changed_columns(self) -> tuple[str, ...]:
        """The columns whose value differs from the one read (sorted)."""
        values = self.__dict__
        return tuple(sorted(name for name, before in self.changes.items() if values[name] != before))

    def written(self) -> None:
        """What the record holds is in the database now."""
        self.changes.clear()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"


def _record_type(model: type[Any]) -> type[Record]:
    keys = tuple(column.name for column in inspect(model).primary_key)
    return type(f"{model.__name__}Record", (Record,), {"__slots__": (), "model": model, "key_names": keys})


RECORD_TYPES: dict[type[Any], type[Record]] = {
    model: _record_type(model) for model in (Job, JobAttempt, AgentLink, Machine)
}


def load_records(session: OrmSession, model: type[Any], where: Any, skip: Iterable[str] = ()) -> list[Record]:
    """The rows of `model` matching `where` as records, indexed for `jobs.row_by_key` (one query).

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
