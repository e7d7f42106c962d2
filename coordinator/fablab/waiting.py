"""Why a queued job waits: what each machine that could make it lacks right now."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from coordinator.jobs.lifecycle import LIVE_ATTEMPT_STATES, JobState
from coordinator.models.jobs import Job, JobAttempt
from coordinator.planning.matching import COMPATIBLE_PROCESSES, Requirement, shortcomings
from coordinator.services.network import machine_views

MAX_LINES = 12


def job_requirement(job: Any) -> Requirement:
    """What a job needs from a machine, as dispatch checks it: the file's process and material, the
    colour the part asks for, and the filament it uses (its machine's slicer, else the mesh estimate)."""
    params = job.params or {}
    guess = params.get("filament_g")
    filament = (
        job.filament_g if job.filament_g is not None else guess if isinstance(guess, int | float) else None
    )
    box = job.min_box_mm
    return Requirement(
        process=job.process,
        material=job.material,
        min_box_mm=(box[0], box[1], box[2]) if box and len(box) == 3 else None,
        nozzle_mm=job.nozzle_mm,
        colour=params.get("colour") or None,
        filament_g=filament,
    )


def why_waiting(session: Session, job_id: str) -> list[str]:
    """For a queued job: one line per machine of its process saying what keeps it from taking the job."""
    job = session.get(Job, job_id)
    if job is None or job.state != JobState.QUEUED:
        return []
    req = job_requirement(job)
    processes = COMPATIBLE_PROCESSES.get(req.process, frozenset({req.process}))
    busy = _busy(session)
    lines = []
    for view in machine_views(session, include_offline=True):
        if view.process not in processes:
            continue
        lacks = shortcomings(req, view)
        if not view.online:
            lacks.insert(0, "offline")
        elif view.key in busy:
            lacks.insert(0, f"busy with job {busy[view.key][:8]}")
        if lacks:
            lines.append(f"{view.key}: {'; '.join(lacks)}")
    if not lines and not any(True for _ in processes):
        return [f"no machine does {req.process}"]
    return lines[:MAX_LINES]


def _busy(session: Session) -> dict[str, str]:
    rows = session.exec(
        select(JobAttempt.fablab, JobAttempt.machine_id, JobAttempt.job_id).where(
            col(JobAttempt.state).in_(list(LIVE_ATTEMPT_STATES))
        )
    ).all()
    return {f"{fablab}/{machine_id}": job_id for fablab, machine_id, job_id in rows}
