"""Fablabs, agents and machines: births, deaths, statuses, message order and reconciliation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from coordinator.db import one_of
from coordinator.models.jobs import (
    ACTIVE_STATES,
    AgentLink,
    Fablab,
    Job,
    JobAttempt,
    JobState,
    Machine,
)
from coordinator.services import jobs
from coordinator.services.jobs import Effects, Source, Trigger, utcnow
from coordinator.services.records import keep_loaded, load_records, row_by_key, track
from protocol import payloads as p
from protocol.errors import NotFound

log = logging.getLogger(__name__)

# the agent's view of a job on a machine, as reported in its birth -> the event it amounts to
REPORTED_TRIGGERS: dict[str, Trigger] = {
    "accepted": Trigger.ACCEPTED,
    "running": Trigger.PROGRESS,
    "printing": Trigger.PROGRESS,
    "paused": Trigger.PROGRESS,
    "waiting_operator": Trigger.WAITING_OPERATOR,
    "done": Trigger.DONE,
    "failed": Trigger.FAILED,
    "cancelled": Trigger.AGENT_CANCELLED,
    "rejected": Trigger.REJECTED,
}
_ENDED_ON_AGENT = frozenset({"done", "failed", "cancelled", "rejected"})


class Order:
    """Verdicts of the per-agent sequence check (docs/protocol.md, Envelope)."""

    IN_ORDER = "in_order"
    GAP = "gap"
    NEW_BOOT = "new_boot"
    DUPLICATE = "duplicate"
    STALE = "stale"


PROCESS = frozenset({Order.IN_ORDER, Order.GAP, Order.NEW_BOOT})


@dataclass
class LinkCache:
    """Agent links loaded once per unit of work (a burst of messages shares them)."""

    session: Session

    def __post_init__(self) -> None:
        self._links: dict[tuple[str, str], AgentLink] = {}

    def get(self, fablab: str, agent: str) -> AgentLink:
        key = (fablab, agent)
        if key not in self._links:
            self._links[key] = _load_link(self.session, fablab, agent)
        return self._links[key]


def _load_link(session: Session, fablab: str, agent: str) -> AgentLink:
    link = row_by_key(session, AgentLink, (fablab, agent))
    if link is None:
        ensure_fablab(session, fablab)
        link = AgentLink(fablab=fablab, agent=agent)
        session.add(link)
    return link


def prefetch(
    session: Session, agents: set[tuple[str, str]], attempt_ids: set[str], as_records: bool = True
) -> list[Any]:
    """Load what a burst of messages touches in a few queries, so the burst runs from memory.

    The agents' links and machines, the attempts named and their jobs: as records (plain values,
    see `records`), or as ORM objects when `as_records` is false, for a burst whose births and
    deaths query the same rows through the ORM. JSON columns no agent message reads are left out.
    The session's identity map holds ORM objects weakly; `records.keep_loaded` indexes them in the
    session, which keeps them alive for the rest of the unit of work.
    """
    load: Callable[..., list[Any]] = load_records if as_records else _load_objects
    loaded: list[Any] = []
    if agents:
        loaded += load(session, AgentLink, of_agents(session, AgentLink, agents))
        loaded += load(session, Machine, of_agents(session, Machine, agents), ("capabilities",))
    if attempt_ids:
        found = load(session, JobAttempt, one_of(session, col(JobAttempt.id), attempt_ids))
        job_ids = list({a.job_id for a in found})
        loaded += found
        if job_ids:
            loaded += load(session, Job, one_of(session, col(Job.id), job_ids), ("params", "min_box_mm"))
    return loaded


def _load_objects(session: Session, model: type[Any], where: Any, skip: tuple[str, ...] = ()) -> list[Any]:
    query = select(model).options(*[_unloaded(getattr(model, name)) for name in skip]).where(where)
    rows = list(session.exec(query))
    keep_loaded(session, rows)
    return rows


def of_agents(session: Session, model: Any, agents: set[tuple[str, str]]) -> Any:
    """WHERE clause for rows of these (fablab, agent) pairs: per fablab, agent IN (...).

    A row-value IN list, `(fablab, agent) IN ((..), ..)`, reaches PostgreSQL as one OR chain that
    every row is tested against in turn: 5.7 ms for 250 agents among 500. Per fablab, the agents
    are one list (`db.one_of`: hashed, or probed in the primary key): 0.45 ms. A burst comes from
    a few fablabs.
    """
    by_fablab: dict[str, list[str]] = {}
    for fablab, agent in sorted(agents):
        by_fablab.setdefault(fablab, []).append(agent)
    fablab_col, agent_col = col(model.fablab), col(model.agent)
    clauses = [and_(fablab_col == lab, one_of(session, agent_col, names)) for lab, names in by_fablab.items()]
    return or_(*clauses)


def _unloaded(column: Any) -> Any:
    """A loader option leaving a column out (SQLModel types columns as their values, hence Any)."""
    return defer(column)


def ensure_fablab(session: Session, fablab: str) -> Fablab:
    record = session.get(Fablab, fablab)
    if record is None:
        record = Fablab(id=fablab, name=fablab)
        session.add(record)
        session.flush()
    return record


# ---- message order -----------------------------------------------------------------------------


def check_event_order(link: AgentLink, boot_seq: int, seq: int) -> str:
    """Place an agent event in the agent's sequence and advance it; see docs/protocol.md."""
    if boot_seq < link.boot_seq:
        return Order.STALE
    if boot_seq > link.boot_seq:
        link.boot_seq, link.last_seq = boot_seq, seq
        return Order.NEW_BOOT
    if seq <= link.last_seq:
        return Order.DUPLICATE
    verdict = Order.GAP if seq > link.last_seq + 1 else Order.IN_ORDER
    link.last_seq = seq
    return verdict


def check_birth_order(link: AgentLink, state: p.AgentState) -> str:
    """A birth starts a boot; within the same boot it is a re-announcement (or a retained copy)."""
    if state.boot_seq < link.boot_seq:
        return Order.STALE
    if state.boot_seq > link.boot_seq:
        link.boot_seq, link.last_seq = state.boot_seq, state.seq
        return Order.NEW_BOOT
    if state.msg_id == link.birth_msg_id:
        return Order.DUPLICATE
    link.last_seq = max(link.last_seq, state.seq)
    return Order.IN_ORDER


# ---- births and deaths -------------------------------------------------------------------------


def record_birth(session: Session, link: AgentLink, state: p.AgentState, effects: Effects) -> None:
    """An agent is online: upsert its machines and reconcile jobs with what it reports."""
    session.flush()  # the queries below must see the burst's earlier changes
    now = utcnow()
    link.online, link.software, link.last_seen, link.birth_msg_id = True, state.software, now, state.msg_id
    session.add(link)
    known = {m.machine_id: m for m in _agent_machines(session, state.fablab, state.agent)}
    for info in state.machines:
        machine = known.pop(info.id, None) or _claim_machine(session, state.fablab, info.id)
        _update_machine(machine, state.agent, info, now)
        session.add(machine)
    for gone in known.values():
        gone.status = "offline"
        session.add(gone)
    session.flush()
    _reconcile(session, state, effects)
    effects.dispatch_needed = True


def _claim_machine(session: Session, fablab: str, machine_id: str) -> Machine:
    found = session.get(Machine, (fablab, machine_id))
    return found or Machine(fablab=fablab, agent="", machine_id=machine_id)


def _update_machine(machine: Machine, agent: str, info: p.MachineInfo, now: Any) -> None:
    machine.agent = agent
    machine.driver = info.driver
    machine.capabilities = info.capabilities.model_dump(mode="json")
    machine.operator_confirm = info.operator_confirm
    machine.status = info.status
    machine.last_seen = now


def record_death(session: Session, link: AgentLink) -> None:
    """An agent went away: its machines are offline, but their attempts keep their leases."""
    link.online, link.last_seen = False, utcnow()
    session.add(link)
    for machine in _agent_machines(session, link.fablab, link.agent):
        machine.status = "offline"
        session.add(machine)


def _agent_machines(session: Session, fablab: str, agent: str) -> list[Machine]:
    query = select(Machine).where(Machine.fablab == fablab, Machine.agent == agent)
    return list(session.exec(query).all())


def _reconcile(session: Session, state: p.AgentState, effects: Effects) -> None:
    """Align the coordinator's jobs with the agent's view of its machines."""
    reported = {info.id: info.job for info in state.machines if info.job is not None}
    for attempt, job in _current_attempts(session, state.fablab, state.agent):
        seen = reported.get(attempt.machine_id)
        if seen is not None and seen.attempt_id == attempt.id:
            _apply_reported(session, job, attempt, seen, state)
        else:
            # the agent does not hold it: no renewal, the lease decides (its events may still come)
            log.info("job %s: %s reports no such attempt; lease path", job.id, state.agent)
    current = {a.id for a, _ in _current_attempts(session, state.fablab, state.agent)}
    for seen in reported.values():
        if seen.attempt_id not in current and seen.state not in _ENDED_ON_AGENT:
            effects.send(state.fablab, state.agent, jobs.cancel_command(seen.job_id, seen.attempt_id))


def _current_attempts(session: Session, fablab: str, agent: str) -> list[tuple[JobAttempt, Job]]:
    query = (
        select(JobAttempt, Job)
        .where(col(Job.attempt_id) == col(JobAttempt.id))
        .where(col(Job.state).in_(list(ACTIVE_STATES)))
        .where(JobAttempt.fablab == fablab, JobAttempt.agent == agent)
    )
    return [(a, j) for a, j in session.exec(query).all()]


def _apply_reported(
    session: Session, job: Job, attempt: JobAttempt, seen: p.MachineJob, state: p.AgentState
) -> None:
    jobs.renew_lease(attempt)
    job.progress = seen.progress
    trigger = REPORTED_TRIGGERS.get(seen.state)
    if trigger is None or _already(job, trigger):
        return
    source = Source(state.fablab, state.agent, None)
    payload = {"reported_in_birth": state.msg_id, "state": seen.state}
    jobs.transition(session, job, trigger, attempt=attempt, source=source, payload=payload)


def _already(job: Job, trigger: Trigger) -> bool:
    same = {Trigger.PROGRESS: JobState.RUNNING, Trigger.WAITING_OPERATOR: JobState.WAITING_OPERATOR}
    return same.get(trigger) == job.state


# ---- statuses ----------------------------------------------------------------------------------


def record_status(session: Session, fablab: str, agent: str, event: p.MachineStatusEvent) -> bool:
    """A machine reports its status; return whether it just became idle."""
    machine = row_by_key(session, Machine, (fablab, event.machine_id))
    if machine is None or machine.agent != agent:
        log.warning("%s/%s: status for unknown machine %s", fablab, agent, event.machine_id)
        return False
    freed = event.status == "idle" and machine.status != "idle"
    machine.status, machine.last_seen = event.status, utcnow()
    track(session, machine)
    return freed


# ---- reading -----------------------------------------------------------------------------------


def list_machines(session: Session, fablab: str | None = None) -> list[Machine]:
    query = select(Machine).order_by(col(Machine.fablab), col(Machine.machine_id))
    if fablab is not None:
        query = query.where(Machine.fablab == fablab)
    return list(session.exec(query).all())


def get_machine(session: Session, fablab: str, machine_id: str) -> Machine:
    machine = session.get(Machine, (fablab, machine_id))
    if machine is None:
        raise NotFound(f"no machine {machine_id!r} in fablab {fablab!r}")
    return machine


def list_fablabs(session: Session) -> list[dict[str, Any]]:
    """Every fablab with its agents and machine counts."""
    links = session.exec(select(AgentLink).order_by(col(AgentLink.agent))).all()
    machines = list_machines(session)
    result = []
    for lab in session.exec(select(Fablab).order_by(col(Fablab.id))).all():
        own = [m for m in machines if m.fablab == lab.id]
        result.append(
            {
                "id": lab.id,
                "name": lab.name,
                "agents": [
                    {"id": ln.agent, "online": ln.online, "software": ln.software}
                    for ln in links
                    if ln.fablab == lab.id
                ],
                "machines": len(own),
                "idle": sum(1 for m in own if m.status == "idle"),
            }
        )
    return result
