"""Maintenance: what each machine has done, its tasks, and signing a task off."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from coordinator.api.auth import auth, current_actor, roles
from coordinator.api.fablab_schemas import MaintenanceOut, MaintenanceTaskOut
from coordinator.api.schemas import errors
from coordinator.db import session_scope
from coordinator.fablab import maintenance
from coordinator.jobs.commands import SaveMaintenanceTask
from coordinator.models.auth import Role
from coordinator.models.fablab import MachineCounter
from coordinator.runtime import runtime
from coordinator.services.network import require_known_fablab
from protocol.topics import validate_id

bp = APIBlueprint("maintenance", __name__, tag="Maintenance")


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120, description="e.g. nozzle change")
    every_hours: float | None = Field(None, gt=0, le=1_000_000, description="of printing")
    every_kg: float | None = Field(None, gt=0, le=100_000, description="of filament used")
    every_jobs: int | None = Field(None, gt=0, le=1_000_000)
    every_days: float | None = Field(None, gt=0, le=36_500)


class SignOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=500)


@bp.get("/maintenance")
@bp.output(MaintenanceOut)
@bp.doc(responses=errors(401))
def overview() -> dict[str, Any]:
    """Every maintenance task (due ones hold their machine) and every machine's counters."""
    return _overview(None)


@bp.get("/fablabs/<fablab>/maintenance")
@bp.output(MaintenanceOut)
@bp.doc(responses=errors(401, _400="not a fablab id", _404="no such fablab"))
def fablab_overview(fablab: str) -> dict[str, Any]:
    """A fablab's maintenance tasks and its machines' counters."""
    return _overview(fablab)


def _overview(fablab: str | None) -> dict[str, Any]:
    with session_scope(runtime().engine) as session:
        if fablab is not None:
            require_known_fablab(session, fablab)
        tasks = [maintenance.task_row(t) for t in maintenance.task_states(session, fablab)]
        query = select(MachineCounter)
        if fablab is not None:
            query = query.where(MachineCounter.fablab == fablab)
        counters = [maintenance.counter_row(c) for c in session.exec(query)]
        return {"tasks": tasks, "counters": counters,
                "held": {f"{lab}/{mid}": why for (lab, mid), why in maintenance.held_machines(session).items()
                         if fablab is None or lab == fablab}}  # fmt: skip


@bp.post("/fablabs/<fablab>/machines/<machine_id>/maintenance")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(TaskIn, location="json")
@bp.output(MaintenanceTaskOut, status_code=201, description="added")
@bp.doc(responses=errors(400, 401, 413, 422, _403="not an operator of this fablab", _404="no such machine"))
def add(fablab: str, machine_id: str, json_data: TaskIn) -> tuple[dict[str, Any], int]:
    """Add a recurring task to a machine, counted from now (operator of its fablab)."""
    validate_id(machine_id, "machine id")
    command = SaveMaintenanceTask(fablab, machine_id, None, json_data.model_dump(), current_actor())
    return runtime().bus.handle(command), 201


@bp.post("/fablabs/<fablab>/maintenance/<int:maintenance_id>/sign-off")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(SignOffIn, location="json")
@bp.output(MaintenanceTaskOut, description="signed off")
@bp.doc(responses=errors(400, 401, 413, 422, _403="not an operator of this fablab", _404="no such task"))
def sign_off(fablab: str, maintenance_id: int, json_data: SignOffIn) -> dict[str, Any]:
    """The task is done: its intervals start again, and the machine takes work once nothing is due."""
    command = SaveMaintenanceTask(
        fablab, "", maintenance_id, {"note": json_data.note}, current_actor(), sign_off=True
    )
    return dict(runtime().bus.handle(command))
