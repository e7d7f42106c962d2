"""A burst of agent messages in one unit of work: births, deaths, job events, statuses, heartbeats.

Everything the burst touches is loaded first, in a few queries; then each message is placed in its
agent's sequence and applied in arrival order. The rules are in `reports` and `lifecycle`.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from coordinator.jobs import reports
from coordinator.jobs.bus import UnitOfWork
from coordinator.jobs.commands import AgentMessage, AgentMessages
from coordinator.jobs.lifecycle import ACTIVE_STATES
from coordinator.jobs.reports import ASK_REANNOUNCE, PROCESSED, Order
from coordinator.jobs.rows import AttemptSnap, Decision, JobSnap, LinkSnap, MachineSnap, Source
from protocol import payloads as p

log = logging.getLogger(__name__)


def handle_agent_messages(uow: UnitOfWork, command: AgentMessages) -> Counter[str]:
    """Apply a burst in arrival order; return how many messages had each outcome."""
    messages = command.messages
    _prefetch(uow, messages)
    seen = uow.store.recorded_messages([m.message.msg_id for m in messages if m.channel == "events"])
    outcomes: Counter[str] = Counter()
    for item in messages:
        outcomes[_apply(uow, item, seen)] += 1
    return outcomes


def _prefetch(uow: UnitOfWork, messages: tuple[AgentMessage, ...]) -> None:
    """Load the agents' links, the machines and attempts the messages name, and their jobs."""
    uow.store.links({(m.fablab, m.agent) for m in messages})
    named = {(m.fablab, m.message.machine_id) for m in messages if hasattr(m.message, "machine_id")}
    uow.store.machines(named)
    attempts = uow.store.attempts(_attempt_ids(messages))
    uow.store.jobs({a.job_id for a in attempts.values()})


def _attempt_ids(messages: tuple[AgentMessage, ...]) -> set[str]:
    ids: set[str] = set()
    for item in messages:
        if isinstance(item.message, p.Heartbeat):
            ids.update(entry.attempt_id for entry in item.message.jobs)
        elif isinstance(item.message, p.JobReport):
            ids.add(item.message.attempt_id)
    return ids


def _apply(uow: UnitOfWork, item: AgentMessage, seen: set[tuple[str, str, str]]) -> str:
    link = uow.store.ensure_link(item.fablab, item.agent)
    if item.channel == "state":
        return _state(uow, link, item.message)
    verdict, link = reports.check_event_order(link, item.message.boot_seq, item.message.seq)
    if verdict in ASK_REANNOUNCE:
        uow.effects.reannounce[(item.fablab, item.agent)] = f"{verdict} at seq {item.message.seq}"
    if verdict not in PROCESSED:
        log.debug("%s/%s: %s seq %s dropped", item.fablab, item.agent, verdict, item.message.seq)
        return str(verdict)
    now = uow.now()
    uow.apply(Decision(rows=[reports.link_seen(link, now)]))
    key = (item.fablab, item.agent, item.message.msg_id)
    if key in seen:
        return "replayed"
    seen.add(key)
    return _event(uow, item, now)


def _event(uow: UnitOfWork, item: AgentMessage, now: datetime) -> str:
    message, store = item.message, uow.store
    source = Source(item.fablab, item.agent, message.msg_id)
    if isinstance(message, p.MachineStatusEvent):
        machine = store.get(MachineSnap, (item.fablab, message.machine_id))
        return uow.apply(reports.apply_status(machine, item.agent, message, now)).outcome
    if isinstance(message, p.Heartbeat):
        for entry in message.jobs:
            attempt = store.get(AttemptSnap, entry.attempt_id)
            job = store.get(JobSnap, attempt.job_id) if attempt else None
            uow.apply(reports.apply_heartbeat(job, attempt, entry, source, now))
        return "applied"
    attempt = store.get(AttemptSnap, message.attempt_id)
    job = store.get(JobSnap, attempt.job_id) if attempt else None
    machine = store.get(MachineSnap, (item.fablab, message.machine_id))
    outcome = uow.apply(reports.apply_job_event(job, attempt, machine, message, source, now)).outcome
    if outcome != "applied":
        log.info("%s/%s: %s %s was %s", item.fablab, item.agent, message.type, message.job_id, outcome)
    return outcome


# ---- births and deaths -------------------------------------------------------------------------


def _state(uow: UnitOfWork, link: LinkSnap, state: p.AgentState) -> str:
    now = uow.now()
    if not state.online:
        if state.boot_seq < link.boot_seq:
            return str(Order.STALE)
        _death(uow, link, now)
        return "death"
    verdict, link = reports.check_birth_order(link, state)
    if verdict not in PROCESSED:
        log.info("%s/%s: %s birth ignored", state.fablab, state.agent, verdict)
        return str(verdict)
    _birth(uow, link, state, now)
    return "birth"


def _death(uow: UnitOfWork, link: LinkSnap, now: datetime) -> None:
    """An agent went away: its machines are offline, but their attempts keep their leases."""
    machines = uow.store.machines_of([(link.fablab, link.agent)])
    uow.apply(Decision(rows=[reports.gone(link, now), *[reports.gone_offline(m, now) for m in machines]]))


def _birth(uow: UnitOfWork, link: LinkSnap, state: p.AgentState, now: datetime) -> None:
    """An agent is online: its machines are as it says, and its jobs are reconciled with its view."""
    store = uow.store
    uow.apply(Decision(rows=[reports.born(link, state, now)]))
    listed = {info.id for info in state.machines}
    for machine in store.machines_of([(state.fablab, state.agent)]):
        if machine.machine_id not in listed:
            uow.apply(Decision(rows=[reports.gone_offline(machine, now)]))
    for info in state.machines:
        store.announce_machine(info, reports.announced(state.fablab, state.agent, info, now))
    uow.apply(reports.reconcile(_current(uow, state), state, now))


def _current(uow: UnitOfWork, state: p.AgentState) -> list[tuple[AttemptSnap, JobSnap, MachineSnap | None]]:
    """The agent's attempts that are their job's current one, with the job and the machine."""
    store = uow.store
    attempts = store.live_attempts(fablab=state.fablab, agent=state.agent)
    jobs = store.jobs({a.job_id for a in attempts})
    machines = store.machines({(a.fablab, a.machine_id) for a in attempts})
    current = []
    for attempt in attempts:
        job = jobs.get(attempt.job_id)
        if job is not None and job.attempt_id == attempt.id and job.state in ACTIVE_STATES:
            current.append((attempt, job, machines.get((attempt.fablab, attempt.machine_id))))
    return current
