"""Reading the ledger: its events by build, design, fablab, person and time, a page at a time, and the
Valueflows export of a page (the API and the CLI both call `export`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from coordinator.ledger import valueflows
from coordinator.ledger.mapping import person
from coordinator.models.base import aware
from coordinator.models.ledger import LedgerEvent
from protocol.errors import InvalidInput

MAX_PAGE = 1000


@dataclass(frozen=True)
class LedgerQuery:
    """Which events: all filters given must hold; oldest first, `limit` from `offset`."""

    build: str | None = None
    design: str | None = None
    fablab: str | None = None
    person: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0

    def check(self) -> LedgerQuery:
        """The query itself, once its bounds make sense."""
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(f"limit {self.limit} is out of range: 1 to {MAX_PAGE}")
        if self.offset < 0:
            raise InvalidInput(f"offset {self.offset} is negative")
        if self.since is not None and self.until is not None and aware(self.since) > aware(self.until):
            raise InvalidInput(f"since ({self.since.isoformat()}) is after until ({self.until.isoformat()})")
        return self


def where(query: LedgerQuery) -> list[Any]:
    """The SQL conditions of the query's filters."""
    table = LedgerEvent
    clauses: list[Any] = []
    for column, value in ((table.build_id, query.build), (table.design, query.design),
                          (table.fablab, query.fablab)):  # fmt: skip
        if value is not None:
            clauses.append(col(column) == value)
    if query.person is not None:
        agent = person(query.person)
        clauses.append(or_(col(table.provider) == agent, col(table.receiver) == agent))
    if query.since is not None:
        clauses.append(col(table.at) >= aware(query.since))
    if query.until is not None:
        clauses.append(col(table.at) <= aware(query.until))
    return clauses


def events(session: Session, query: LedgerQuery) -> list[LedgerEvent]:
    """A page of the events the query names, oldest first."""
    page = select(LedgerEvent).where(*where(query.check())).order_by(col(LedgerEvent.at), col(LedgerEvent.id))
    return list(session.exec(page.offset(query.offset).limit(query.limit)))


def count(session: Session, query: LedgerQuery) -> int:
    """How many events the query names, over all pages."""
    return int(session.exec(select(func.count()).select_from(LedgerEvent).where(*where(query))).one())


def export(session: Session, query: LedgerQuery) -> dict[str, Any]:
    """A page of the ledger as Valueflows JSON-LD, with the page's place among all events."""
    rows = events(session, query)
    doc = valueflows.document(rows)
    doc.setdefault("@graph", [])
    doc.update(total=count(session, query), limit=query.limit, offset=query.offset)
    return doc


def export_all(session: Session, query: LedgerQuery) -> dict[str, Any]:
    """Every event the query names, as one document: `export` page after page."""
    page = replace(query, limit=MAX_PAGE, offset=0)
    doc = export(session, page)
    while page.offset + MAX_PAGE < doc["total"]:
        page = replace(page, offset=page.offset + MAX_PAGE)
        doc["@graph"] += export(session, page)["@graph"]
    doc.update(limit=len(doc["@graph"]), offset=0)
    return doc
