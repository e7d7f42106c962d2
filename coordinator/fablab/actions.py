"""What operators do to their fablab through the bus: spools in and out, maintenance added and signed off.

Both change which machine may take which job, so each asks for a dispatch round and a new plan once
it has committed.
"""

from __future__ import annotations

from typing import Any

from coordinator.fablab import maintenance, spools
from coordinator.jobs.bus import UnitOfWork
from coordinator.jobs.commands import SaveMaintenanceTask, SaveSpool
from coordinator.services.auth import Actor
from protocol.errors import Forbidden
from protocol.topics import validate_id


def check_operator(actor: Actor, fablab: str, what: str) -> None:
    """Operators of the fablab (and admins) look after its spools and machines."""
    validate_id(fablab, "fablab id")
    if not actor.has("operator"):
        raise Forbidden(f"only an operator or an admin may {what}")
    if not actor.may_act_on(fablab):
        raise Forbidden(f"{actor.name or 'this token'} may not {what} in fablab {fablab!r}")


def save_spool(uow: UnitOfWork, command: SaveSpool) -> dict[str, Any]:
    """Add or change a spool (loading it on a machine, or off); return it as the API shows it."""
    check_operator(command.by, command.fablab, "change spools")
    spool = spools.save_spool(uow.session, command.fablab, command.spool_id, dict(command.changes))
    _changed(uow)
    return spools.spool_row(spool)


def save_maintenance_task(uow: UnitOfWork, command: SaveMaintenanceTask) -> dict[str, Any]:
    """Add a task to a machine, or sign one off (the machine takes work again once nothing is due)."""
    check_operator(command.by, command.fablab, "look after maintenance")
    session = uow.session
    if command.task_id is None:
        task = maintenance.add_task(
            session, command.fablab, command.machine_id, command.fields, command.by.name
        )
    else:
        task = maintenance.get_task(session, command.fablab, command.task_id)
        if command.sign_off:
            maintenance.sign_off(session, task, command.by.name, str(command.fields.get("note", "")))
    session.flush()
    _changed(uow)
    counter = maintenance.counters(session, task.fablab, task.machine_id)
    return maintenance.task_row(maintenance.state(task, counter, uow.now()))


def _changed(uow: UnitOfWork) -> None:
    uow.effects.wake = True
    uow.effects.replan = True
