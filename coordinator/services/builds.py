"""Builds: start one (explode into jobs, assembly work orders and a purchase list), follow it, end it."""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from coordinator.bom.graph import Bom
from coordinator.fablab import notices
from coordinator.fablab.estimates import filament_grams
from coordinator.jobs import lifecycle
from coordinator.jobs.bus import UnitOfWork
from coordinator.jobs.commands import CancelBuild, OrderPurchases, ReceivePurchases, RetryTask, StartBuild
from coordinator.jobs.lifecycle import FINAL_STATES, JobState
from coordinator.jobs.rows import JobEnded, JobStarted
from coordinator.jobs.submission import JobSpec, queue_jobs, spec_for_part, store_upload
from coordinator.ledger import record as ledger
from coordinator.models.base import aware, utcnow
from coordinator.models.builds import (
    Build,
    BuildState,
    BuildTask,
    FablabProfile,
    PurchaseItem,
    PurchaseState,
    TaskKind,
)
from coordinator.models.jobs import Fablab, Job
from coordinator.planning.breakdown import AssemblyTask, Breakdown, FabTask, PurchaseLine, break_down
from coordinator.planning.durations import Source
from coordinator.planning.matching import closest_machine, eligible
from coordinator.planning.problem import ASSEMBLY_PROCESS
from coordinator.services import designs
from coordinator.services.auth import Actor
from coordinator.services.network import machine_views
from protocol.errors import Conflict, Forbidden, InvalidInput, NotFound

log = logging.getLogger(__name__)

MAX_UNITS = 1000


def start_build(uow: UnitOfWork, command: StartBuild) -> str:
    """Explode a design version into jobs, work orders and purchases, all in one transaction."""
    if not 1 <= command.units <= MAX_UNITS:
        raise InvalidInput(f"units must be between 1 and {MAX_UNITS}, got {command.units}")
    if not command.by.has("builder"):
        raise Forbidden("only a builder or an admin may start a build")
    session = uow.session
    _check_site(session, command.site)
    release = designs.get_version(session, command.design, command.version)
    bom = designs.load_buildable_bom(session, release)
    reports = _reports_by_path(session, release)
    breakdown = break_down(bom, command.units, reports)
    build = Build(design=command.design, design_version=release.version, units=command.units,
                  site=command.site, priority=command.priority, due_at=command.due_at,
                  started_by=command.by.name)  # fmt: skip
    session.add(build)
    session.flush()
    _add_purchases(session, build, breakdown.purchases)
    for fab in breakdown.fab_tasks:
        _add_fab_task(uow, build, fab, reports.get(fab.file, {}))
    with tempfile.TemporaryDirectory(prefix="peerfab-orders-") as tmp:
        for asm in breakdown.assembly_tasks:
            _add_assembly_task(uow, build, asm, bom, Path(tmp))
    _check_matches(session, build, breakdown)
    session.flush()
    if breakdown.purchases:
        lines = [f"{line.quantity:g} × {line.name}" for line in breakdown.purchases]
        notices.purchase_needed(session, build.id, build.design, build.site, lines)
    uow.effects.replan = True
    return build.id


def _check_site(session: Session, site: str) -> None:
    if session.get(Fablab, site) is None and session.get(FablabProfile, site) is None:
        known = sorted(f.id for f in session.exec(select(Fablab)))
        raise InvalidInput(f"unknown build site {site!r}; known fablabs: {', '.join(known) or 'none yet'}")


def _reports_by_path(session: Session, release: Any) -> dict[str, dict[str, Any]]:
    reports = designs.mesh_reports(session, release)
    return {f.path: reports[f.sha256] for f in designs.version_files(session, release) if f.sha256 in reports}


def _add_purchases(session: Session, build: Build, lines: list[PurchaseLine]) -> None:
    for line in lines:
        session.add(
            PurchaseItem(
                build_id=build.id, part_id=line.part_id, name=line.name, quantity=line.quantity,
                unit=line.unit, supplier=line.supplier, mpn=line.mpn, manufacturer=line.manufacturer,
                unit_cost=line.unit_cost, currency=line.currency, lead_time_days=line.lead_time_days,
                url=line.url,
            )
        )  # fmt: skip


def _add_fab_task(uow: UnitOfWork, build: Build, fab: FabTask, report: dict[str, Any]) -> None:
    spec = spec_for_part(
        uow.session, build.design, build.design_version, fab.part_id,
        priority=build.priority, params=_job_params(build, fab.id, fab.copies, fab.minutes,
                                                    **_material_params(fab, report)),
    )  # fmt: skip
    if fab.requirement.nozzle_mm:
        spec = replace(spec, nozzle_mm=fab.requirement.nozzle_mm)
    (job_id,) = queue_jobs(uow, spec, 1, submitted_by=_submitter(build))
    uow.session.add(
        BuildTask(build_id=build.id, task_id=fab.id, kind=TaskKind.FAB, part_id=fab.part_id,
                  copies=fab.copies, minutes=fab.minutes, job_id=job_id)
    )  # fmt: skip


def _material_params(fab: FabTask, report: dict[str, Any]) -> dict[str, Any]:
    """The colour a part asks for, and the filament a printed part is expected to use (from its mesh)."""
    extra: dict[str, Any] = {}
    if fab.requirement.colour:
        extra["colour"] = fab.requirement.colour
    if fab.requirement.process == "fdm_print" and report:
        grams = filament_grams(report, fab.requirement.material, fab.copies)
        if grams is not None:
            extra["filament_g"] = grams
    return extra


def _submitter(build: Build) -> str:
    """Whom a build's jobs are submitted by (the dashboard lists a build's jobs by it)."""
    return f"build {build.id}"


def _job_params(build: Build, task_id: str, copies: int, minutes: float, **extra: Any) -> dict[str, Any]:
    return {"build": build.id, "task": task_id, "copies": copies, "estimated_min": minutes, **extra}


def _add_assembly_task(uow: UnitOfWork, build: Build, asm: AssemblyTask, bom: Bom, tmp: Path) -> None:
    purchased = [c for c in bom.graph[asm.part_id] if bom.parts[c].kind == "purchased"]
    order = _work_order(build, asm, bom)
    path = tmp / f"{asm.id.replace(':', '-')}.json"
    path.write_text(json.dumps(order, indent=2))
    sha, size = store_upload(uow.session, uow.deps.files, path)
    spec = JobSpec(
        file_sha256=sha, file_name=f"work-order-{asm.part_id}-{asm.instance + 1}.json", file_size=size,
        process=ASSEMBLY_PROCESS, design=build.design, design_version=build.design_version,
        part_id=asm.part_id, priority=build.priority,
        params=_job_params(build, asm.id, 1, asm.minutes, site=build.site),
    )  # fmt: skip
    (job_id,) = queue_jobs(uow, spec, 1, submitted_by=_submitter(build))
    uow.session.add(
        BuildTask(build_id=build.id, task_id=asm.id, kind=TaskKind.ASSEMBLY, part_id=asm.part_id,
                  minutes=asm.minutes, depends_on=list(asm.children), needs_purchases=purchased,
                  job_id=job_id)
    )  # fmt: skip


def _work_order(build: Build, asm: AssemblyTask, bom: Bom) -> dict[str, Any]:
    part = bom.parts[asm.part_id]
    return {
        "build": build.id,
        "design": f"{build.design}@{build.design_version}",
        "assembly": asm.part_id,
        "name": part.name,
        "instance": asm.instance + 1,
        "site": build.site,
        "labour_h": round(asm.minutes / 60, 2),
        "parts": [
            {
                "id": child,
                "name": bom.parts[child].name,
                "quantity": attrs["quantity"],
                "unit": bom.parts[child].unit,
            }
            for child, attrs in sorted(bom.graph[asm.part_id].items())
        ],
        "waits_for": list(asm.children),
    }


def _check_matches(session: Session, build: Build, breakdown: Breakdown) -> None:
    """Block the build at once when a part has no eligible machine anywhere, saying why."""
    machines = machine_views(session, include_offline=True)
    problems = []
    seen: set[str] = set()
    for fab in breakdown.fab_tasks:
        if fab.part_id not in seen and not eligible(fab.requirement, machines):
            problems.append(closest_machine(fab.part_id, fab.requirement, machines).message)
        seen.add(fab.part_id)
    if breakdown.assembly_tasks and not any(
        m.process == ASSEMBLY_PROCESS and m.fablab == build.site for m in machines
    ):
        problems.append(
            f"build site {build.site!r} has no assembly bench (a machine with process 'assembly')"
        )
    if problems:
        build.state = BuildState.BLOCKED
        build.reason = "; ".join(problems)


# ---- following a build -------------------------------------------------------------------------


def get_build(session: Session, build_id: str) -> Build:
    build = session.get(Build, build_id)
    if build is None:
        raise NotFound(f"no build {build_id!r}")
    return build


def list_builds(
    session: Session, state: str | None = None, limit: int | None = None, offset: int = 0
) -> list[Build]:
    """Builds, newest first; a page of them when `limit` is given."""
    query = select(Build).order_by(col(Build.created_at).desc())
    if state:
        query = query.where(Build.state == state)
    return list(session.exec(query.offset(offset).limit(limit)))


def build_tasks(session: Session, build_id: str) -> list[tuple[BuildTask, Job | None]]:
    rows = session.exec(
        select(BuildTask, Job)
        .join(Job, col(Job.id) == col(BuildTask.job_id), isouter=True)
        .where(BuildTask.build_id == build_id)
        .order_by(col(BuildTask.id))
    ).all()
    return [(task, job) for task, job in rows]


def purchases(session: Session, build_id: str) -> list[PurchaseItem]:
    return list(
        session.exec(
            select(PurchaseItem).where(PurchaseItem.build_id == build_id).order_by(col(PurchaseItem.part_id))
        )
    )


def receive_purchases(uow: UnitOfWork, command: ReceivePurchases) -> int:
    """Mark purchased parts as received at the build site (all when no part is named)."""
    items = _purchase_lines(uow, command.build_id, command.part_ids, command.by, "receive purchases for")
    build, now, count = get_build(uow.session, command.build_id), utcnow(), 0
    for item in items:
        if item.state != PurchaseState.RECEIVED:
            item.state, item.received_at = PurchaseState.RECEIVED, now
            item.ordered_at = item.ordered_at or item.received_at
            ledger.record_purchase(uow.session, build, item, now)
            count += 1
    uow.effects.wake = uow.effects.wake or count > 0
    uow.effects.replan = uow.effects.replan or count > 0
    return count


def order_purchases(uow: UnitOfWork, command: OrderPurchases) -> int:
    """Mark purchased parts as ordered (all still to order when none is named); their lead time runs."""
    now = utcnow()
    when = aware(command.ordered_at) if command.ordered_at else now
    if when > now:
        raise InvalidInput(f"ordered_at {when.isoformat()} is in the future")
    items = _purchase_lines(uow, command.build_id, command.part_ids, command.by, "order purchases for")
    count = 0
    for item in items:
        if item.state == PurchaseState.TO_ORDER:
            item.state, item.ordered_at = PurchaseState.ORDERED, when
            count += 1
    uow.effects.replan = uow.effects.replan or count > 0
    return count


def _purchase_lines(
    uow: UnitOfWork, build_id: str, part_ids: tuple[str, ...] | None, by: Actor, what: str
) -> list[PurchaseItem]:
    """The build's purchase lines a command names (all when none), once it is allowed."""
    build = get_build(uow.session, build_id)
    _check_owner_or_site_operator(build, by, what)
    if build.state in ENDED:
        raise Conflict(f"build {build.id} has ended ({build.state})")
    items = purchases(uow.session, build.id)
    unknown = set(part_ids or ()) - {i.part_id for i in items}
    if unknown:
        raise InvalidInput(f"build {build.id} buys no part {', '.join(sorted(unknown))}")
    return [item for item in items if part_ids is None or item.part_id in part_ids]


def cancel_build(uow: UnitOfWork, command: CancelBuild) -> str:
    """End a build: whatever it still has queued or running is cancelled."""
    build = get_build(uow.session, command.build_id)
    _check_owner(build, command.by, "cancel")
    if build.state in ENDED:
        raise Conflict(f"build {build.id} has already ended ({build.state})")
    _end(build, BuildState.CANCELLED, f"cancelled by {command.by.name or 'a user'}")
    _cancel_open_jobs(uow, build, command.by.name)
    uow.effects.replan = True
    return build.id


def retry_task(uow: UnitOfWork, command: RetryTask) -> str:
    """Make a failed part again: a new job for the task; the build goes on once nothing else is failed."""
    session = uow.session
    build = get_build(session, command.build_id)
    _check_owner(build, command.by, "make parts again for")
    if build.state in ENDED:
        raise Conflict(f"build {build.id} has ended ({build.state}); start a new build")
    task = _task(session, build.id, command.task_id)
    state = _job_states(uow, build).get(task.task_id)
    job = session.get(Job, task.job_id) if task.job_id else None
    if job is None or state != JobState.FAILED:
        raise Conflict(
            f"task {task.task_id} is {state or 'without a job'}; only a failed part can be made again"
        )
    _replace_job(uow, build, task, job, f"made again by {command.by.name or 'the builder'}")
    _unblock_if_nothing_failed(uow, build)
    uow.effects.replan = True
    return task.job_id or ""


def _task(session: Session, build_id: str, task_id: str) -> BuildTask:
    task = session.exec(
        select(BuildTask).where(BuildTask.build_id == build_id, BuildTask.task_id == task_id)
    ).first()
    if task is None:
        raise NotFound(f"build {build_id} has no task {task_id!r}")
    return task


ENDED = frozenset({BuildState.DONE, BuildState.CANCELLED, BuildState.FAILED})
LIVE = frozenset({BuildState.ACTIVE, BuildState.BLOCKED})


def _end(build: Build, state: BuildState, reason: str = "") -> None:
    build.state, build.reason, build.ended_at = state, reason, utcnow()


def _job_states(uow: UnitOfWork, build: Build) -> dict[str, str | None]:
    """Each task's job state as this unit of work sees it (its own changes included)."""
    tasks = uow.session.exec(select(BuildTask).where(BuildTask.build_id == build.id)).all()
    jobs = uow.store.jobs({t.job_id for t in tasks if t.job_id})
    return {t.task_id: (jobs[t.job_id].state if t.job_id in jobs else None) for t in tasks}


def _cancel_open_jobs(uow: UnitOfWork, build: Build, by: str) -> None:
    tasks = uow.session.exec(select(BuildTask).where(BuildTask.build_id == build.id)).all()
    for task in tasks:
        snap, attempt, machine = uow.store.job_at_machine(task.job_id) if task.job_id else (None, None, None)
        if snap is not None and snap.state not in FINAL_STATES:
            uow.apply(lifecycle.cancel(snap, attempt, machine, by or f"build {build.id}", uow.now()))


def _check_owner(build: Build, actor: Actor, what: str) -> None:
    if actor.is_admin or (actor.role == "builder" and actor.name == build.started_by):
        return
    raise Forbidden(
        f"{actor.name or 'this token'} may not {what} build {build.id}: it was started by someone else"
    )


def _check_owner_or_site_operator(build: Build, actor: Actor, what: str) -> None:
    if actor.role == "operator" and actor.may_act_on(build.site):
        return
    _check_owner(build, actor, what)


# ---- what a build does when its jobs move ----------------------------------------------------------


def on_job_started(uow: UnitOfWork, event: JobStarted) -> None:
    """A machine started on a build's part: the task's actual start."""
    task = _task_of_job(uow.session, event.job_id)
    if task is not None and task.actual_start is None:
        task.actual_start = event.at


def on_job_ended(uow: UnitOfWork, event: JobEnded) -> None:
    """A build's job ended: record it, and keep the build true to its parts (docs/jobs.md)."""
    session = uow.session
    task = _task_of_job(session, event.job_id)
    if task is None:
        return
    build = get_build(session, task.build_id)
    if build.state not in LIVE:
        return
    if event.state == JobState.DONE:
        task.actual_end = event.at
        _finish_if_complete(uow, build)
    elif event.state == JobState.CANCELLED:
        job = session.get(Job, event.job_id)
        if job is not None:
            _replace_job(uow, build, task, job, event.reason)
    elif event.state == JobState.FAILED:
        build.state = BuildState.BLOCKED
        build.reason = f"part {task.part_id} ({task.task_id}) failed: {event.reason}; make it again to go on"
        uow.effects.replan = True


def _task_of_job(session: Session, job_id: str) -> BuildTask | None:
    return session.exec(select(BuildTask).where(BuildTask.job_id == job_id)).first()


def _finish_if_complete(uow: UnitOfWork, build: Build) -> None:
    states = _job_states(uow, build).values()
    if states and all(state == JobState.DONE for state in states):
        _end(build, BuildState.DONE)
        notices.build_done(uow.session, build.id, build.design, build.site)
        uow.effects.replan = True


def _replace_job(uow: UnitOfWork, build: Build, task: BuildTask, job: Job, why: str) -> None:
    """The part is still needed: a fresh queued job for the task, naming the one it replaces."""
    spec = JobSpec(
        file_sha256=job.file_sha256, file_name=job.file_name, file_size=job.file_size, process=job.process,
        material=job.material, min_box_mm=tuple(job.min_box_mm) if job.min_box_mm else None,  # type: ignore[arg-type]
        nozzle_mm=job.nozzle_mm, design=job.design, design_version=job.design_version, part_id=job.part_id,
        priority=job.priority, max_attempts=job.max_attempts, params={**job.params, "replaces": job.id},
    )  # fmt: skip
    (task.job_id,) = queue_jobs(uow, spec, 1, submitted_by=_submitter(build))
    task.actual_start = task.actual_end = None
    uow.effects.replan = True
    log.info("build %s: task %s queued again (%s)", build.id, task.task_id, why)


def _unblock_if_nothing_failed(uow: UnitOfWork, build: Build) -> None:
    failed = [task for task, state in _job_states(uow, build).items() if state == JobState.FAILED]
    if build.state == BuildState.BLOCKED and not failed:
        build.state, build.reason = BuildState.ACTIVE, ""


# ---- reporting ---------------------------------------------------------------------------------


def build_report(session: Session, build: Build) -> dict[str, Any]:
    """Progress per sub-assembly, expected finish, what is late and why, purchases with costs."""
    rows = build_tasks(session, build.id)
    now = utcnow()
    done = {t.task_id for t, j in rows if j is not None and j.state == JobState.DONE}
    items = purchases(session, build.id)
    return {
        "id": build.id,
        "design": build.design,
        "version": build.design_version,
        "units": build.units,
        "site": build.site,
        "priority": build.priority,
        "state": build.state,
        "reason": build.reason,
        "created_at": _iso(build.created_at),
        "ended_at": _iso(build.ended_at),
        "due_at": _iso(build.due_at),
        "expected_finish_at": _iso(build.planned_finish_at),
        "lower_bound_min": build.lower_bound_min,
        "progress": {"done": len(done), "total": len(rows)},
        "assemblies": _assembly_progress(rows, done),
        "late": _late(build, rows, done, items, now),
        "waiting_for_purchases": waiting_for_purchases(build, rows, items, done, now),
        "tasks": [_task_row(task, job) for task, job in rows],
        "purchases": _purchase_rows(items),
        "material": material_used(session, build.id),
    }


def expected_arrival(build: Build, item: PurchaseItem, now: datetime) -> datetime | None:
    """When a purchased part should be at the build site: ordered at (or, not ordered yet, now) plus
    the supplier's lead time; None when the lead time is unknown."""
    if item.state == PurchaseState.RECEIVED:
        return aware(item.received_at) if item.received_at else None
    if item.lead_time_days is None:
        return None
    start = aware(item.ordered_at) if item.ordered_at else now
    return start + timedelta(days=item.lead_time_days)


def waiting_for_purchases(
    build: Build, rows: list[tuple[BuildTask, Job | None]], items: list[PurchaseItem], done: set[str],
    now: datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """Purchased parts unfinished tasks need that have not arrived: what, since when, until when."""
    needed = {p for task, _ in rows if task.task_id not in done for p in task.needs_purchases}
    waiting = []
    for item in items:
        if item.part_id not in needed or item.state == PurchaseState.RECEIVED:
            continue
        since = aware(item.ordered_at) if item.ordered_at else aware(build.created_at)
        arrival = expected_arrival(build, item, now)
        tasks = sorted(t.task_id for t, _ in rows
                       if t.task_id not in done and item.part_id in t.needs_purchases)  # fmt: skip
        waiting.append(
            {"part": item.part_id, "name": item.name, "state": item.state, "tasks": tasks,
             "since": since.isoformat(), "expected_at": arrival.isoformat() if arrival else None}
        )  # fmt: skip
    return waiting


def material_used(session: Session, build_id: str) -> dict[str, Any]:
    """Filament the build's jobs used (and expect to), and what it cost, from their runs."""
    from coordinator.models.fablab import JobRun

    runs = session.exec(select(JobRun).where(JobRun.build_id == build_id)).all()
    used = sum(r.filament_used_g or 0.0 for r in runs if r.ended_at is not None)
    running = sum(r.filament_estimate_g or 0.0 for r in runs if r.ended_at is None)
    costs: dict[str, float] = {}
    for run in runs:
        if run.cost is not None:
            costs[run.currency] = round(costs.get(run.currency, 0.0) + run.cost, 2)
    return {"used_g": round(used, 1), "in_progress_g": round(running, 1), "runs": len(runs), "cost": costs}


def _assembly_progress(rows: list[tuple[BuildTask, Job | None]], done: set[str]) -> list[dict[str, Any]]:
    """For each sub-assembly: its instances and the part copies made for it, done / total."""
    groups: dict[str, dict[str, Any]] = {}
    kinds = {t.task_id: t for t, _ in rows}
    for task, _ in rows:
        if task.kind != TaskKind.ASSEMBLY:
            continue
        group = groups.setdefault(task.part_id, {"assembly": task.part_id, "done": 0, "total": 0,
                                                 "parts_done": 0, "parts_total": 0})  # fmt: skip
        group["total"] += 1
        group["done"] += int(task.task_id in done)
        for child in task.depends_on:
            child_task = kinds.get(child)
            if child_task is not None and child_task.kind == TaskKind.FAB:
                group["parts_total"] += child_task.copies
                group["parts_done"] += child_task.copies if child in done else 0
    return sorted(groups.values(), key=lambda g: g["assembly"])


def _late(
    build: Build, rows: list[tuple[BuildTask, Job | None]], done: set[str], items: list[PurchaseItem],
    now: datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    received = {p.part_id for p in items if p.state == PurchaseState.RECEIVED}
    not_ordered = {p.part_id for p in items if p.state == PurchaseState.TO_ORDER}
    late = []
    needed = {p for task, _ in rows if task.task_id not in done for p in task.needs_purchases}
    to_order = sorted(needed & not_ordered)
    if to_order:
        late.append({"task": None, "why": f"purchased parts not ordered yet: {', '.join(to_order)}",
                     "estimate_source": None})  # fmt: skip
    if build.due_at and build.planned_finish_at and aware(build.planned_finish_at) > aware(build.due_at):
        hours = (aware(build.planned_finish_at) - aware(build.due_at)).total_seconds() / 3600
        late.append({"task": None, "why": f"expected to finish {hours:.1f} h after the due date",
                     "estimate_source": None})  # fmt: skip
    for task, job in rows:
        if task.task_id in done or task.planned_end is None or aware(task.planned_end) >= now:
            continue
        late.append({"task": task.task_id, "why": _why_waiting(task, job, done, received),
                     "estimate_source": estimate_source(task)})  # fmt: skip
    return late


def _why_waiting(task: BuildTask, job: Job | None, done: set[str], received: set[str]) -> str:
    missing_parts = [p for p in task.needs_purchases if p not in received]
    if missing_parts:
        return f"waiting for purchased parts: {', '.join(missing_parts)}"
    waiting = [d for d in task.depends_on if d not in done]
    if waiting:
        return f"waiting for {', '.join(waiting[:5])}" + (" and more" if len(waiting) > 5 else "")
    if job is None:
        return "no job"
    if job.state == JobState.QUEUED:
        return f"queued for {task.planned_machine or 'a machine'}" + (
            f" (last attempt: {job.reason})" if job.reason else ""
        )
    return f"{job.state.replace('_', ' ')} on {job.fablab}/{job.machine_id}, {job.progress:.0%} done"


def _iso(moment: datetime | None) -> str | None:
    # with its offset: SQLite hands times back naive, and a time without one is read as local
    return aware(moment).isoformat() if moment else None


def estimate_source(task: BuildTask) -> str:
    """Which figure the task's planned duration came from; a task not planned has the breakdown's."""
    return task.planned_source if task.planned_machine and task.planned_source else Source.MESH


def _task_row(task: BuildTask, job: Job | None) -> dict[str, Any]:
    return {
        "task": task.task_id,
        "kind": task.kind,
        "part": task.part_id,
        "copies": task.copies,
        "estimated_min": task.minutes,
        "depends_on": task.depends_on,
        "job": task.job_id,
        "state": job.state if job else None,
        "progress": job.progress if job else 0.0,
        "machine": f"{job.fablab}/{job.machine_id}" if job and job.machine_id else None,
        "planned_machine": task.planned_machine,
        "planned_start": _iso(task.planned_start),
        "planned_end": _iso(task.planned_end),
        "estimate_source": estimate_source(task),
        "actual_start": _iso(task.actual_start),
        "actual_end": _iso(task.actual_end),
    }


def _purchase_rows(items: list[PurchaseItem]) -> dict[str, Any]:
    totals: dict[str, float] = {}
    lines = []
    for item in items:
        total = None if item.unit_cost is None else round(item.unit_cost * item.quantity, 2)
        if total is not None:
            totals[item.currency] = round(totals.get(item.currency, 0.0) + total, 2)
        lines.append({"part": item.part_id, "name": item.name, "quantity": item.quantity, "unit": item.unit,
                      "supplier": item.supplier, "mpn": item.mpn, "unit_cost": item.unit_cost,
                      "currency": item.currency, "total": total, "lead_time_days": item.lead_time_days,
                      "state": item.state, "ordered_at": _iso(item.ordered_at),
                      "received_at": _iso(item.received_at)})  # fmt: skip
    return {"lines": lines, "totals": totals}
