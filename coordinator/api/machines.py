"""Machines and fablabs as their agents announce them; the operator's confirm-clear."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, Field

from coordinator.api.auth import auth, current_actor, roles
from coordinator.api.schemas import ConfirmedOut, FablabPageOut, MachinePageOut, errors
from coordinator.db import session_scope
from coordinator.jobs import queries
from coordinator.jobs.commands import ConfirmClear
from coordinator.models.auth import Role
from coordinator.models.base import aware
from coordinator.models.jobs import Machine
from coordinator.runtime import runtime

bp = APIBlueprint("machines", __name__, tag="Machines")
MAX_PAGE = 500


class PageQuery(BaseModel):
    limit: int = Field(100, ge=1, le=MAX_PAGE, description="how many per page")
    offset: int = Field(0, ge=0, le=queries.MAX_OFFSET, description="how many to skip (ordered by id)")


def machine_dict(machine: Machine) -> dict[str, Any]:
    return {
        "fablab": machine.fablab,
        "agent": machine.agent,
        "id": machine.machine_id,
        "driver": machine.driver,
        "status": machine.status,
        "capabilities": machine.capabilities,
        "operator_confirm": machine.operator_confirm,
        "last_seen": aware(machine.last_seen).isoformat() if machine.last_seen else None,
    }


@bp.get("/machines")
@bp.input(PageQuery, location="query")
@bp.output(MachinePageOut)
@bp.doc(responses=errors(401, 422))
def list_machines(query_data: PageQuery) -> dict[str, Any]:
    """The machines the agents have announced, with their last known status (?limit=&offset=)."""
    page = query_data.model_dump()
    with session_scope(runtime().engine) as session:
        found = [machine_dict(m) for m in queries.list_machines(session, **page)]
        return {"machines": found, "total": queries.count_machines(session), **page}


@bp.get("/fablabs")
@bp.input(PageQuery, location="query")
@bp.output(FablabPageOut)
@bp.doc(responses=errors(401, 422))
def list_fablabs(query_data: PageQuery) -> dict[str, Any]:
    """Fablabs with their agents (online or not) and machine counts (?limit=&offset=)."""
    page = query_data.model_dump()
    with session_scope(runtime().engine) as session:
        found = queries.list_fablabs(session, **page)
        return {"fablabs": found, "total": queries.count_fablabs(session), **page}


@bp.post("/machines/<fablab>/<machine_id>/confirm-clear")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.output(ConfirmedOut, status_code=202, description="sent to the agent")
@bp.doc(
    responses=errors(
        401,
        _400="not a fablab or machine id",
        _403="not your fablab",
        _404="no such machine",
        _409="dispatcher not running",
    )  # fmt: skip
)
def confirm_clear(fablab: str, machine_id: str) -> tuple[dict[str, Any], int]:
    """The operator cleared the machine: tell its agent it may take the next job (operator role)."""
    agent = runtime().bus.handle(ConfirmClear(fablab, machine_id, current_actor()))
    return {"fablab": fablab, "machine": machine_id, "agent": agent, "sent": "machine:confirm_clear"}, 202
