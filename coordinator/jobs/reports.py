"""What agents report, and the order their messages must come in (docs/jobs.md, Agent messages).

Job events, heartbeats, machine statuses and births, each turned into a lifecycle `Decision`; the
per-agent sequence check. Plain snapshots in, decisions out: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from coordinator.jobs.lifecycle import (
    ATTEMPT_AFTER,
    FINAL_STATES,
    LIVE_ATTEMPT_STATES,
    AttemptState,
    Trigger,
    cancel_command,
    renewed,
    transition,
)
from coordinator.jobs.rows import (
    AttemptSnap,
    Decision,
    JobSnap,
    LinkSnap,
    MachineSnap,
    Outgoing,
    Row,
    Source,
    refused,
)
from protocol import payloads as p
from protocol.payloads import MachineStatus

# agent event type -> trigger
EVENT_TRIGGERS: dict[str, Trigger] = {
    "job:accepted": Trigger.ACCEPTED,
    "job:needs_preparation": Trigger.NEEDS_PREPARATION,
    "job:rejected": Trigger.REJECTED,
    "job:progress": Trigger.PROGRESS,
    "job:paused": Trigger.PAUSED,
    "job:resumed": Trigger.RESUMED,
    "job:waiting_operator": Trigger.WAITING_OPERATOR,
    "job:done": Trigger.DONE,
    "job:failed": Trigger.FAILED,
    "job:cancelled": Trigger.AGENT_CANCELLED,
}
# the agent's view of a job on a machine, as reported in its birth -> the event it amounts to
REPORTED_TRIGGERS: dict[str, Trigger] = {
    "preparing": Trigger.PROGRESS,  # an agent of an older release: still working on it
    "accepted": Trigger.ACCEPTED,
    "needs_preparation": Trigger.NEEDS_PREPARATION,
    "running": Trigger.PROGRESS,
    "printing": Trigger.PROGRESS,
    "paused": Trigger.PAUSED,
    "waiting_operator": Trigger.WAITING_OPERATOR,
    "done": Trigger.DONE,
    "failed": Trigger.FAILED,
    "cancelled": Trigger.AGENT_CANCELLED,
    "rejected": Trigger.REJECTED,
}
_ENDED_ON_AGENT = frozenset({"done", "failed", "cancelled", "rejected"})
# triggers by which an agent says it still works on an attempt (a stale one gets a cancel back)
_ALIVE = frozenset(
    {
        Trigger.NEEDS_PREPARATION,
        Trigger.ACCEPTED,
        Trigger.PROGRESS,
        Trigger.PAUSED,
        Trigger.RESUMED,
        Trigger.WAITING_OPERATOR,
    }
)

# ---- agent reports -----------------------------------------------------------------------------


def apply_job_event(
    job: JobSnap | None,
    attempt: AttemptSnap | None,
    machine: MachineSnap | None,
    event: p.JobReport,
    source: Source,
    now: datetime,
) -> Decision:
    """Apply one job event of an agent to the attempt it names (see docs/jobs.md, Agent messages)."""
    trigger = EVENT_TRIGGERS[event.type]  # type: ignore[attr-defined]
    if attempt is None or job is None or not _owned(attempt, event, source):
        return _not_current(event, trigger, source, "unknown")
    if job.attempt_id != attempt.id:
        decision = _not_current(event, trigger, source, "stale")
        decision.rows += _end_stale(attempt, trigger, now)
        return decision
    attempt = renewed(attempt, now) or attempt
    if job.state in FINAL_STATES:
        return _after_end(attempt, trigger, now)
    job = _with_progress(job, event)
    reason = str(getattr(event, "reason", "") or "")
    decision = transition(job, trigger, now, attempt=attempt, machine=machine, source=source,
                          reason=reason, payload=_payload(event))  # fmt: skip
    if decision.outcome != "applied":
        return Decision(rows=[attempt], outcome="refused")
    return decision


def _owned(attempt: AttemptSnap, event: p.JobReport, source: Source) -> bool:
    return (attempt.fablab, attempt.agent, attempt.machine_id, attempt.job_id) == (
        source.fablab,
        source.agent,
        event.machine_id,
        event.job_id,
    )


def _not_current(event: p.JobReport, trigger: Trigger, source: Source, outcome: str) -> Decision:
    decision = refused(outcome)
    if trigger in _ALIVE and source.fablab and source.agent:
        command = cancel_command(event.job_id, event.attempt_id, "attempt is no longer current")
        decision.commands.append(Outgoing(source.fablab, source.agent, command))
    return decision


def _end_stale(attempt: AttemptSnap, trigger: Trigger, now: datetime) -> list[Row]:
    if attempt.state in LIVE_ATTEMPT_STATES and trigger not in _ALIVE:
        return [replace(attempt, state=ATTEMPT_AFTER[trigger], ended_at=now)]
    return []


def _after_end(attempt: AttemptSnap, trigger: Trigger, now: datetime) -> Decision:
    """An event for a job that already ended: a cancelled attempt's confirmation closes it."""
    if attempt.state == AttemptState.CANCELLING and trigger not in _ALIVE:
        return Decision(
            rows=[replace(attempt, state=AttemptState.CANCELLED, ended_at=now)], outcome="refused"
        )
    return Decision(rows=[attempt], outcome="refused")


def _with_progress(job: JobSnap, event: Any) -> JobSnap:
    """The job with what the event says of it: progress, time left, the machine's own estimates."""
    progress = getattr(event, "progress", None)
    eta = getattr(event, "eta_s", None)
    job = replace(
        job,
        progress=job.progress if progress is None else float(progress),
        eta_s=job.eta_s if eta is None else float(eta),
    )
    estimates: p.Estimates | None = getattr(event, "estimates", None)
    if estimates is None:
        return job
    return replace(job, estimate_s=estimates.duration_s, filament_mm=estimates.filament_mm,
                   filament_g=estimates.filament_g, estimate_source=estimates.source)  # fmt: skip


_ENVELOPE = frozenset(
    {"schema_version", "msg_id", "sent_at", "job_id", "attempt_id", "type", "boot_seq", "seq"}
)


def _payload(event: BaseModel) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude=set(_ENVELOPE), exclude_defaults=True)


def apply_heartbeat(
    job: JobSnap | None, attempt: AttemptSnap | None, entry: p.HeartbeatJob, source: Source, now: datetime
) -> Decision:
    """A heartbeat names an attempt the agent runs: renew its lease, or tell the agent to drop it."""
    if attempt is None or (attempt.fablab, attempt.agent) != (source.fablab, source.agent):
        return refused("unknown")
    if job is None or job.attempt_id != attempt.id or job.state in FINAL_STATES:
        if attempt.state == AttemptState.CANCELLING or not source.fablab or not source.agent:
            return refused("stale")
        command = cancel_command(entry.job_id, entry.attempt_id, "stale")
        return Decision(commands=[Outgoing(source.fablab, source.agent, command)], outcome="stale")
    rows: list[Row] = []
    if (renewal := renewed(attempt, now)) is not None:
        rows.append(renewal)
    if entry.progress != job.progress:
        rows.append(replace(job, progress=entry.progress))
    return Decision(rows=rows)


def apply_status(
    machine: MachineSnap | None, agent: str, event: p.MachineStatusEvent, now: datetime
) -> Decision:
    """A machine reports what it does; a machine that becomes idle wants a dispatch round."""
    if machine is None or machine.agent != agent:
        return refused("unknown")
    seen = machine_seen(machine, now)
    if event.status == machine.status:
        return Decision(rows=[seen] if seen is not None else [])
    freed = event.status == MachineStatus.IDLE
    return Decision(rows=[replace(machine, status=event.status.value, last_seen=now)], wake=freed)


LAST_SEEN_RESOLUTION = timedelta(seconds=30)


def machine_seen(machine: MachineSnap, now: datetime) -> MachineSnap | None:
    """`last_seen` moved on, when it is older than LAST_SEEN_RESOLUTION (None: not worth a write).

    A fleet reports statuses every few seconds; the dashboard shows "seen 20 s ago" at best, so a
    machine whose status did not change is written at most twice a minute.
    """
    if machine.last_seen is not None and now - machine.last_seen < LAST_SEEN_RESOLUTION:
        return None
    return replace(machine, last_seen=now)


# ---- message order -----------------------------------------------------------------------------


class Order(StrEnum):
    """Verdicts of the per-agent sequence check (docs/jobs.md, Agent messages)."""

    IN_ORDER = "in_order"
    GAP = "gap"
    FOREIGN_BOOT = "foreign_boot"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IMPOSSIBLE = "impossible"
    NEW_BOOT = "new_boot"


PROCESSED = frozenset({Order.IN_ORDER, Order.GAP, Order.FOREIGN_BOOT, Order.NEW_BOOT})
ASK_REANNOUNCE = frozenset({Order.GAP, Order.FOREIGN_BOOT, Order.IMPOSSIBLE})
MAX_GAP = 1000  # sequence numbers a message may run ahead and still be taken as a lost message's successor


def check_event_order(link: LinkSnap, boot_seq: int, seq: int) -> tuple[Order, LinkSnap]:
    """Place an agent event in its agent's sequence; return the verdict and the link after it."""
    if boot_seq < link.boot_seq:
        return Order.STALE, link
    if boot_seq > link.boot_seq:
        return Order.FOREIGN_BOOT, link  # a boot starts with its birth; until then nothing is adopted
    if seq <= link.last_seq:
        return Order.DUPLICATE, link
    if seq == link.last_seq + 1:
        return Order.IN_ORDER, replace(link, last_seq=seq)
    if seq <= link.last_seq + MAX_GAP:
        return Order.GAP, link
    return Order.IMPOSSIBLE, link


def check_birth_order(link: LinkSnap, state: p.AgentState) -> tuple[Order, LinkSnap]:
    """A birth starts a boot; within the same boot it is a retained copy or a re-announcement."""
    if state.boot_seq < link.boot_seq:
        return Order.STALE, link
    if state.boot_seq > link.boot_seq:
        return Order.NEW_BOOT, replace(link, boot_seq=state.boot_seq, last_seq=state.seq)
    if state.msg_id == link.birth_msg_id:
        return Order.DUPLICATE, link
    return Order.IN_ORDER, replace(link, last_seq=max(link.last_seq, state.seq))


# ---- births and deaths -------------------------------------------------------------------------


def link_seen(link: LinkSnap, now: datetime) -> LinkSnap:
    """The link with `last_seen` moved on, when it is older than LAST_SEEN_RESOLUTION."""
    if link.last_seen is not None and now - link.last_seen < LAST_SEEN_RESOLUTION:
        return link
    return replace(link, last_seen=now)


def gone(link: LinkSnap, now: datetime) -> LinkSnap:
    """An agent's death (its will, or its clean goodbye)."""
    return replace(link, online=False, last_seen=now)


def born(link: LinkSnap, state: p.AgentState, now: datetime) -> LinkSnap:
    return replace(link, online=True, software=state.software, last_seen=now, birth_msg_id=state.msg_id)


def announced(fablab: str, agent: str, info: p.MachineInfo, now: datetime) -> MachineSnap:
    """A machine as its agent's birth describes it: the birth's word is the truth."""
    return MachineSnap(
        fablab, info.id, agent, info.status.value, info.operator_confirm, now, info.capabilities.process
    )


def gone_offline(machine: MachineSnap, now: datetime) -> MachineSnap:
    return replace(machine, status=MachineStatus.OFFLINE, last_seen=machine.last_seen or now)


def reconcile(
    current: Iterable[tuple[AttemptSnap, JobSnap, MachineSnap | None]],
    state: p.AgentState,
    now: datetime,
) -> Decision:
    """Align the coordinator's jobs with what an agent's birth reports of its machines."""
    reported = {info.id: info.job for info in state.machines if info.job is not None}
    source = Source(state.fablab, state.agent, None)
    decision = Decision(wake=True)
    held: set[str] = set()
    for attempt, job, machine in current:
        held.add(attempt.id)
        seen = reported.get(attempt.machine_id)
        if seen is not None and seen.attempt_id == attempt.id:
            decision.add(_apply_reported(job, attempt, machine, seen, source, state.msg_id, now))
        # not reported: nothing is renewed and the lease decides (its journalled events may still come)
    for seen in reported.values():
        if seen.attempt_id not in held and seen.state not in _ENDED_ON_AGENT:
            decision.commands.append(
                Outgoing(state.fablab, state.agent, cancel_command(seen.job_id, seen.attempt_id))
            )
    return decision


def _apply_reported(
    job: JobSnap,
    attempt: AttemptSnap,
    machine: MachineSnap | None,
    seen: p.MachineJob,
    source: Source,
    birth: str,
    now: datetime,
) -> Decision:
    attempt = replace(attempt, lease_expires_at=now + timedelta(seconds=attempt.lease_s))
    job = replace(job, progress=seen.progress)
    trigger = REPORTED_TRIGGERS.get(seen.state)
    base = Decision(rows=[job, attempt])
    if trigger is None:
        return base
    payload = {"reported_in_birth": birth, "state": seen.state}
    moved = transition(job, trigger, now, attempt=attempt, machine=machine, source=source, payload=payload)
    return base.add(moved) if moved.outcome == "applied" else base
