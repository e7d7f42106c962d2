"""Machines and fablabs as their agents announce them; the operator's confirm-clear."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from coordinator.api.auth import auth, current_actor, roles
from coordinator.db import session_scope
from coordinator.jobs import queries
from coordinator.jobs.commands import ConfirmClear
from coordinator.models.auth import Role
from coordinator.models.base import aware
from coordinator.models.jobs import Machine
from coordinator.runtime import runtime

bp = APIBlueprint("machines", __name__, tag="Machines")


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
def list_machines() -> dict[str, Any]:
    """Every machine the agents have announced, with its last known status."""
    with session_scope(runtime().engine) as session:
        return {"machines": [machine_dict(m) for m in queries.list_machines(session)]}


@bp.get("/fablabs")
def list_fablabs() -> dict[str, Any]:
    """Fablabs with their agents (online or not) and machine counts."""
    with session_scope(runtime().engine) as session:
        return {"fablabs": queries.list_fablabs(session)}


@bp.post("/machines/<fablab>/<machine_id>/confirm-clear")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.doc(
    responses={
        202: "sent to the agent",
        403: "not your fablab",
        404: "no such machine",
        409: "dispatcher not running",
    }
)
def confirm_clear(fablab: str, machine_id: str) -> tuple[dict[str, Any], int]:
    """The operator cleared the machine: tell its agent it may take the next job (operator role)."""
    agent = runtime().bus.handle(ConfirmClear(fablab, machine_id, current_actor()))
    return {"fablab": fablab, "machine": machine_id, "agent": agent, "sent": "machine:confirm_clear"}, 202
