"""Fablabs and machines, and the operator's actions on machines and jobs."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import Session

from coordinator.dashboard import queries
from coordinator.dashboard.access import current_person, operator_required
from coordinator.dashboard.blueprint import bp, db, page
from coordinator.models.jobs import Job
from coordinator.runtime import runtime
from coordinator.services import jobs, operator
from coordinator.services.jobs import Effects
from protocol.errors import Conflict, PeerfabError


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
    def act(session: Session, effects: Effects) -> str:
        _need_dispatcher()
        operator.confirm_clear(session, fablab, machine_id, effects)
        return f"Told {fablab}/{machine_id} that its bed is clear."

    return _run(act)


def _job_action(
    job_id: str, act: Callable[[Session, Effects], Job], done: str, *, command_only: bool = False
) -> ResponseReturnValue:
    def run(session: Session, effects: Effects) -> str:
        if command_only:  # nothing changes here unless the agent hears it
            _need_dispatcher()
        job = act(session, effects)
        return done.format(job=job_id[:8], state=job.state)

    return _run(run)


def _run(act: Callable[[Session, Effects], str]) -> ResponseReturnValue:
    """Do an action in one transaction, send its commands, and go back with a message."""
    effects = Effects()
    try:
        with db() as session:
            message = act(session, effects)
    except PeerfabError as exc:
        flash(exc.message, "error")
        return redirect(_next_url())
    _deliver(effects)
    flash(message, "ok")
    return redirect(_next_url())


@bp.post("/dashboard/jobs/<job_id>/pause")
@operator_required
def pause_job(job_id: str) -> ResponseReturnValue:
    by = _who()
    return _job_action(
        job_id,
        lambda s, e: operator.pause_job(s, job_id, by, e),
        "Asked to pause job {job}.",
        command_only=True,
    )


@bp.post("/dashboard/jobs/<job_id>/resume")
@operator_required
def resume_job(job_id: str) -> ResponseReturnValue:
    by = _who()
    return _job_action(
        job_id,
        lambda s, e: operator.resume_job(s, job_id, by, e),
        "Asked to resume job {job}.",
        command_only=True,
    )


@bp.post("/dashboard/jobs/<job_id>/cancel")
@operator_required
def cancel_job(job_id: str) -> ResponseReturnValue:
    by = _who()
    return _job_action(
        job_id, lambda s, e: jobs.cancel_job(s, job_id, by=by, effects=e), "Job {job} is {state}."
    )


@bp.post("/dashboard/jobs/<job_id>/fail")
@operator_required
def fail_job(job_id: str) -> ResponseReturnValue:
    by, reason = _who(), request.form.get("reason", "")
    return _job_action(
        job_id,
        lambda s, e: operator.mark_failed(s, job_id, reason, by, e),
        "Job {job} marked failed; it is now {state}.",
    )


def _who() -> str:
    person = current_person()
    return person.name if person else ""


def _need_dispatcher() -> None:
    if runtime().services.get("dispatch") is None:
        raise Conflict("the dispatcher is not running in this coordinator, so no agent can be reached")


def _deliver(effects: Effects) -> None:
    """Send what the action asked for once its transaction is committed."""
    dispatcher = runtime().services.get("dispatch")
    if dispatcher is None:
        return
    for fablab, agent, command in effects.commands:
        dispatcher.send(fablab, agent, command)
    if effects.dispatch_needed or effects.commands:
        dispatcher.wake()


def _next_url() -> str:
    """Where to go after an action: a dashboard page the form names, else the machines page."""
    target = request.values.get("next", "")
    if target.startswith("/dashboard/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.machines")
