"""Pydantic models of every MQTT payload (docs/protocol.md is the prose of this file)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from protocol import PROTOCOL_VERSION
from protocol.errors import InvalidInput
from protocol.topics import ID_PATTERN


class MachineStatus(StrEnum):
    """What a machine is doing, as its agent reports it (docs/jobs.md, States)."""

    IDLE = "idle"
    PREPARING = "preparing"  # an offer is being downloaded, checked or prepared (sliced, CAM)
    RUNNING = "running"  # making a part
    PAUSED = "paused"
    WAITING_OPERATOR = "waiting_operator"  # a person must act: clear the bed, load stock
    ERROR = "error"
    OFFLINE = "offline"


def _status(value: Any) -> Any:
    # agents of the first release said "busy" for a machine at work
    return MachineStatus.RUNNING if value == "busy" else value


Status = Annotated[MachineStatus, BeforeValidator(_status)]
Id = Annotated[str, Field(pattern=ID_PATTERN.pattern)]
MAX_REASON = 2000  # characters of a reason or a warning: a firmware message with its line
# what a machine said along a job that did not stop it (unknown commands...), at most 50 of them
Warnings = Annotated[tuple[Annotated[str, Field(max_length=MAX_REASON)], ...], Field(max_length=50)]


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return secrets.token_hex(16)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Envelope(_Model):
    schema_version: int = Field(PROTOCOL_VERSION, alias="schema")
    msg_id: str = Field(default_factory=_new_id, min_length=1, max_length=64)
    sent_at: datetime = Field(default_factory=_now)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != PROTOCOL_VERSION:
            raise ValueError(f"unsupported protocol schema {value}, expected {PROTOCOL_VERSION}")
        return value


class AgentEnvelope(Envelope):
    boot_seq: int = Field(0, ge=0)
    seq: int = Field(0, ge=0)


# ---- coordinator state -------------------------------------------------------------------------


class CoordinatorState(Envelope):
    online: bool
    started_at: datetime | None = None


# ---- agent birth -------------------------------------------------------------------------------


class LoadedSpool(_Model):
    """The spool of filament on a machine, as its agent's config describes it."""

    id: str = Field("", max_length=120)  # the lab's own name or number for it
    material: str = Field(min_length=1, max_length=64)
    colour: str = Field("", max_length=64)
    diameter_mm: float = Field(1.75, gt=0, le=10)
    vendor: str = Field("", max_length=120)
    initial_g: float | None = Field(None, gt=0, le=100_000)
    remaining_g: float | None = Field(None, ge=0, le=100_000)
    cost_per_kg: float | None = Field(None, ge=0, le=100_000)


class Capabilities(_Model):
    """What a machine can make, in Open Know-Where equipment terms."""

    process: str
    make: str = ""
    model: str = ""
    build_volume_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    nozzle_mm: float | None = None
    materials: tuple[str, ...] = ()
    max_hotend_c: float | None = None
    max_bed_c: float | None = None
    max_spindle_rpm: float | None = None
    speed_factor: float = Field(1.0, gt=0)
    tolerance_mm: float | None = None
    spool: LoadedSpool | None = None  # printers: what is loaded when the agent starts


class MachineJob(_Model):
    job_id: str
    attempt_id: str
    state: str
    progress: float = Field(0.0, ge=0, le=1)


class MachineInfo(_Model):
    id: Id
    driver: str
    status: Status
    capabilities: Capabilities
    job: MachineJob | None = None
    operator_confirm: bool = True


class AgentState(AgentEnvelope):
    fablab: Id
    agent: Id
    online: bool
    software: str = ""
    machines: tuple[MachineInfo, ...] = ()


# ---- commands (coordinator -> agent) -----------------------------------------------------------


class FileRef(_Model):
    url: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    name: str


class JobOffer(Envelope):
    type: Literal["job:offer"] = "job:offer"
    job_id: str
    attempt_id: str
    machine_id: Id
    lease_s: float = Field(gt=0)
    file: FileRef | None = None
    estimated_s: float | None = None
    requirements: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


class JobControl(Envelope):
    type: Literal["job:cancel", "job:pause", "job:resume"]
    job_id: str
    attempt_id: str
    reason: str = Field("", max_length=MAX_REASON)


class JobPrepared(Envelope):
    """An operator prepared the machine file of a job that needed it: run this file."""

    type: Literal["job:prepared"] = "job:prepared"
    job_id: str
    attempt_id: str
    file: FileRef
    reason: str = Field("", max_length=MAX_REASON)


class ConfirmClear(Envelope):
    type: Literal["machine:confirm_clear"] = "machine:confirm_clear"
    machine_id: Id


class Reannounce(Envelope):
    type: Literal["agent:reannounce"] = "agent:reannounce"
    reason: str = Field("", max_length=MAX_REASON)


Command = Annotated[
    JobOffer | JobControl | JobPrepared | ConfirmClear | Reannounce, Field(discriminator="type")
]


# ---- events (agent -> coordinator) -------------------------------------------------------------


class JobReport(AgentEnvelope):
    """Base of every event an agent sends about one attempt of a job."""

    job_id: str
    attempt_id: str
    machine_id: Id


class Estimates(_Model):
    """What the machine's own preparation (slicer, CAM) expects the job to take."""

    duration_s: float | None = Field(None, ge=0)
    filament_mm: float | None = Field(None, ge=0)
    filament_g: float | None = Field(None, ge=0)
    source: str = Field("", max_length=200)  # the tool that made the estimate, e.g. "PrusaSlicer 2.5.0"


class JobAccepted(JobReport):
    type: Literal["job:accepted"] = "job:accepted"
    eta_s: float | None = None
    estimates: Estimates | None = None


class JobRejected(JobReport):
    type: Literal["job:rejected"] = "job:rejected"
    reason: str = Field(max_length=MAX_REASON)


class JobProgress(JobReport):
    type: Literal["job:progress"] = "job:progress"
    progress: float = Field(ge=0, le=1)
    eta_s: float | None = None


class JobNeedsPreparation(JobReport):
    """The machine cannot prepare the file itself (PCB files, a machine set to operator preparation)."""

    type: Literal["job:needs_preparation"] = "job:needs_preparation"
    reason: str = Field(max_length=MAX_REASON)


class JobPaused(JobReport):
    type: Literal["job:paused"] = "job:paused"
    reason: str = Field("", max_length=MAX_REASON)


class JobResumed(JobReport):
    type: Literal["job:resumed"] = "job:resumed"


class JobWaitingOperator(JobReport):
    type: Literal["job:waiting_operator"] = "job:waiting_operator"
    reason: str = Field(max_length=MAX_REASON)


class JobDone(JobReport):
    type: Literal["job:done"] = "job:done"
    duration_s: float | None = None
    filament_used_g: float | None = Field(None, ge=0)  # what the host measured, when it does
    warnings: Warnings = ()


class JobFailed(JobReport):
    type: Literal["job:failed"] = "job:failed"
    reason: str = Field(max_length=MAX_REASON)
    warnings: Warnings = ()


class JobCancelled(JobReport):
    type: Literal["job:cancelled"] = "job:cancelled"


class MachineStatusEvent(AgentEnvelope):
    type: Literal["machine:status"] = "machine:status"
    machine_id: Id
    status: Status
    detail: str = Field("", max_length=MAX_REASON)


class HeartbeatJob(_Model):
    job_id: str
    attempt_id: str
    progress: float = Field(0.0, ge=0, le=1)


class Heartbeat(AgentEnvelope):
    type: Literal["agent:heartbeat"] = "agent:heartbeat"
    jobs: tuple[HeartbeatJob, ...] = ()


AgentEvent = Annotated[
    JobAccepted
    | JobRejected
    | JobProgress
    | JobNeedsPreparation
    | JobPaused
    | JobResumed
    | JobWaitingOperator
    | JobDone
    | JobFailed
    | JobCancelled
    | MachineStatusEvent
    | Heartbeat,
    Field(discriminator="type"),
]

_COMMANDS: TypeAdapter[Any] = TypeAdapter(Command)
_EVENTS: TypeAdapter[Any] = TypeAdapter(AgentEvent)


def encode(message: BaseModel) -> bytes:
    """Serialise a payload to the JSON that goes on the wire."""
    return message.model_dump_json(by_alias=True, exclude_none=False).encode()


def decode_command(raw: bytes | str) -> JobOffer | JobControl | JobPrepared | ConfirmClear | Reannounce:
    return _decode(_COMMANDS, raw, "command")  # type: ignore[no-any-return]


def decode_event(raw: bytes | str) -> Any:
    """Parse an agent event; raise InvalidInput naming the bad field."""
    return _decode(_EVENTS, raw, "event")


def decode_agent_state(raw: bytes | str) -> AgentState:
    return _decode(TypeAdapter(AgentState), raw, "agent state")  # type: ignore[no-any-return]


def decode_coordinator_state(raw: bytes | str) -> CoordinatorState:
    return _decode(TypeAdapter(CoordinatorState), raw, "coordinator state")  # type: ignore[no-any-return]


def _decode(adapter: TypeAdapter[Any], raw: bytes | str, what: str) -> Any:
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(payload)'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInput(f"malformed {what}: {problems}") from exc
