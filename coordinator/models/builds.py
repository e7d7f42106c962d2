"""Builds of a design version, their tasks (one per job), purchases, plans and fablab profiles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from coordinator.models.base import created_at_field, json_field
from coordinator.models.jobs import new_id


def _when() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class BuildState(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # a part no machine in the network can make
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskKind(StrEnum):
    FAB = "fab"
    ASSEMBLY = "assembly"


class PurchaseState(StrEnum):
    TO_ORDER = "to_order"
    ORDERED = "ordered"
    RECEIVED = "received"


class FablabProfile(SQLModel, table=True):
    """Where a fablab is, when it is staffed, and which builds it takes work from."""

    __tablename__ = "fablab_profile"

    fablab: str = Field(primary_key=True, max_length=63)
    name: str = Field(default="", max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    # weekday (mon..sun) -> ["09:00-18:00", ...]; empty means always staffed
    opening_hours: dict[str, Any] = json_field(dict)
    timezone_offset_min: int = 0
    accepts: str = Field(default="all", max_length=16)  # "all", or "none": takes no build work
    description: str = ""
    # number, street, district, city, region, country, postcode (the fields of an OKW address)
    address: dict[str, Any] = json_field(dict)
    # email, website, landline, mobile
    contact: dict[str, Any] = json_field(dict)
    # Machines the lab declares (read from Open Know-Where): id, process, make, model, quantity,
    # materials, build_volume_mm, nozzle_mm. Machines its agents announce are listed as well.
    equipment: list[dict[str, Any]] = json_field(list)
    # what an hour of a machine costs here (the ledger's cost of a job), in `currency`; None: not set
    hourly_rate: float | None = None
    currency: str = Field(default="EUR", max_length=3)


class Build(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    design: str = Field(max_length=64, index=True)
    design_version: str = Field(max_length=64)
    units: int
    site: str = Field(max_length=63)  # fablab id of the build site
    priority: int = 0
    due_at: datetime | None = _when()
    state: str = Field(default=BuildState.ACTIVE, max_length=16)
    reason: str = ""
    started_by: str = Field(default="", max_length=128)
    created_at: datetime = created_at_field()
    ended_at: datetime | None = _when()
    lower_bound_min: int | None = None
    planned_finish_at: datetime | None = _when()


class BuildTask(SQLModel, table=True):
    __tablename__ = "build_task"
    __table_args__ = (UniqueConstraint("build_id", "task_id"),)

    id: int | None = Field(default=None, primary_key=True)
    build_id: str = Field(foreign_key="build.id", max_length=32, index=True)
    task_id: str = Field(max_length=200)  # "fab:bracket:1", "asm:frame:2"
    kind: str = Field(max_length=16)
    part_id: str = Field(max_length=128)
    copies: int = 1
    minutes: float = 0.0  # estimate at speed factor 1
    depends_on: list[str] = json_field(list)  # task ids of this build
    needs_purchases: list[str] = json_field(list)  # purchased part ids that must be received
    job_id: str | None = Field(default=None, foreign_key="job.id", max_length=32, index=True)
    planned_machine: str | None = Field(default=None, max_length=130)  # "fablab/machine"
    planned_start: datetime | None = _when()
    planned_end: datetime | None = _when()
    planned_source: str = Field(default="", max_length=32)  # the figure its duration came from
    actual_start: datetime | None = _when()
    actual_end: datetime | None = _when()


class PurchaseItem(SQLModel, table=True):
    __tablename__ = "purchase_item"
    __table_args__ = (UniqueConstraint("build_id", "part_id"),)

    id: int | None = Field(default=None, primary_key=True)
    build_id: str = Field(foreign_key="build.id", max_length=32, index=True)
    part_id: str = Field(max_length=128)
    name: str = Field(max_length=200)
    quantity: float
    unit: str = Field(default="pcs", max_length=16)
    supplier: str = ""
    mpn: str = ""
    manufacturer: str = ""
    unit_cost: float | None = None
    currency: str = Field(default="EUR", max_length=3)
    lead_time_days: float | None = None
    url: str = ""
    state: str = Field(default=PurchaseState.TO_ORDER, max_length=16)
    ordered_at: datetime | None = _when()
    received_at: datetime | None = _when()


class Plan(SQLModel, table=True):
    """One planning result over every active build; the newest is the one dispatch follows."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = created_at_field()
    origin_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    reason: str = Field(default="", max_length=200)
    policy: str = Field(default="", max_length=16)
    status: str = Field(default="", max_length=16)
    makespan_min: int = 0
    lower_bound_min: int = 0
    gap: float = 0.0
    tasks: int = 0
    changed_modes: int = 0
