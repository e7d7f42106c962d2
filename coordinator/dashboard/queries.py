"""What the dashboard pages read: machines with their current jobs, jobs with their history, builds' jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from coordinator.dashboard.present import Badge, machine_badge
from coordinator.fablab.conditions import Condition, machine_conditions
from coordinator.jobs import queries as machine_service
from coordinator.jobs.lifecycle import ACTIVE_STATES
from coordinator.models.jobs import AgentLink, Job, JobEvent, Machine
from coordinator.planning.matching import LoadedSpool


@dataclass(frozen=True)
class MachineCard:
    """A machine as its card shows it."""

    machine: Machine
    badge: Badge
    job: Job | None
    agent_online: bool
    condition: Condition | None = None  # its loaded spool and maintenance hold

    @property
    def spool(self) -> LoadedSpool | None:
        return self.condition.spool if self.condition else None

    @property
    def held(self) -> str:
        return self.condition.held if self.condition else ""

    @property
    def status(self) -> str:
        """The machine's status as shown: a machine whose agent is gone is offline."""
        return self.machine.status if self.agent_online else "offline"

    @property
    def key(self) -> str:
        return f"{self.machine.fablab}/{self.machine.machine_id}"

    @property
    def materials(self) -> list[str]:
        return list(self.machine.capabilities.get("materials") or [])

    @property
    def process(self) -> str:
        return str(self.machine.capabilities.get("process") or "")


@dataclass(frozen=True)
class FablabSection:
    id: str
    name: str
    agents: list[dict[str, Any]]
    cards: list[MachineCard]


def active_jobs(session: Session) -> dict[tuple[str, str], Job]:
    """The job each machine is working on, keyed by (fablab, machine id)."""
    query = select(Job).where(col(Job.state).in_(list(ACTIVE_STATES)))
    return {(j.fablab, j.machine_id): j for j in session.exec(query).all() if j.fablab and j.machine_id}


def _links(session: Session) -> dict[tuple[str, str], bool]:
    return {(ln.fablab, ln.agent): ln.online for ln in session.exec(select(AgentLink)).all()}


def card(
    machine: Machine,
    jobs: dict[tuple[str, str], Job],
    links: dict[tuple[str, str], bool],
    conditions: dict[tuple[str, str], Condition] | None = None,
) -> MachineCard:
    online = links.get((machine.fablab, machine.agent), False)
    process = str(machine.capabilities.get("process") or "")
    badge = machine_badge(machine.status if online else "offline", process)
    key = (machine.fablab, machine.machine_id)
    return MachineCard(machine, badge, jobs.get(key), online, (conditions or {}).get(key))


def fablab_sections(session: Session) -> list[FablabSection]:
    """Every fablab with its agents and machine cards."""
    jobs, links, conditions = active_jobs(session), _links(session), machine_conditions(session)
    cards = [card(m, jobs, links, conditions) for m in machine_service.list_machines(session)]
    return [
        FablabSection(
            lab["id"], lab["name"], lab["agents"], [c for c in cards if c.machine.fablab == lab["id"]]
        )
        for lab in machine_service.list_fablabs(session)
    ]


def machine_card(session: Session, fablab: str, machine_id: str) -> MachineCard:
    machine = machine_service.get_machine(session, fablab, machine_id)
    return card(machine, active_jobs(session), _links(session), machine_conditions(session))


def status_counts(cards: list[MachineCard]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in cards:
        counts[item.badge.label] = counts.get(item.badge.label, 0) + 1
    return counts


def build_jobs(session: Session, build_id: str) -> dict[str, str]:
    """Every job a build has submitted (replaced ones too), mapped to the task it was made for."""
    query = select(Job).where(Job.submitted_by == f"build {build_id}").order_by(col(Job.created_at))
    return {job.id: str(job.params.get("task", "")) for job in session.exec(query).all()}


def job_events(session: Session, job_ids: list[str], limit: int) -> list[JobEvent]:
    """The newest events of these jobs, newest first."""
    if not job_ids:
        return []
    query = (
        select(JobEvent)
        .where(col(JobEvent.job_id).in_(job_ids))
        .order_by(col(JobEvent.id).desc())
        .limit(limit)
    )
    return list(session.exec(query).all())
