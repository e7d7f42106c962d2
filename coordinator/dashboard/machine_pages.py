"""Fablabs and machines, and the operator's actions on machines and jobs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from coordinator.dashboard import queries
from coordinator.dashboard.access import current_person, operator_required
from coordinator.dashboard.actions import carry_out
from coordinator.dashboard.blueprint import bp, db, page
from coordinator.jobs import queries as job_queries
from coordinator.jobs.commands import CancelJob, ConfirmClear, FailJob, PauseJob, ResumeJob, SupplyMachineFile
from coordinator.runtime import runtime
from coordinator.services.auth import Actor


@bp.get("/dashboard/machines")
def machines() -> str:
    with db() as session:
        sections = queries.fablab_sections(session)
    return page("machines.html", sections=sections)


@bp.get("/dashboard/fragments/machines/<fablab>/<machine_id>")
def machine_fragment(fablab: str, machine_id: str) -> str:
    """One machine card, for the live page to swap in when the machine or its job changes."""
    with db() as session:
        item = queries.machine_card(session, fablab, machine_id)
    return page("machine_card.html", card=item, next_url=_next_url())


@bp.post("/dashboard/machines/<fablab>/<machine_id>/confirm-clear")
@operator_required
def confirm_clear(fablab: str, machine_id: str) -> ResponseReturnValue:
    command = ConfirmClear(fablab, machine_id, _actor())
    return carry_out(command, lambda _: f"Told {fablab}/{machine_id} that its bed is clear.", _next_url())


@bp.post("/dashboard/jobs/<job_id>/pause")
@operator_required
def pause_job(job_id: str) -> ResponseReturnValue:
    return carry_out(PauseJob(job_id, _actor()), lambda _: f"Asked to pause job {job_id[:8]}.", _next_url())


@bp.post("/dashboard/jobs/<job_id>/resume")
@operator_required
def resume_job(job_id: str) -> ResponseReturnValue:
    return carry_out(ResumeJob(job_id, _actor()), lambda _: f"Asked to resume job {job_id[:8]}.", _next_url())


@bp.post("/dashboard/jobs/<job_id>/cancel")
@operator_required
def cancel_job(job_id: str) -> ResponseReturnValue:
    return carry_out(CancelJob(job_id, _actor()), lambda _: f"Job {job_id[:8]} is cancelled.", _next_url())


@bp.post("/dashboard/jobs/<job_id>/fail")
@operator_required
def fail_job(job_id: str) -> ResponseReturnValue:
    command = FailJob(job_id, request.form.get("reason", ""), _actor())
    return carry_out(command, lambda _: _failed_message(job_id), _next_url())


@bp.post("/dashboard/jobs/<job_id>/machine-file")
@operator_required
def machine_file(job_id: str) -> ResponseReturnValue:
    """An operator gives a job that needs preparation its machine file."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("choose the machine file (G-code) to send", "error")
        return redirect(_next_url())
    name = Path(upload.filename).name
    with tempfile.NamedTemporaryFile(dir=runtime().settings.storage.data_dir) as tmp:
        upload.save(tmp.name)
        command = SupplyMachineFile(job_id, Path(tmp.name), name, _actor())
        return carry_out(command, lambda _: f"Sent {name} to the machine of job {job_id[:8]}.", _next_url())


def _failed_message(job_id: str) -> str:
    with db() as session:
        state = job_queries.get_job(session, job_id).state
    return f"Job {job_id[:8]} marked failed; it is now {state}."


def _actor() -> Actor:
    person = current_person()
    assert person is not None  # operator_required let the request through
    return person.actor


def _next_url() -> str:
    """Where to go after an action: a dashboard page the form names, else the machines page."""
    target = request.values.get("next", "")
    if target.startswith("/dashboard/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.machines")
