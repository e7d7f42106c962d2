"""Builds: start one (explode into jobs, assembly work orders and a purchase list), follow it, end it."""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from coordinator.bom.graph import Bom
from coordinator.filestore import FileStore
from coordinator.models.builds import (
    Build,
    BuildState,
    BuildTask,
    FablabProfile,
    PurchaseItem,
    PurchaseState,
    TaskKind,
)
from coordinator.models.jobs import FINAL_STATES, Fablab, Job, JobState
from coordinator.planning.breakdown import AssemblyTask, Breakdown, FabTask, PurchaseLine, break_down
from coordinator.planning.matching import closest_machine, eligible
from coordinator.planning.problem import ASSEMBLY_PROCESS
from coordinator.services import designs, jobs
from coordinator.services.jobs import JobSpec, aware, utcnow
from coordinator.services.network import machine_views
from protocol.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

MAX_UNITS = 1000
MAX_REPLACEMENTS = 2  # a task whose job failed for good gets this many fresh jobs before the build fails


def start_build(
    session: Session,
    store: FileStore,
    *,
    design: str,
    version: str = "latest",
    units: int = 1,
    site: str,
    priority: int = 0,
    due_at: datetime | None = None,
    by: str = "",
) -> Build:
    """Explode a design version into jobs, work orders and purchases; all in one transaction."""
    if not 1 <= units <= MAX_UNITS:
        raise InvalidInput(f"units must be between 1 and {MAX_UNITS}, got {units}")
    _check_site(session, site)
    release = designs.get_version(session, design, version)
    bom = designs.load_bom(session, release)
    breakdown = break_down(bom, units, _reports_by_path(session, release))
    build = Build(design=design, design_version=release.version, units=units, site=site,
                  priority=priority, due_at=due_at, started_by=by)  # fmt: skip
    session.add(build)
    session.flush()
    files = {f.path: f.sha256 for f in designs.version_files(session, release)}
    _add_purchases(session, build, breakdown.purchases)
    for fab in breakdown.fab_tasks:
        _add_fab_task(session, build, fab, bom, files)
    with tempfile.TemporaryDirectory(prefix="peerfab-orders-") as tmp:
        for asm in breakdown.assembly_tasks:
            _add_assembly_task(session, store, build, asm, bom, Path(tmp))
    _check_matches(session, build, breakdown)
    session.flush()
    return build


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


def _add_fab_task(session: Session, build: Build, fab: FabTask, bom: Bom, files: dict[str, str]) -> None:
    spec = jobs.spec_for_part(
        session, build.design, build.design_version, fab.part_id,
        priority=build.priority, params=_job_params(build, fab.id, fab.copies, fab.minutes),
    )  # fmt: skip
    if fab.requirement.nozzle_mm:
        spec = JobSpec(**{**spec.__dict__, "nozzle_mm": fab.requirement.nozzle_mm})
    (job_id,) = jobs.submit_jobs(session, spec, 1, submitted_by=f"build {build.id}")
    session.add(
        BuildTask(build_id=build.id, task_id=fab.id, kind=TaskKind.FAB, part_id=fab.part_id,
                  copies=fab.copies, minutes=fab.minutes, job_id=job_id)
    )  # fmt: skip


def _job_params(build: Build, task_id: str, copies: int, minutes: float, **extra: Any) -> dict[str, Any]:
    return {"build": build.id, "task": task_id, "copies": copies, "estimated_min": minutes, **extra}


def _add_assembly_task(
    session: Session, store: FileStore, build: Build, asm: AssemblyTask, bom: Bom, tmp: Path
) -> None:
    purchased = [c for c in bom.graph[asm.part_id] if bom.parts[c].kind == "purchased"]
    order = _work_order(build, asm, bom)
    path = tmp / f"{asm.id.replace(':', '-')}.json"
    path.write_text(json.dumps(order, indent=2))
    sha, size = jobs.store_upload(session, store, path)
    spec = JobSpec(
        file_sha256=sha, file_name=f"work-order-{asm.part_id}-{asm.instance + 1}.json", file_size=size,
        process=ASSEMBLY_PROCESS, design=build.design, design_version=build.design_version,
        part_id=asm.part_id, priority=build.priority,
        params=_job_params(build, asm.id, 1, asm.minutes, site=build.site),
    )  # fmt: skip
    (job_id,) = jobs.submit_jobs(session, spec, 1, submitted_by=f"build {build.id}")
    session.add(
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


def receive_purchases(session: Session, build_id: str, part_ids: list[str] | None = None) -> int:
    """Mark purchased parts as received at the build site (all when part_ids is None)."""
    get_build(session, build_id)
    count = 0
    for item in purchases(session, build_id):
        if (part_ids is None or item.part_id in part_ids) and item.state != PurchaseState.RECEIVED:
            item.state, item.received_at = PurchaseState.RECEIVED, utcnow()
            count += 1
    unknown = set(part_ids or ()) - {i.part_id for i in purchases(session, build_id)}
    if unknown:
        raise InvalidInput(f"build {build_id} buys no part {', '.join(sorted(unknown))}")
    return count


def cancel_build(session: Session, build_id: str, by: str = "", effects: Any = None) -> Build:
    build = get_build(session, build_id)
    if build.state in {BuildState.DONE, BuildState.CANCELLED, BuildState.FAILED}:
        raise Conflict(f"build {build_id} has already ended ({build.state})")
    for _task, job in build_tasks(session, build_id):
        if job is not None and job.state not in FINAL_STATES:
            jobs.cancel_job(session, job.id, by=by or f"build {build_id}", effects=effects)
    _end(build, BuildState.CANCELLED, f"cancelled by {by or 'a user'}")
    return build


def _end(build: Build, state: BuildState, reason: str = "") -> None:
    build.state, build.reason, build.ended_at = state, reason, utcnow()


def sync_builds(session: Session) -> bool:
    """Bring active builds up to date with their jobs; return True when the plan needs redoing."""
    changed = False
    for build in list_builds(session):
        if build.state in {BuildState.ACTIVE, BuildState.BLOCKED}:
            changed |= _sync(session, build)
    return changed


def _sync(session: Session, build: Build) -> bool:
    changed = False
    rows = build_tasks(session, build.id)
    for task, job in rows:
        if job is None:
            continue
        _record_actuals(task, job)
        if job.state == JobState.FAILED:
            changed |= _replace_failed(session, build, task, job)
        elif job.state == JobState.CANCELLED and build.state != BuildState.CANCELLED:
            _end(build, BuildState.FAILED, f"job {job.id} of task {task.task_id} was cancelled")
            return True
    if rows and all(job is not None and job.state == JobState.DONE for _, job in rows):
        _end(build, BuildState.DONE)
        changed = True
    return changed


def _record_actuals(task: BuildTask, job: Job) -> None:
    if task.actual_start is None and job.state not in {JobState.QUEUED, JobState.ASSIGNED}:
        task.actual_start = utcnow()
    if task.actual_end is None and job.state == JobState.DONE:
        task.actual_end = job.ended_at or utcnow()


def _replace_failed(session: Session, build: Build, task: BuildTask, job: Job) -> bool:
    replaced = int(job.params.get("replacement", 0))
    if replaced >= MAX_REPLACEMENTS:
        _end(build, BuildState.FAILED, f"task {task.task_id} failed {replaced + 1} times: {job.reason}")
        return True
    spec = JobSpec(
        file_sha256=job.file_sha256, file_name=job.file_name, file_size=job.file_size, process=job.process,
        material=job.material, min_box_mm=tuple(job.min_box_mm) if job.min_box_mm else None,  # type: ignore[arg-type]
        nozzle_mm=job.nozzle_mm, design=job.design, design_version=job.design_version, part_id=job.part_id,
        priority=job.priority, params={**job.params, "replacement": replaced + 1},
    )  # fmt: skip
    (task.job_id,) = jobs.submit_jobs(session, spec, 1, submitted_by=f"build {build.id}")
    task.actual_start = None
    log.info("build %s: task %s failed (%s); queued a new job", build.id, task.task_id, job.reason)
    return True


# ---- reporting ---------------------------------------------------------------------------------


def build_report(session: Session, build: Build) -> dict[str, Any]:
    """Progress per sub-assembly, expected finish, what is late and why, purchases with costs."""
    rows = build_tasks(session, build.id)
    now = utcnow()
    done = {t.task_id for t, j in rows if j is not None and j.state == JobState.DONE}
    items = purchases(session, build.id)
    received = {p.part_id for p in items if p.state == PurchaseState.RECEIVED}
    return {
        "id": build.id,
        "design": build.design,
        "version": build.design_version,
        "units": build.units,
        "site": build.site,
        "priority": build.priority,
        "state": build.state,
        "reason": build.reason,
        "created_at": build.created_at.isoformat(),
        "ended_at": build.ended_at.isoformat() if build.ended_at else None,
        "due_at": build.due_at.isoformat() if build.due_at else None,
        "expected_finish_at": build.planned_finish_at.isoformat() if build.planned_finish_at else None,
        "lower_bound_min": build.lower_bound_min,
        "progress": {"done": len(done), "total": len(rows)},
        "assemblies": _assembly_progress(rows, done),
        "late": _late(build, rows, done, received, now),
        "tasks": [_task_row(task, job) for task, job in rows],
        "purchases": _purchase_rows(items),
    }


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
    build: Build, rows: list[tuple[BuildTask, Job | None]], done: set[str], received: set[str], now: datetime
) -> list[dict[str, Any]]:
    late = []
    if build.due_at and build.planned_finish_at and aware(build.planned_finish_at) > aware(build.due_at):
        hours = (aware(build.planned_finish_at) - aware(build.due_at)).total_seconds() / 3600
        late.append({"task": None, "why": f"expected to finish {hours:.1f} h after the due date"})
    for task, job in rows:
        if task.task_id in done or task.planned_end is None or aware(task.planned_end) >= now:
            continue
        late.append({"task": task.task_id, "why": _why_waiting(task, job, done, received)})
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
    return moment.isoformat() if moment else None


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
                      "state": item.state})  # fmt: skip
    return {"lines": lines, "totals": totals}
