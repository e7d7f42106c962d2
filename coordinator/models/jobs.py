"""Fablabs, machines, agent links, jobs, their attempts and the event log of every transition."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from coordinator.jobs.lifecycle import AttemptState, JobState
from coordinator.models.base import created_at_field, json_field


def new_id() -> str:
    """A random 128-bit id as 32 hex digits (five times cheaper than uuid4().hex)."""
    return secrets.token_hex(16)


def _when(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class Fablab(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=63)
    name: str = Field(default="", max_length=200)
    created_at: datetime = created_at_field()


class Machine(SQLModel, table=True):
    fablab: str = Field(foreign_key="fablab.id", primary_key=True, max_length=63)
    machine_id: str = Field(primary_key=True, max_length=63)
    agent: str = Field(max_length=63, index=True)
    driver: str = Field(default="", max_length=64)
    capabilities: dict[str, Any] = json_field(dict)
    operator_confirm: bool = True
    status: str = Field(default="offline", max_length=32)
    last_seen: datetime | None = _when()


class AgentLink(SQLModel, table=True):
    """What the coordinator knows of one agent's connection and message sequence."""

    __tablename__ = "agent_link"

    fablab: str = Field(foreign_key="fablab.id", primary_key=True, max_length=63)
    agent: str = Field(primary_key=True, max_length=63)
    online: bool = False
    boot_seq: int = -1
    last_seq: int = -1
    birth_msg_id: str = Field(default="", max_length=64)
    software: str = Field(default="", max_length=200)
    last_seen: datetime | None = _when()


# optimistic locking: the dispatcher and the API both change jobs; a stale write fails loudly
_JOB_VERSION = Column("version", Integer, nullable=False, default=1)


class Job(SQLModel, table=True):
    # the queue in dispatch order (see services/dispatch.queued_jobs), read without sorting
    __table_args__ = (Index("ix_job_queue_order", "state", text("priority DESC"), "created_at", "id"),)
    __mapper_args__ = {"version_id_col": _JOB_VERSION}

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    group_id: str = Field(default_factory=new_id, max_length=32, index=True)
    state: str = Field(default=JobState.QUEUED, max_length=32)
    process: str = Field(max_length=32)
    material: str | None = Field(default=None, max_length=64)
    min_box_mm: list[float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    nozzle_mm: float | None = None
    file_sha256: str = Field(max_length=64)
    file_name: str = Field(max_length=255)
    file_size: int = 0
    design: str | None = Field(default=None, max_length=64)
    design_version: str | None = Field(default=None, max_length=64)
    part_id: str | None = Field(default=None, max_length=128)
    params: dict[str, Any] = json_field(dict)
    priority: int = 0
    submitted_by: str = Field(default="", max_length=128)
    created_at: datetime = created_at_field()
    attempts: int = 0
    max_attempts: int = 3
    attempt_id: str | None = Field(default=None, max_length=32)
    fablab: str | None = Field(default=None, max_length=63)
    machine_id: str | None = Field(default=None, max_length=63)
    progress: float = 0.0
    eta_s: float | None = None
    # what the machine's own preparation (slicer, CAM) expects, once it prepared the file
    estimate_s: float | None = None
    filament_mm: float | None = None
    filament_g: float | None = None
    estimate_source: str = Field(default="", max_length=200)
    reason: str = ""
    ended_at: datetime | None = _when()
    version: int = Field(default=1, sa_column=_JOB_VERSION)


class JobAttempt(SQLModel, table=True):
    __tablename__ = "job_attempt"
    __table_args__ = (Index("ix_job_attempt_state_lease", "state", "lease_expires_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    job_id: str = Field(foreign_key="job.id", max_length=32, index=True)
    fablab: str = Field(max_length=63)
    agent: str = Field(max_length=63)
    machine_id: str = Field(max_length=63)
    state: str = Field(default=AttemptState.OFFERED, max_length=32)
    lease_s: float = 60.0
    lease_expires_at: datetime = _when(nullable=False)
    created_at: datetime = created_at_field()
    ended_at: datetime | None = _when()
    reason: str = ""


class JobEvent(SQLModel, table=True):
    """One row per transition (written in the same transaction), plus ignored-message notes."""

    __tablename__ = "job_event"
    # One index serves both the uniqueness of a message per agent and the replay check by msg_id.
    __table_args__ = (UniqueConstraint("msg_id", "fablab", "agent", name="uq_job_event_msg_source"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="job.id", max_length=32, index=True)
    attempt_id: str | None = Field(default=None, max_length=32)
    type: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    payload: dict[str, Any] = json_field(dict)
    fablab: str | None = Field(default=None, max_length=63)
    agent: str | None = Field(default=None, max_length=63)
    msg_id: str | None = Field(default=None, max_length=64)
    at: datetime = created_at_field()
