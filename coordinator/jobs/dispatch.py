"""Which queued job goes to which idle machine: the policies (FIFO, plan-following) and a round.

A round reads the idle machines and the queue (in pages, see `choose_in_pages`), lets the policy
pair them, and offers each pair through the lifecycle, all in one unit of work. The jobs a policy
matches first-in first-out are taken in queue order, or, with reciprocity on, in the order of
`coordinator/jobs/reciprocity.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from coordinator.fablab.conditions import Condition, machine_conditions, with_condition
from coordinator.fablab.statistics import measured_speeds
from coordinator.jobs import lifecycle
from coordinator.jobs.bus import UnitOfWork
from coordinator.jobs.lifecycle import LIVE_ATTEMPT_STATES, JobState
from coordinator.jobs.queries import machine_estimates
from coordinator.jobs.reciprocity import ReciprocityOrder
from coordinator.jobs.submission import new_id
from coordinator.models.builds import Build, BuildState, BuildTask, PurchaseItem, PurchaseState
from coordinator.models.jobs import AgentLink, Job, JobAttempt, Machine
from coordinator.planning.durations import NO_MEASURES, MachineEstimate, duration
from coordinator.planning.matching import MachineView, Requirement, shortcomings
from coordinator.services.network import machine_key, online_machine_keys, view_from_capabilities
from coordinator.settings import Settings
from protocol import payloads as p
from protocol.payloads import MachineStatus


@dataclass(frozen=True)
class QueuedJob:
    """A queued job as a policy sees it."""

    id: str
    process: str
    material: str | None
    min_box_mm: tuple[float, ...] | None
    nozzle_mm: float | None
    priority: int
    created_at: datetime
    avoid: frozenset[tuple[str, str]] = frozenset()
    site: str | None = None  # the fablab it must be made at (assembly at the build site)
    colour: str | None = None  # the colour the part asks for
    filament_g: float | None = None  # what printing it is expected to use (machine's slicer, else mesh)


@dataclass(frozen=True)
class IdleMachine:
    """An online, idle machine with no live attempt."""

    fablab: str
    agent: str
    machine_id: str
    capabilities: dict[str, Any]
    condition: Condition | None = None  # its loaded spool and maintenance hold

    @property
    def key(self) -> tuple[str, str]:
        return (self.fablab, self.machine_id)


class DispatchPolicy(Protocol):
    """Pairs queued jobs with idle machines; each machine and each job at most once.

    `lookahead`: how many queued jobs a round shows it at least (its order may reach past the first).
    """

    lookahead: int

    def choose(
        self, session: Session, queued_jobs: Sequence[QueuedJob], idle_machines: Sequence[IdleMachine]
    ) -> list[tuple[QueuedJob, IdleMachine]]: ...


@dataclass(frozen=True)
class OfferSettings:
    lease_s: float = 60.0
    files_url: str = "http://127.0.0.1:8400/api/v1/files"
    max_jobs: int = 2000


def requirement(job: QueuedJob) -> Requirement:
    box = job.min_box_mm
    return Requirement(
        process=job.process,
        material=job.material,
        min_box_mm=(box[0], box[1], box[2]) if box and len(box) == 3 else None,
        nozzle_mm=job.nozzle_mm,
        colour=job.colour,
        filament_g=job.filament_g,
    )


def machine_view(machine: IdleMachine) -> MachineView:
    view = view_from_capabilities(machine.fablab, machine.machine_id, machine.capabilities)
    return with_condition(view, machine.condition)


def eligible(job: QueuedJob, machine: IdleMachine) -> bool:
    """True when the machine can make the job (the matching rules) and has not turned it down."""
    if machine.key in job.avoid or (job.site is not None and machine.fablab != job.site):
        return False
    return not shortcomings(requirement(job), machine_view(machine))


class FifoPolicy:
    """Highest priority, then oldest job first (or in `order`), each to the first eligible idle machine."""

    order: ReciprocityOrder | None = None
    lookahead: int = 0

    def __init__(self, order: ReciprocityOrder | None = None) -> None:
        self.order = order
        self.lookahead = order.lookahead if order is not None else 0

    def choose(
        self, session: Session, queued_jobs: Sequence[QueuedJob], idle_machines: Sequence[IdleMachine]
    ) -> list[tuple[QueuedJob, IdleMachine]]:
        free = list(idle_machines)
        pairs: list[tuple[QueuedJob, IdleMachine]] = []
        for job in self.ordered(session, queued_jobs):
            if not free:
                break
            match = next((m for m in free if eligible(job, m)), None)
            if match is not None:
                free.remove(match)
                pairs.append((job, match))
        return pairs

    def ordered(self, session: Session, queued_jobs: Sequence[QueuedJob]) -> list[QueuedJob]:
        """The jobs in the order they get machines: the queue's, or the configured order's."""
        if self.order is not None and len(queued_jobs) > 1:
            return self.order(session, queued_jobs)
        return sorted(queued_jobs, key=lambda j: (-j.priority, j.created_at, j.id))


@dataclass(frozen=True)
class _Planned:
    job: QueuedJob
    machine: str | None
    start: float


class PlanPolicy:
    """Follow the plan: a free machine gets its next planned job whose inputs are ready.

    A job goes to another machine only when its planned machine is gone (offline, removed); jobs
    that are not part of a build, or not planned yet, are matched first-in first-out (or in `order`).
    """

    def __init__(self, order: ReciprocityOrder | None = None) -> None:
        self.fallback = FifoPolicy(order)
        self.lookahead = self.fallback.lookahead

    def choose(
        self, session: Session, queued_jobs: Sequence[QueuedJob], idle_machines: Sequence[IdleMachine]
    ) -> list[tuple[QueuedJob, IdleMachine]]:
        planned, unplanned = _split(session, queued_jobs)
        online = online_machine_keys(session)
        pairs: list[tuple[QueuedJob, IdleMachine]] = []
        free: list[IdleMachine] = []
        stuck: set[str] = set()  # planned jobs their idle machine cannot take now (spool, maintenance)
        for machine in idle_machines:
            key = f"{machine.fablab}/{machine.machine_id}"
            mine = sorted((p for p in planned if p.machine == key), key=lambda p: p.start)
            fits = [p for p in mine if eligible(p.job, machine)]
            stuck.update(p.job.id for p in mine if p not in fits)
            if fits:
                planned.remove(fits[0])
                pairs.append((fits[0].job, machine))
            else:
                free.append(machine)
        orphans = [
            p.job for p in planned if p.machine is None or p.machine not in online or p.job.id in stuck
        ]
        pairs += self.fallback.choose(session, [*unplanned, *orphans], free)
        return pairs


def _split(session: Session, queued: Sequence[QueuedJob]) -> tuple[list[_Planned], list[QueuedJob]]:
    """Ready build jobs with their plan, and jobs that belong to no build."""
    by_id = {j.id: j for j in queued}
    tasks = session.exec(select(BuildTask).where(col(BuildTask.job_id).in_(list(by_id)))).all()
    in_builds = {t.job_id for t in tasks}
    ready = _ready_tasks(session, tasks)
    planned = [
        _Planned(by_id[t.job_id], t.planned_machine, t.planned_start.timestamp() if t.planned_start else 0.0)
        for t in tasks
        if t.job_id in by_id and t.id in ready
    ]
    return planned, [j for j in queued if j.id not in in_builds]


def _ready_tasks(session: Session, tasks: Sequence[BuildTask]) -> set[int | None]:
    """Tasks of live builds whose predecessor jobs are done and whose purchased parts arrived."""
    build_ids = {t.build_id for t in tasks}
    live = set(
        session.exec(
            select(Build.id).where(
                col(Build.id).in_(build_ids), col(Build.state).in_([BuildState.ACTIVE, BuildState.BLOCKED])
            )
        ).all()
    )
    done = {
        (task.build_id, task.task_id)
        for task, state in session.exec(
            select(BuildTask, Job.state)
            .join(Job, col(Job.id) == col(BuildTask.job_id))
            .where(col(BuildTask.build_id).in_(live))
        ).all()
        if state == JobState.DONE
    }
    received = {
        (p.build_id, p.part_id)
        for p in session.exec(select(PurchaseItem).where(col(PurchaseItem.build_id).in_(live)))
        if p.state == PurchaseState.RECEIVED
    }
    return {
        t.id
        for t in tasks
        if t.build_id in live
        and all((t.build_id, d) in done for d in t.depends_on)
        and all((t.build_id, p) in received for p in t.needs_purchases)
    }


def dispatch_policy(settings: Settings) -> DispatchPolicy:
    """The policy the settings ask for; with reciprocity on, what it matches first-in first-out is
    taken in reciprocity order (with `plan`, the jobs the plan does not place)."""
    order = ReciprocityOrder(settings.reciprocity) if settings.reciprocity.enabled else None
    return PlanPolicy(order) if settings.dispatch.policy == "plan" else FifoPolicy(order)


# ---- one round ---------------------------------------------------------------------------------


def dispatch_round(uow: UnitOfWork, policy: DispatchPolicy, settings: OfferSettings) -> int:
    """Offer queued jobs to idle machines as the policy decides; return the number of offers."""
    machines = idle_machines(uow.session)
    if not machines:
        return 0
    pairs = choose_in_pages(uow.session, policy, machines, settings.max_jobs)
    if not pairs:
        return 0
    details = _offer_details(uow.session, [job.id for job, _ in pairs])
    speeds = measured_speeds(uow.session, {machine.machine_id for _, machine in pairs})
    jobs = uow.store.jobs(details)
    snaps = uow.store.machines([machine.key for _, machine in pairs])
    now, offered = uow.now(), 0
    for queued, machine in pairs:
        job, snap = jobs.get(queued.id), snaps.get(machine.key)
        if job is None or snap is None:
            continue
        attempt_id = new_id()
        command = offer_command(job.id, details[job.id], attempt_id, machine, settings, speeds)
        decision = lifecycle.offer(job, snap, attempt_id=attempt_id, lease_s=settings.lease_s, now=now,
                                   command=command)  # fmt: skip
        if decision.outcome == "applied":
            uow.apply(decision)
            offered += 1
    return offered


# a page holds a job per machine still free and this many more; each further page is twice as long
PAGE_SLACK = 16


def choose_in_pages(
    session: Session, policy: DispatchPolicy, machines: Sequence[IdleMachine], max_jobs: int
) -> list[tuple[QueuedJob, IdleMachine]]:
    """The policy's pairs, reading the queue in its order a page at a time, up to `max_jobs` jobs.

    The first page holds at least the policy's `lookahead` jobs (an order that may move a job ahead
    needs to see it).
    The next page is read only while machines are left over and the queue goes on: jobs that no
    free machine could take (another process, a planned machine that is busy) are passed over, and
    the jobs behind them still reach the free machines. Pages grow twice as long each time, so a
    long run of jobs no free machine can take costs a few queries.
    """
    pairs: list[tuple[QueuedJob, IdleMachine]] = []
    free = list(machines)
    last: QueuedJob | None = None
    size, read = max(len(free) + PAGE_SLACK, policy.lookahead), 0
    while free and read < max_jobs:
        wanted = min(size, max_jobs - read)
        page = queued_jobs(session, wanted, after=last)
        if not page:
            break
        read += len(page)
        found = policy.choose(session, page, free)
        pairs += found
        taken = {machine.key for _, machine in found}
        free = [machine for machine in free if machine.key not in taken]
        if len(page) < wanted:
            break  # the queue ended
        last, size = page[-1], 2 * size
    return pairs


def idle_machines(session: Session) -> list[IdleMachine]:
    """Idle machines of online agents that hold no live attempt, with their spool and maintenance hold."""
    busy = set(
        session.exec(
            select(JobAttempt.fablab, JobAttempt.machine_id).where(
                col(JobAttempt.state).in_(list(LIVE_ATTEMPT_STATES))
            )
        ).all()
    )
    query = (
        select(Machine.fablab, Machine.agent, Machine.machine_id, Machine.capabilities)
        .join(
            AgentLink,
            and_(col(AgentLink.fablab) == col(Machine.fablab), col(AgentLink.agent) == col(Machine.agent)),
        )
        .where(Machine.status == MachineStatus.IDLE, col(AgentLink.online).is_(True))
        .order_by(col(Machine.fablab), col(Machine.machine_id))
    )
    rows = [row for row in session.exec(query).all() if (row[0], row[2]) not in busy]
    conditions = (
        machine_conditions(session, machines=[(f, m, caps) for f, _a, m, caps in rows]) if rows else {}
    )
    return [
        IdleMachine(fablab, agent, machine_id, dict(capabilities or {}), conditions.get((fablab, machine_id)))
        for fablab, agent, machine_id, capabilities in rows
    ]


def queued_jobs(session: Session, limit: int, after: QueuedJob | None = None) -> list[QueuedJob]:
    """The queue in policy order, up to `limit` jobs (behind `after`), with the machines each should avoid."""
    rows = session.execute(queue_query(limit, after)).all()
    avoid = _rejections(session, [row[0] for row in rows if row[7]])
    return [
        QueuedJob(
            id=job_id,
            process=process,
            material=material,
            min_box_mm=tuple(box) if box else None,
            nozzle_mm=nozzle,
            priority=priority,
            created_at=created_at,
            avoid=frozenset(avoid.get(job_id, ())),
            site=(params or {}).get("site"),
            colour=(params or {}).get("colour") or None,
            filament_g=_filament_g(filament, params),
        )
        for job_id, process, material, box, nozzle, priority, created_at, _attempts, params, filament in rows
    ]


def _filament_g(measured: float | None, params: dict[str, Any] | None) -> float | None:
    """What a job will use: its machine's slicer figure once known, else the build's mesh estimate."""
    if measured is not None:
        return float(measured)
    guess = (params or {}).get("filament_g")
    return float(guess) if isinstance(guess, int | float) else None


def queue_query(limit: int, after: QueuedJob | None = None) -> Select[Any]:
    """The first `limit` queued jobs, highest priority then oldest: the order of ix_job_queue_order.

    With `after`, the jobs behind that one in this order (a keyset page, so a job submitted or
    taken between two pages moves no other job from one page to the next).
    """
    query = sa_select(*_QUEUED_COLUMNS).where(col(Job.state) == JobState.QUEUED)
    if after is not None:
        query = query.where(_behind(after))
    return query.order_by(col(Job.priority).desc(), col(Job.created_at), col(Job.id)).limit(limit)


def _behind(job: QueuedJob) -> Any:
    """Jobs after `job` in queue order (priority descends while the other two ascend)."""
    priority, created_at, job_id = col(Job.priority), col(Job.created_at), col(Job.id)
    same_time_later = and_(created_at == job.created_at, job_id > job.id)
    same_priority_later = and_(priority == job.priority, or_(created_at > job.created_at, same_time_later))
    return or_(priority < job.priority, same_priority_later)


_QUEUED_COLUMNS = (
    col(Job.id),
    col(Job.process),
    col(Job.material),
    col(Job.min_box_mm),
    col(Job.nozzle_mm),
    col(Job.priority),
    col(Job.created_at),
    col(Job.attempts),
    col(Job.params),
    col(Job.filament_g),
)


def _rejections(session: Session, job_ids: list[str]) -> dict[str, set[tuple[str, str]]]:
    """Machines that turned a job down: a rejection (file, limits) would only repeat there."""
    if not job_ids:
        return {}
    rows = session.exec(
        select(JobAttempt.job_id, JobAttempt.fablab, JobAttempt.machine_id)
        .where(col(JobAttempt.job_id).in_(job_ids))
        .where(JobAttempt.state == "rejected")
    ).all()
    result: dict[str, set[tuple[str, str]]] = {}
    for job_id, fablab, machine_id in rows:
        result.setdefault(job_id, set()).add((fablab, machine_id))
    return result


# ---- the offer command -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Details:
    """What an offer tells the machine about its job: the file, the requirements, the parameters."""

    process: str
    material: str | None
    min_box_mm: list[float] | None
    nozzle_mm: float | None
    file_sha256: str
    file_name: str
    file_size: int
    params: dict[str, Any]
    own: MachineEstimate | None = None  # the estimate of the machine that prepared its file last


def _offer_details(session: Session, job_ids: list[str]) -> dict[str, _Details]:
    rows = session.exec(select(Job).where(col(Job.id).in_(job_ids))).all()
    own = machine_estimates(session, job_ids)
    return {
        job.id: _Details(
            job.process,
            job.material,
            job.min_box_mm,
            job.nozzle_mm,
            job.file_sha256,
            job.file_name,
            job.file_size,
            dict(job.params or {}),
            own.get(job.id),
        )  # fmt: skip
        for job in rows
    }


def offer_command(
    job_id: str, job: _Details, attempt_id: str, machine: IdleMachine, settings: OfferSettings,
    measured: Mapping[str, float] = NO_MEASURES,
) -> p.JobOffer:  # fmt: skip
    """The job:offer command for a job's new attempt on `machine` (`measured`: speed factors by key)."""
    requirements = {"process": job.process, "material": job.material, "min_box_mm": job.min_box_mm,
                    "nozzle_mm": job.nozzle_mm}  # fmt: skip
    return p.JobOffer(
        job_id=job_id,
        attempt_id=attempt_id,
        machine_id=machine.machine_id,
        lease_s=settings.lease_s,
        file=p.FileRef(
            url=f"{settings.files_url}/{job.file_sha256}",
            sha256=job.file_sha256,
            size=job.file_size,
            name=job.file_name,
        ),  # fmt: skip
        requirements={k: v for k, v in requirements.items() if v is not None},
        estimated_s=_estimated_s(job, machine, measured),
        params=dict(job.params),
    )


def _estimated_s(job: _Details, machine: IdleMachine, measured: Mapping[str, float]) -> float | None:
    """How long the job takes on this machine, by the planner's rule (coordinator/planning/durations.py);
    None for a job with neither a breakdown estimate nor this machine's own."""
    minutes = job.params.get("estimated_min")
    minutes = float(minutes) if isinstance(minutes, int | float) and minutes > 0 else 0.0
    speed = float(machine.capabilities.get("speed_factor") or 1.0)
    took = duration(minutes, machine_key(*machine.key), speed, measured, job.own)
    return took.minutes * 60.0 if took.minutes > 0 else None
