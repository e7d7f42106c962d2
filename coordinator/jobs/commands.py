"""What a door can ask of the job domain: one command class per action (docs/jobs.md).

An API route, a dashboard form, the MQTT dispatcher and its ticker build one of these and call
`MessageBus.handle`; the handler that carries it out is in `handlers.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from coordinator.jobs.submission import JobSpec
from coordinator.models.auth import Role
from coordinator.services.auth import Actor

# who acts on behalf of the coordinator itself (its housekeeping, its command line, tests)
COORDINATOR = Actor(name="coordinator", role=Role.ADMIN)


@dataclass(frozen=True)
class SubmitJobs:
    spec: JobSpec
    quantity: int
    by: Actor


@dataclass(frozen=True)
class CancelJob:
    job_id: str
    by: Actor


@dataclass(frozen=True)
class PauseJob:
    job_id: str
    by: Actor


@dataclass(frozen=True)
class ResumeJob:
    job_id: str
    by: Actor


@dataclass(frozen=True)
class FailJob:
    job_id: str
    reason: str
    by: Actor


@dataclass(frozen=True)
class ConfirmClear:
    fablab: str
    machine_id: str
    by: Actor


@dataclass(frozen=True)
class AgentMessage:
    """One decoded agent message and where it came from (the topic's ids)."""

    fablab: str
    agent: str
    channel: str
    message: Any


@dataclass(frozen=True)
class AgentMessages:
    """A burst of agent messages, applied in arrival order in one unit of work."""

    messages: tuple[AgentMessage, ...]


@dataclass(frozen=True)
class Housekeeping:
    """Once a tick: expire leases (only while the coordinator hears the agents), follow the plan."""

    expire_leases: bool = True


@dataclass(frozen=True)
class RestartLeases:
    """The coordinator hears the agents again: every live lease runs in full from now."""


@dataclass(frozen=True)
class DispatchRound:
    """Offer queued jobs to idle machines."""


@dataclass(frozen=True)
class StartBuild:
    design: str
    version: str
    units: int
    site: str
    priority: int
    due_at: datetime | None
    by: Actor


@dataclass(frozen=True)
class CancelBuild:
    build_id: str
    by: Actor


@dataclass(frozen=True)
class RetryTask:
    """The builder's "make it again" for a part whose job failed for good."""

    build_id: str
    task_id: str
    by: Actor


@dataclass(frozen=True)
class ReceivePurchases:
    build_id: str
    part_ids: tuple[str, ...] | None
    by: Actor


@dataclass(frozen=True)
class SupplyMachineFile:
    """An operator prepared the machine file of a job that needs preparation: `upload` is the file as
    received (a temporary file of the door's), stored only once every check passed."""

    job_id: str
    upload: Path
    file_name: str
    by: Actor


@dataclass(frozen=True)
class OrderPurchases:
    """The builder ordered purchased parts (all when none is named), now or at `ordered_at`."""

    build_id: str
    part_ids: tuple[str, ...] | None
    by: Actor
    ordered_at: datetime | None = None


@dataclass(frozen=True)
class SaveSpool:
    """Add a spool to a fablab's inventory (no id) or change one; `machine_id` in changes loads it."""

    fablab: str
    spool_id: int | None
    changes: dict[str, Any]
    by: Actor


@dataclass(frozen=True)
class SaveMaintenanceTask:
    """Add a maintenance task to a machine (no id), or sign one off as done (`sign_off`)."""

    fablab: str
    machine_id: str
    task_id: int | None
    fields: dict[str, Any]
    by: Actor
    sign_off: bool = False


Command = (
    SubmitJobs
    | CancelJob
    | PauseJob
    | ResumeJob
    | FailJob
    | ConfirmClear
    | AgentMessages
    | Housekeeping
    | RestartLeases
    | DispatchRound
    | StartBuild
    | CancelBuild
    | RetryTask
    | ReceivePurchases
    | SupplyMachineFile
    | OrderPurchases
    | SaveSpool
    | SaveMaintenanceTask
)
