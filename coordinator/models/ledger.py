"""The commons ledger: an append-only log of economic events (Valueflows' shape), one row each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from coordinator.models.base import created_at_field


def _when(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class LedgerEvent(SQLModel, table=True):
    """Who gave what to whom, when: written with the event it records, never changed afterwards.

    `key` names the source event and what of it this row records ("attempt:ID:use"), so each is
    written exactly once however often its source is replayed; a job's part is keyed by the job
    ("job:ID:produce"), so it is produced once however many attempts it took.
    """

    __tablename__ = "ledger_event"
    __table_args__ = (
        UniqueConstraint("key", name="uq_ledger_event_key"),
        Index("ix_ledger_event_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300)
    source_kind: str = Field(max_length=16)  # attempt, publish, purchase
    source_id: str = Field(max_length=130)
    action: str = Field(max_length=16)  # produce, consume, use, work, transfer, cite
    provider: str = Field(max_length=200)  # "person:alice", "fablab:fablab-berlin"
    receiver: str = Field(max_length=200)
    resource_kind: str = Field(max_length=16)  # part, material, machine, design, purchase
    resource: str = Field(max_length=300)
    quantity: float
    unit: str = Field(max_length=8)  # each, g, hour
    at: datetime = _when(nullable=False)
    begin: datetime | None = _when()
    end: datetime | None = _when()
    build_id: str | None = Field(default=None, max_length=32, index=True)
    job_id: str | None = Field(default=None, max_length=32, index=True)
    design: str | None = Field(default=None, max_length=64, index=True)
    design_version: str | None = Field(default=None, max_length=64)
    fablab: str | None = Field(default=None, max_length=63, index=True)
    machine_id: str | None = Field(default=None, max_length=63)
    spool_id: int | None = None
    note: str = Field(default="", max_length=500)
    created_at: datetime = created_at_field()
