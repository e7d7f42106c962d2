"""Response bodies of a fablab's own resources: spools, maintenance, notifications and statistics.

Each model is the exact shape of the row its service writes (`spools.spool_row`, `maintenance.task_row`,
`subscriptions.delivery_row`, `statistics.run_row`...); `Out` refuses any key a model does not name, so a
row and its model cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from coordinator.api.schemas import Out, Timestamp

# ---- spools --------------------------------------------------------------------------------------


class SpoolOut(Out):
    """A spool of the fablab's inventory."""

    id: int
    fablab: str
    material: str
    colour: str
    diameter_mm: float
    vendor: str
    name: str
    initial_g: float
    remaining_g: float
    remaining_share: float = Field(description="remaining over initial, 0 to 1")
    low: bool = Field(description="little filament left")
    cost_per_kg: float | None
    currency: str
    value: float | None = Field(description="what the filament left is worth, in currency")
    machine_id: str | None = Field(description="the machine it is loaded on")
    external_id: str = Field(description="the agent's name for it, or the Spoolman spool id")
    archived: bool


class ReportedSpoolOut(Out):
    """A spool an agent reports loaded that the inventory does not hold yet."""

    id: None
    fablab: str
    material: str
    colour: str
    diameter_mm: float
    vendor: str
    name: str = Field(description="the agent's name for it")
    initial_g: float | None
    remaining_g: float | None
    machine_id: str
    reported_by_agent: Literal[True]


class SpoolListOut(Out):
    spools: list[SpoolOut]
    reported: list[ReportedSpoolOut]
    loaded: dict[str, str] = Field(description="fablab/machine: the label of the spool loaded on it")


class SpoolSourceOut(Out):
    fablab: str
    kind: Literal["peerfab", "spoolman"]
    url: str
    spools: int | None = Field(None, description="spools read from Spoolman, when just chosen")


class SyncedOut(Out):
    fablab: str
    spools: int = Field(description="spools read from Spoolman")


# ---- maintenance ---------------------------------------------------------------------------------


class MaintenanceTaskOut(Out):
    id: int
    fablab: str
    machine_id: str
    name: str
    every_hours: float | None
    every_kg: float | None
    every_jobs: int | None
    every_days: float | None
    done_at: Timestamp
    done_by: str
    note: str
    share: float = Field(description="how far to due, 0 to 1 (1 or more: due)")
    progress: str = Field(description="the interval nearest to due, in words")
    due: bool = Field(description="a due task holds its machine")


class CounterOut(Out):
    fablab: str
    machine_id: str
    print_hours: float
    filament_kg: float
    jobs: int


class MaintenanceOut(Out):
    tasks: list[MaintenanceTaskOut]
    counters: list[CounterOut]
    held: dict[str, str] = Field(description="fablab/machine: why maintenance holds it")


# ---- notifications -------------------------------------------------------------------------------


class KindsOut(Out):
    kinds: dict[str, str] = Field(description="kind: what it tells")


class SubscriptionOut(Out):
    id: int
    owner: str
    fablab: str
    kinds: list[str]
    channel: Literal["webhook", "apprise"]
    url: str = Field(description="an apprise URL is shown without what may hold passwords")
    enabled: bool
    created_at: Timestamp
    secret: str | None = Field(None, description="the webhook's HMAC key, shown when subscribing only")


class SubscriptionListOut(Out):
    subscriptions: list[SubscriptionOut]


class UnsubscribedOut(Out):
    deleted: int


class QueuedOut(Out):
    queued: int = Field(description="the subscription a test notice was queued for")


class DeliveryOut(Out):
    id: int
    subscription: int
    kind: str
    title: str
    state: Literal["pending", "sent", "failed"]
    tries: int
    status_code: int | None
    last_error: str
    next_at: Timestamp
    sent_at: Timestamp | None
    created_at: Timestamp


class DeliveryListOut(Out):
    deliveries: list[DeliveryOut]


# ---- statistics ----------------------------------------------------------------------------------


class FiguresOut(Out):
    key: str = Field(description="fablab/machine, fablab or design; 'all' for the total")
    runs: int
    done: int
    failed: int
    cancelled: int
    success_rate: float | None = Field(description="done over done and failed")
    hours: float
    filament_g: float
    cost: dict[str, float] = Field(description="per currency")
    estimate_ratio: float | None = Field(description="median of actual time over the coordinator's estimate")
    slicer_ratio: float | None = Field(description="median of actual time over the machine's own estimate")
    estimated_runs: int


class TotalOut(FiguresOut):
    """The figures over every run of the query (its own model: a pydantic schema that refers twice to one
    model under a serialization override fails to build, and APIFlask would then document a bare object)."""


class StatisticsOut(Out):
    by: Literal["machine", "fablab", "design"]
    groups: list[FiguresOut]
    total: TotalOut


class SpeedOut(Out):
    machine: str = Field(description="fablab/machine")
    declared: float = Field(description="the speed factor its agent announces")
    measured: float = Field(description="the declared factor times estimated over actual time")
    runs: int


class SpeedFactorsOut(Out):
    machines: list[SpeedOut]


class RunOut(Out):
    job: str
    attempt: str
    machine: str = Field(description="fablab/machine")
    design: str | None
    part: str | None
    build: str | None
    state: Literal["running", "done", "failed", "cancelled", "retried"]
    started_at: Timestamp
    ended_at: Timestamp | None
    duration_s: float | None
    planned_s: float | None
    estimate_s: float | None
    spool: int | None
    filament_estimate_g: float | None
    filament_used_g: float | None
    filament_source: str
    cost: float | None
    currency: str


class RunListOut(Out):
    runs: list[RunOut]


class OrderedOut(Out):
    ordered: int = Field(description="purchase lines marked ordered")
