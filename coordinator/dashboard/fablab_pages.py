"""Spools and maintenance: what each fablab has loaded, what is due, and the operator's actions."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import select

from coordinator.dashboard.access import current_person, operator_required
from coordinator.dashboard.actions import carry_out
from coordinator.dashboard.blueprint import bp, db, page
from coordinator.fablab import maintenance as upkeep
from coordinator.fablab import spools
from coordinator.jobs import queries as job_queries
from coordinator.jobs.commands import SaveMaintenanceTask, SaveSpool
from coordinator.models.fablab import MachineCounter, SpoolSource
from protocol.errors import InvalidInput


@bp.get("/dashboard/spools")
def spools_page() -> str:
    with db() as session:
        labs = [lab["id"] for lab in job_queries.list_fablabs(session)]
        sections = []
        for lab in labs:
            loaded = spools.loaded_spools(session, lab)
            machines = [m.machine_id for m in job_queries.list_machines(session) if m.fablab == lab
                        and (m.capabilities or {}).get("process") == "fdm_print"]  # fmt: skip
            source = session.get(SpoolSource, lab)
            sections.append({
                "id": lab, "spools": [spools.spool_row(s) for s in spools.list_spools(session, lab)],
                "reported": [spools.reported_row(i) for i in loaded.values() if i.spool is None],
                "machines": machines, "source": source.kind if source else "peerfab",
                "source_url": source.url if source else "",
            })  # fmt: skip
    return page("spools.html", sections=sections, may=_may)


def _may(fablab: str) -> bool:
    person = current_person()
    return person is not None and person.is_operator and person.actor.may_act_on(fablab)


def _number(name: str) -> float | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name.replace('_', ' ')} must be a number, got {raw!r}") from exc


def _spool_form() -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("material", "colour", "vendor", "name"):
        if request.form.get(name, "").strip():
            changes[name] = request.form[name].strip()
    for name in ("initial_g", "remaining_g", "cost_per_kg", "diameter_mm"):
        value = _number(name)
        if value is not None:
            changes[name] = value
    if "machine_id" in request.form:
        changes["machine_id"] = request.form["machine_id"] or None
    if request.form.get("archived") == "yes":
        changes["archived"], changes["machine_id"] = True, None
    return changes


@bp.post("/dashboard/spools/<fablab>")
@operator_required
def add_spool(fablab: str) -> ResponseReturnValue:
    target = url_for("dashboard.spools_page") + f"#lab-{fablab}"
    try:
        command = SaveSpool(fablab, None, _spool_form(), _actor())
    except InvalidInput as exc:
        return carry_out_error(exc, target)
    return carry_out(command, lambda row: f"Spool {row['id']} added to {fablab}.", target)


@bp.post("/dashboard/spools/<fablab>/<int:spool_id>")
@operator_required
def change_spool(fablab: str, spool_id: int) -> ResponseReturnValue:
    target = url_for("dashboard.spools_page") + f"#lab-{fablab}"
    try:
        command = SaveSpool(fablab, spool_id, _spool_form(), _actor())
    except InvalidInput as exc:
        return carry_out_error(exc, target)
    return carry_out(command, _spool_message, target)


def _spool_message(row: dict[str, Any]) -> str:
    where = f"loaded on {row['machine_id']}" if row["machine_id"] else "not loaded"
    return f"Spool {row['id']}: {row['remaining_g']:.0f} g of {row['material']} left, {where}."


def carry_out_error(exc: InvalidInput, target: str) -> ResponseReturnValue:
    from flask import flash, redirect

    flash(exc.message, "error")
    return redirect(target)


@bp.get("/dashboard/maintenance", endpoint="maintenance")
def maintenance_page() -> str:
    with db() as session:
        tasks = [upkeep.task_row(t) for t in upkeep.task_states(session)]
        counters = [upkeep.counter_row(c) for c in session.exec(select(MachineCounter))]
        machines = [(m.fablab, m.machine_id) for m in job_queries.list_machines(session)]
    return page("maintenance.html", tasks=tasks, counters=counters, machines=machines, may=_may)


@bp.post("/dashboard/maintenance/tasks")
@operator_required
def add_task() -> ResponseReturnValue:
    target = url_for("dashboard.maintenance")
    fablab, _, machine_id = request.form.get("machine", "").partition("/")
    try:
        fields: dict[str, Any] = {"name": request.form.get("name", "")}
        for name in upkeep.INTERVALS:
            value = _number(name)
            if value is not None:
                fields[name] = int(value) if name == "every_jobs" else value
    except InvalidInput as exc:
        return carry_out_error(exc, target)
    command = SaveMaintenanceTask(fablab, machine_id, None, fields, _actor())
    return carry_out(command, lambda row: f"Task '{row['name']}' added to {fablab}/{machine_id}.", target)


@bp.post("/dashboard/maintenance/<fablab>/tasks/<int:task_id>/sign-off")
@operator_required
def sign_off(fablab: str, task_id: int) -> ResponseReturnValue:
    note = request.form.get("note", "")
    command = SaveMaintenanceTask(fablab, "", task_id, {"note": note}, _actor(), sign_off=True)
    return carry_out(command, lambda row: f"'{row['name']}' on {row['machine_id']} signed off.",
                     url_for("dashboard.maintenance"))  # fmt: skip


def _actor() -> Any:
    person = current_person()
    assert person is not None  # operator_required let the request through
    return person.actor
