"""The vocabulary of the job domain: snapshots of rows, event rows, commands out, domain events, decisions.

Plain frozen dataclasses: the lifecycle takes snapshots and returns a `Decision`; the store loads and
writes them. Nothing here knows where a row came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

# ---- snapshots ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobSnap:
    """The columns of a job the lifecycle reads and changes."""

    id: str
    state: str
    attempts: int
    max_attempts: int
    attempt_id: str | None
    fablab: str | None
    machine_id: str | None
    progress: float
    eta_s: float | None
    reason: str
    ended_at: datetime | None
    version: int
    estimate_s: float | None = None  # the machine's own estimate (its slicer's), once it prepared the file
    filament_mm: float | None = None
    filament_g: float | None = None
    estimate_source: str = ""


@dataclass(frozen=True, slots=True)
class AttemptSnap:
    id: str
    job_id: str
    fablab: str
    agent: str
    machine_id: str
    state: str
    lease_s: float
    lease_expires_at: datetime
    created_at: datetime
    ended_at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class MachineSnap:
    fablab: str
    machine_id: str
    agent: str
    status: str
    operator_confirm: bool
    last_seen: datetime | None
    process: str


@dataclass(frozen=True, slots=True)
class LinkSnap:
    fablab: str
    agent: str
    online: bool
    boot_seq: int
    last_seq: int
    birth_msg_id: str
    software: str
    last_seen: datetime | None


Row = JobSnap | AttemptSnap | MachineSnap | LinkSnap


@dataclass(frozen=True)
class Source:
    """Where a message came from, for the event row and duplicate detection."""

    fablab: str | None = None
    agent: str | None = None
    msg_id: str | None = None


COORDINATOR = Source()


@dataclass(frozen=True)
class EventRow:
    """One `job_event` row: a transition, or a request logged with its job."""

    job_id: str
    type: str
    from_state: str | None
    to_state: str | None
    attempt_id: str | None
    payload: dict[str, Any]
    source: Source
    at: datetime


@dataclass(frozen=True)
class Outgoing:
    """A command for one agent, sent once the unit of work has committed."""

    fablab: str
    agent: str
    command: BaseModel


@dataclass(frozen=True)
class JobStarted:
    """A machine started on the job (it reached accepted or running the first time)."""

    job_id: str
    at: datetime


@dataclass(frozen=True)
class JobEnded:
    """The job reached a final state (done, failed or cancelled), exactly once; a requeue is no ending."""

    job_id: str
    state: str
    reason: str
    trigger: str
    at: datetime


DomainEvent = JobStarted | JobEnded


@dataclass
class Decision:
    """What a step of the lifecycle changed and asks for; empty when it refused."""

    rows: list[Row] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    commands: list[Outgoing] = field(default_factory=list)
    happened: list[DomainEvent] = field(default_factory=list)
    wake: bool = False  # a dispatch round is wanted (a job queued, a machine freed)
    outcome: str = "applied"

    def add(self, other: Decision) -> Decision:
        """This decision followed by `other` (rows later in the list win)."""
        self.rows += other.rows
        self.events += other.events
        self.commands += other.commands
        self.happened += other.happened
        self.wake = self.wake or other.wake
        return self


def refused(outcome: str = "refused") -> Decision:
    return Decision(outcome=outcome)
