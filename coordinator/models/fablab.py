"""Tables of the fablab's own bookkeeping: spools, runs of jobs, counters, maintenance, notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from coordinator.models.base import created_at_field, json_field


def _when(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class Spool(SQLModel, table=True):
    """A spool of filament in a fablab's inventory, and the machine it is loaded on (if any)."""

    id: int | None = Field(default=None, primary_key=True)
    fablab: str = Field(max_length=63, index=True)
    material: str = Field(max_length=64)
    colour: str = Field(default="", max_length=64)
    diameter_mm: float = 1.75
    vendor: str = Field(default="", max_length=120)
    name: str = Field(default="", max_length=120)
    initial_g: float = 1000.0
    remaining_g: float = 1000.0
    cost_per_kg: float | None = None
    currency: str = Field(default="EUR", max_length=3)
    machine_id: str | None = Field(default=None, max_length=63)  # where it is loaded
    # the agent's id for it (its config), or the Spoolman spool id when the fablab uses Spoolman
    external_id: str = Field(default="", max_length=120)
    unsynced_g: float = 0.0  # used here and not told to Spoolman yet
    archived: bool = False
    created_at: datetime = created_at_field()
    loaded_at: datetime | None = _when()


class SpoolSource(SQLModel, table=True):
    """Where a fablab keeps its spools: peerfab's own inventory, or a Spoolman server."""

    __tablename__ = "spool_source"

    fablab: str = Field(primary_key=True, max_length=63)
    kind: str = Field(default="peerfab", max_length=16)  # "peerfab" or "spoolman"
    url: str = Field(default="", max_length=500)


class JobRun(SQLModel, table=True):
    """One attempt of a job on a machine, from its start to its end: the history statistics read."""

    __tablename__ = "job_run"
    __table_args__ = (
        UniqueConstraint("attempt_id"),
        Index("ix_job_run_machine", "fablab", "machine_id", "ended_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=32, index=True)
    attempt_id: str = Field(max_length=32)
    fablab: str = Field(max_length=63)
    machine_id: str = Field(max_length=63)
    process: str = Field(default="", max_length=32)
    design: str | None = Field(default=None, max_length=64, index=True)
    part_id: str | None = Field(default=None, max_length=128)
    build_id: str | None = Field(default=None, max_length=32)
    state: str = Field(default="running", max_length=32)  # running, done, failed, cancelled, retried
    started_at: datetime = _when(nullable=False)
    ended_at: datetime | None = _when()
    planned_s: float | None = None  # the coordinator's estimate at this machine's speed
    estimate_s: float | None = None  # the machine's own (its slicer's)
    spool_id: int | None = Field(default=None)
    filament_estimate_g: float | None = None
    filament_used_g: float | None = None
    filament_source: str = Field(default="", max_length=64)  # where the used figure came from
    cost: float | None = None
    currency: str = Field(default="EUR", max_length=3)


class MachineCounter(SQLModel, table=True):
    """What a machine has done since peerfab knows it: the base of maintenance intervals."""

    __tablename__ = "machine_counter"

    fablab: str = Field(primary_key=True, max_length=63)
    machine_id: str = Field(primary_key=True, max_length=63)
    print_s: float = 0.0
    filament_g: float = 0.0
    jobs: int = 0


class MaintenanceTask(SQLModel, table=True):
    """A recurring task on a machine (a nozzle change every 500 h); overdue, it holds the machine."""

    __tablename__ = "maintenance_task"

    id: int | None = Field(default=None, primary_key=True)
    fablab: str = Field(max_length=63, index=True)
    machine_id: str = Field(max_length=63)
    name: str = Field(max_length=120)
    every_hours: float | None = None
    every_kg: float | None = None
    every_jobs: int | None = None
    every_days: float | None = None
    # the machine's counters when the task was last done
    done_print_s: float = 0.0
    done_filament_g: float = 0.0
    done_jobs: int = 0
    done_at: datetime = _when(nullable=False)
    done_by: str = Field(default="", max_length=128)
    note: str = ""
    created_at: datetime = created_at_field()


class Subscription(SQLModel, table=True):
    """Someone wants to hear of some kinds of events (of one fablab, or of all), on one channel."""

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=128, index=True)  # the token name (a person)
    fablab: str = Field(default="", max_length=63)  # "" = every fablab the owner may see
    kinds: list[str] = json_field(list)
    channel: str = Field(max_length=16)  # "webhook" or "apprise"
    url: str = Field(max_length=1000)
    secret: str = Field(default="", max_length=200)  # signs webhook bodies (HMAC-SHA256)
    enabled: bool = True
    created_at: datetime = created_at_field()


class Notice(SQLModel, table=True):
    """Something people may want to hear of; written once (its `key` is unique), delivered later."""

    __table_args__ = (UniqueConstraint("key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    key: str = Field(max_length=200)
    fablab: str = Field(default="", max_length=63)
    title: str = Field(max_length=300)
    body: str = ""
    link: str = Field(default="", max_length=500)
    subject: dict[str, Any] = json_field(dict)
    only_subscription: int | None = None  # a test notification goes to one subscription only
    fanned_out: bool = Field(default=False, index=True)
    created_at: datetime = created_at_field()


class Delivery(SQLModel, table=True):
    """One notice to one subscription: its tries, its outcome (the delivery log)."""

    __table_args__ = (
        UniqueConstraint("notice_id", "subscription_id"),
        Index("ix_delivery_due", "state", "next_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id")
    subscription_id: int = Field(foreign_key="subscription.id", index=True)
    state: str = Field(default="pending", max_length=16)  # pending, sent, failed
    tries: int = 0
    next_at: datetime = _when(nullable=False)
    last_error: str = ""
    status_code: int | None = None
    sent_at: datetime | None = _when()
    created_at: datetime = created_at_field()
