"""Machines and fablabs as their agents announce them; the operator's confirm-clear."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from coordinator.api.auth import auth, roles
from coordinator.db import session_scope
from coordinator.models.auth import Role
from coordinator.models.jobs import Machine
from coordinator.runtime import runtime
from coordinator.services import machines
from coordinator.services.jobs import aware
from protocol import payloads as p
from protocol.errors import Conflict
from protocol.topics import validate_id

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
        return {"machines": [machine_dict(m) for m in machines.list_machines(session)]}


@bp.get("/fablabs")
def list_fablabs() -> dict[str, Any]:
    """Fablabs with their agents (online or not) and machine counts."""
    with session_scope(runtime().engine) as session:
        return {"fablabs": machines.list_fablabs(session)}


@bp.post("/machines/<fablab>/<machine_id>/confirm-clear")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.doc(responses={202: "sent to the agent", 404: "no such machine", 409: "dispatcher not running"})
def confirm_clear(fablab: str, machine_id: str) -> tuple[dict[str, Any], int]:
    """The operator cleared the machine: tell its agent it may take the next job (operator role)."""
    validate_id(fablab, "fablab id")
    validate_id(machine_id, "machine id")
    with session_scope(runtime().engine) as session:
        machine = machines.get_machine(session, fablab, machine_id)
        agent = machine.agent
    dispatcher = runtime().services.get("dispatch")
    if dispatcher is None:
        raise Conflict("the dispatcher is not running in this coordinator; start it to reach agents")
    dispatcher.send(fablab, agent, p.ConfirmClear(machine_id=machine_id))
    return {"fablab": fablab, "machine": machine_id, "agent": agent, "sent": "machine:confirm_clear"}, 202
