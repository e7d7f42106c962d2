"""The unit of work and the message bus: `handle(command)` runs one action in one transaction.

A handler loads rows through the unit of work's store, asks the lifecycle, and `apply`s the decision.
Domain events of the decision (a job started, a job ended) are handed to their handlers in the same
unit of work, so a build always agrees with its jobs. The bus commits, runs the unit of work again on
fresh rows when someone else changed a row meanwhile, and only then hands the effects to the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from coordinator.jobs.outbox import Effects, Outbox
from coordinator.jobs.rows import Decision, DomainEvent
from coordinator.jobs.store import StaleData, Store
from protocol.errors import Conflict

log = logging.getLogger(__name__)

TRIES = 3
# PostgreSQL: serialization failure, deadlock; SQLite: the database is busy past its timeout
_RETRYABLE_CODES = frozenset({"40001", "40P01"})


class UnitOfWork:
    """One session, one transaction, one store, and the effects to deliver after the commit."""

    def __init__(self, engine: Engine, deps: Any) -> None:
        self.session = Session(engine, expire_on_commit=False)
        self.store = Store(self.session)
        self.effects = Effects()
        self.deps = deps
        self._pending: list[DomainEvent] = []

    def now(self) -> datetime:
        return datetime.now(UTC)

    def apply(self, decision: Decision) -> Decision:
        """Take a lifecycle decision: its rows and event rows, its commands, its domain events."""
        self.store.apply(decision)
        self.effects.commands += decision.commands
        self.effects.wake = self.effects.wake or decision.wake
        self._pending += decision.happened
        return decision

    def settle(self, reactions: dict[type, list[Callable[[UnitOfWork, Any], None]]]) -> None:
        """Hand every domain event to its reactions (which may apply further decisions)."""
        while self._pending:
            event = self._pending.pop(0)
            for react in reactions.get(type(event), ()):
                react(self, event)

    def commit(self) -> None:
        written = self.store.flush()
        self.session.commit()
        self.effects.written = written

    def close(self) -> None:
        self.session.close()


Handler = Callable[[UnitOfWork, Any], Any]


@dataclass
class MessageBus:
    """Runs commands: one handler each, retried on stale rows, effects delivered after the commit."""

    engine: Engine
    outbox: Outbox
    handlers: dict[type, Handler]
    reactions: dict[type, list[Callable[[UnitOfWork, Any], None]]] = field(default_factory=dict)
    deps: Any = None

    def handle(self, command: Any) -> Any:
        """Carry out `command`; raise Conflict when its rows kept changing under it."""
        handler = self.handlers[type(command)]
        return self.run(lambda uow: handler(uow, command), type(command).__name__)

    def run(self, work: Callable[[UnitOfWork], Any], name: str = "unit of work") -> Any:
        """Run `work` in a unit of work: commit, run it again on fresh rows when someone else changed
        a row meanwhile, and deliver its effects once it committed."""
        for attempt in range(1, TRIES + 1):
            uow = UnitOfWork(self.engine, self.deps)
            try:
                result = work(uow)
                uow.settle(self.reactions)
                uow.commit()
            except Exception as exc:
                uow.session.rollback()
                if not _retryable(exc):
                    raise
                log.info("%s: rows changed meanwhile (%s), try %d of %d", name, exc, attempt, TRIES)
                continue
            finally:
                uow.close()
            self.outbox.deliver(uow.effects)
            return result
        raise Conflict(f"{name}: the rows it needs kept changing; try again")


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, StaleData | StaleDataError):
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None)
        return code in _RETRYABLE_CODES or "database is locked" in str(exc.orig)
    return False
