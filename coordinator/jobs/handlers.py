"""One handler per command: check who asks, load the rows, ask the lifecycle, apply the decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from coordinator.fablab import actions, runs
from coordinator.filestore import FileStore
from coordinator.jobs import lifecycle, queries
from coordinator.jobs.agents import handle_agent_messages
from coordinator.jobs.bus import MessageBus, UnitOfWork
from coordinator.jobs.commands import (
    Actor,
    AgentMessages,
    CancelBuild,
    CancelJob,
    ConfirmClear,
    DispatchRound,
    FailJob,
    Housekeeping,
    OrderPurchases,
    PauseJob,
    ReceivePurchases,
    RestartLeases,
    ResumeJob,
    RetryTask,
    SaveMaintenanceTask,
    SaveSpool,
    StartBuild,
    SubmitJobs,
    SupplyMachineFile,
)
from coordinator.jobs.dispatch import DispatchPolicy, OfferSettings, PlanPolicy, dispatch_round
from coordinator.jobs.lifecycle import FINAL_STATES
from coordinator.jobs.outbox import Outbox
from coordinator.jobs.rows import AttemptSnap, Decision, JobEnded, JobSnap, JobStarted, MachineSnap, Outgoing
from coordinator.jobs.submission import queue_jobs, store_upload
from coordinator.ledger import record as ledger
from coordinator.services import builds
from firmware_bridge import gcode_check
from protocol import payloads as p
from protocol.errors import Conflict, Forbidden, InvalidInput, NotFound
from protocol.topics import validate_id

MAX_REASON = 500


def submit_jobs(uow: UnitOfWork, command: SubmitJobs) -> list[str]:
    """Queue `quantity` identical jobs as one group, each with its own life; return their ids."""
    return queue_jobs(uow, command.spec, command.quantity, command.by.name)


def cancel_job(uow: UnitOfWork, command: CancelJob) -> str:
    """Cancel a job that has not ended; a machine working on it is told to stop."""
    job, attempt, machine = _job_at_machine(uow, command.job_id)
    _check_owner_or_operator(uow, job, command.by, "cancel")
    if job.state in FINAL_STATES:
        raise Conflict(f"job {job.id} already ended ({job.state})")
    _applied(uow, lifecycle.cancel(job, attempt, machine, command.by.name, uow.now()), job, "cancelled")
    return job.id


def pause_job(uow: UnitOfWork, command: PauseJob) -> str:
    """Ask the machine making a job to pause it; the job is paused once the machine says it is."""
    return _control(uow, command.job_id, "pause", command.by)


def resume_job(uow: UnitOfWork, command: ResumeJob) -> str:
    """Ask the machine holding a paused (or waiting) job to go on."""
    return _control(uow, command.job_id, "resume", command.by)


def _control(uow: UnitOfWork, job_id: str, kind: str, by: Actor) -> str:
    job, attempt, _ = _job_at_machine(uow, job_id)
    _check_operator(by, job.fablab, kind)
    _check_reachable(uow)
    if kind not in lifecycle.allowed_controls(job.state) or attempt is None:
        raise Conflict(f"job {job.id} is {job.state}: it cannot be {kind}d now")
    _applied(uow, lifecycle.request_control(job, attempt, kind, by.name, uow.now()), job, f"{kind}d")
    return job.id


def fail_job(uow: UnitOfWork, command: FailJob) -> str:
    """The operator saw the job fail on the machine: stop it there; it is made again while attempts remain."""
    reason = " ".join(command.reason.split())
    if not reason:
        raise InvalidInput("give a reason for marking the job failed (field 'reason')")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason is {len(reason)} characters long; at most {MAX_REASON}")
    job, attempt, machine = _job_at_machine(uow, command.job_id)
    _check_operator(command.by, job.fablab, "mark failed")
    if "fail" not in lifecycle.allowed_controls(job.state) or attempt is None:
        raise Conflict(f"job {job.id} is {job.state} and no machine is working on it")
    decision = lifecycle.mark_failed(job, attempt, machine, reason, command.by.name, uow.now())
    _applied(uow, decision, job, "marked failed")
    return job.id


def supply_machine_file(uow: UnitOfWork, command: SupplyMachineFile) -> str:
    """An operator made the machine file of a job its machine cannot prepare itself: check it against the
    machine's limits and send it to the machine."""
    job, attempt, _ = _job_at_machine(uow, command.job_id)
    _check_operator(command.by, job.fablab, "prepare machine files")
    _check_reachable(uow)
    if attempt is None or "prepare" not in lifecycle.allowed_controls(job.state):
        raise Conflict(f"job {job.id} is {job.state}: it does not wait for a prepared file")
    machine = queries.get_machine(uow.session, attempt.fablab, attempt.machine_id)
    limits = gcode_check.machine_limits(p.Capabilities.model_validate(machine.capabilities))
    problems = gcode_check.check_file(command.upload, limits)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InvalidInput(
            f"{command.file_name} fails the G-code safety check for {machine.machine_id}: {shown}"
        )
    digest, size = store_upload(uow.session, uow.deps.files, command.upload)  # only a file that will run
    file = p.FileRef(url=f"{uow.deps.offers.files_url}/{digest}", sha256=digest, size=size,
                     name=command.file_name)  # fmt: skip
    _applied(
        uow, lifecycle.supply_machine_file(job, attempt, file, command.by.name, uow.now()), job, "prepared"
    )
    return job.id


def confirm_clear(uow: UnitOfWork, command: ConfirmClear) -> str:
    """The operator cleared a machine: its agent is told it may take the next job; return the agent."""
    validate_id(command.fablab, "fablab id")
    validate_id(command.machine_id, "machine id")
    _check_operator(command.by, command.fablab, "confirm a machine clear")
    _check_reachable(uow)
    machine = uow.store.machines([(command.fablab, command.machine_id)]).get(
        (command.fablab, command.machine_id)
    )
    if machine is None:
        raise NotFound(f"no machine {command.machine_id!r} in fablab {command.fablab!r}")
    uow.effects.commands.append(
        Outgoing(machine.fablab, machine.agent, p.ConfirmClear(machine_id=machine.machine_id))
    )
    return machine.agent


def housekeeping(uow: UnitOfWork, command: Housekeeping) -> list[AttemptSnap]:
    """Expire lapsed leases (when the agents can be heard) and follow the plan; return the attempts
    still cancelling (their cancel is sent again)."""
    if command.expire_leases:
        now = uow.now()
        expired = uow.store.expired_attempts(now)
        jobs = uow.store.jobs({a.job_id for a in expired})
        machines = uow.store.machines({(a.fablab, a.machine_id) for a in expired})
        for attempt in expired:
            job, machine = jobs.get(attempt.job_id), machines.get((attempt.fablab, attempt.machine_id))
            uow.apply(lifecycle.expire_lease(job, attempt, machine, now))
        uow.effects.wake = uow.effects.wake or bool(expired)
    if uow.deps.planner is not None:
        uow.deps.planner.tick(uow.session)
    return uow.store.cancelling_attempts()


def restart_leases(uow: UnitOfWork, _command: RestartLeases) -> int:
    """Every live lease runs in full from now; return how many were restarted."""
    now, count = uow.now(), 0
    for attempt in uow.store.live_attempts():
        if (restarted := lifecycle.restart_lease(attempt, now)) is not None:
            uow.apply(Decision(rows=[restarted]))
            count += 1
    return count


def run_dispatch_round(uow: UnitOfWork, _command: DispatchRound) -> int:
    return dispatch_round(uow, uow.deps.policy, uow.deps.offers)


# ---- shared steps ------------------------------------------------------------------------------


def _job_at_machine(uow: UnitOfWork, job_id: str) -> tuple[JobSnap, AttemptSnap | None, MachineSnap | None]:
    job, attempt, machine = uow.store.job_at_machine(job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    return job, attempt, machine


def _applied(uow: UnitOfWork, decision: Decision, job: JobSnap, what: str) -> None:
    if decision.outcome != "applied":
        raise Conflict(f"job {job.id} is {job.state} and cannot be {what}")
    uow.apply(decision)


def _check_reachable(uow: UnitOfWork) -> None:
    if not uow.deps.reachable():
        raise Conflict("the dispatcher is not running in this coordinator, so no agent can be reached")


def _check_operator(actor: Actor, fablab: str | None, what: str) -> None:
    if not actor.has("operator"):
        raise Forbidden(f"only an operator or an admin may {what}")
    if fablab is not None and not actor.may_act_on(fablab):
        raise Forbidden(f"{actor.name} may not {what} in fablab {fablab!r}")


def _check_owner_or_operator(uow: UnitOfWork, job: JobSnap, actor: Actor, what: str) -> None:
    """A job may be changed by an admin, the person who submitted it (or started its build), or an
    operator of the fablab whose machine holds it."""
    if actor.is_admin:
        return
    if actor.role == "builder" and actor.name in queries.job_owners(uow.session, job.id):
        return
    if actor.role == "operator" and job.fablab is not None and actor.may_act_on(job.fablab):
        return
    if actor.role == "operator" and job.fablab is None and not actor.fablabs:
        return
    raise Forbidden(
        f"{actor.name} may not {what} job {job.id}: it is not theirs, nor on a machine of their fablab"
    )


@dataclass
class Dependencies:
    """What handlers need beyond the database: the file store, the dispatch policy and offer
    settings, the planner, and whether agents can be reached (the dispatcher runs)."""

    files: FileStore
    outbox: Outbox
    policy: DispatchPolicy = field(default_factory=PlanPolicy)
    offers: OfferSettings = field(default_factory=OfferSettings)
    planner: Any = None

    def reachable(self) -> bool:
        return self.outbox.reachable


def make_bus(engine: Engine, files: FileStore, outbox: Outbox) -> MessageBus:
    """The coordinator's bus: every command's handler, and the builds' reactions to their jobs."""
    return MessageBus(engine, outbox, HANDLERS, REACTIONS, Dependencies(files, outbox))


HANDLERS: dict[type, Callable[[UnitOfWork, Any], Any]] = {
    AgentMessages: handle_agent_messages,
    StartBuild: builds.start_build,
    CancelBuild: builds.cancel_build,
    RetryTask: builds.retry_task,
    ReceivePurchases: builds.receive_purchases,
    OrderPurchases: builds.order_purchases,
    SaveSpool: actions.save_spool,
    SaveMaintenanceTask: actions.save_maintenance_task,
    SubmitJobs: submit_jobs,
    SupplyMachineFile: supply_machine_file,
    CancelJob: cancel_job,
    PauseJob: pause_job,
    ResumeJob: resume_job,
    FailJob: fail_job,
    ConfirmClear: confirm_clear,
    Housekeeping: housekeeping,
    RestartLeases: restart_leases,
    DispatchRound: run_dispatch_round,
}

REACTIONS: dict[type, list[Callable[[UnitOfWork, Any], None]]] = {
    # the ledger comes after the runs: it records the runs they closed
    JobStarted: [builds.on_job_started, runs.on_job_started, ledger.on_job_started],
    JobEnded: [builds.on_job_ended, runs.on_job_ended, ledger.on_job_ended],
}
