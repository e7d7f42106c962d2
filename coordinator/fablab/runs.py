"""Reactions to a job starting and ending on a machine, in the job domain's unit of work.

Each attempt that starts gets a run: its spool and the filament it is expected to use, taken off the
spool at once (so the next match sees what is really left). When it ends the run records what was
used (done: the host's figure if it measured one, else the estimate; failed or cancelled: the share
made), gives the rest back to the spool, and adds the run to the machine's maintenance counters.
An attempt that goes back to the queue (lease lost, failed with attempts left) is closed when its job
next starts or ends; its progress is gone by then, so the filament taken at its start stays taken.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from coordinator.fablab import maintenance, notices, spools
from coordinator.jobs.bus import UnitOfWork
from coordinator.jobs.lifecycle import JobState
from coordinator.jobs.rows import JobEnded, JobSnap, JobStarted
from coordinator.models.base import aware
from coordinator.models.fablab import JobRun
from coordinator.models.jobs import Job, JobAttempt

PRINTING = frozenset({"fdm_print"})


def on_job_started(uow: UnitOfWork, event: JobStarted) -> None:
    """A machine started an attempt of a job: open its run and take its filament off the spool."""
    job = uow.store.jobs([event.job_id]).get(event.job_id)
    if job is None or job.attempt_id is None or job.fablab is None or job.machine_id is None:
        return
    session = uow.session
    _close_retried(session, job.id, keep=job.attempt_id)
    if session.exec(select(JobRun.id).where(JobRun.attempt_id == job.attempt_id)).first() is not None:
        return
    static = _job_columns(session, job.id, (job.fablab, job.machine_id))
    # machines that run faster than their estimates (the demo's) are measured on their own clock
    scale = float(getattr(uow.deps.planner, "time_scale", 1.0) or 1.0)
    run = JobRun(
        job_id=job.id,
        attempt_id=job.attempt_id,
        fablab=job.fablab,
        machine_id=job.machine_id,
        process=static["process"],
        design=static["design"],
        part_id=static["part_id"],
        build_id=static["params"].get("build"),
        started_at=event.at,
        planned_s=_scaled(_planned_s(static["params"], static["speed_factor"]), scale),
        estimate_s=_scaled(job.estimate_s, scale),
        filament_estimate_g=filament_estimate(job, static["params"]),
    )
    if static["process"] in PRINTING:
        _take_filament(session, run, event.at)
    session.add(run)


def on_job_ended(uow: UnitOfWork, event: JobEnded) -> None:
    """A job ended: close its run with what it really used, count it, tell who wants to know."""
    job = uow.store.jobs([event.job_id]).get(event.job_id)
    if job is None:
        return
    session = uow.session
    run = _open_run(session, job.id, job.attempt_id)
    if run is not None:
        _close(session, run, event.state, event.at, job.progress, _reported_use(uow, job.id))
    notices.job_ended(uow, job, event, run)


# ---- runs ----------------------------------------------------------------------------------------


def _job_columns(session: Session, job_id: str, machine_key: tuple[str, str]) -> dict[str, Any]:
    """The columns of a job no transition changes, and the speed factor of the machine making it."""
    from coordinator.models.jobs import Machine

    job = session.get(Job, job_id)
    machine = session.get(Machine, machine_key)
    assert job is not None
    speed = float(((machine.capabilities if machine else None) or {}).get("speed_factor") or 1.0)
    return {
        "process": job.process,
        "design": job.design,
        "part_id": job.part_id,
        "params": dict(job.params or {}),
        "speed_factor": speed,
    }


def _scaled(seconds: float | None, scale: float) -> float | None:
    return None if seconds is None else seconds / scale


def _planned_s(params: dict[str, Any], speed_factor: float) -> float | None:
    """The breakdown's estimate at the declared speed, not the planner's figure: measured speed factors
    compare real times with this one, so they never feed on themselves."""
    minutes = params.get("estimated_min")
    if not isinstance(minutes, int | float) or minutes <= 0:
        return None
    return float(minutes) * 60.0 / max(speed_factor, 1e-6)


def filament_estimate(job: JobSnap, params: dict[str, Any]) -> float | None:
    """Grams the job is expected to use: the machine's slicer once it prepared the file, else the
    coordinator's estimate from the part's mesh (set when a build queued it)."""
    if job.filament_g is not None:
        return job.filament_g
    guess = params.get("filament_g")
    return float(guess) if isinstance(guess, int | float) and guess >= 0 else None


def _take_filament(session: Session, run: JobRun, now: datetime) -> None:
    loaded = spools.loaded_spools(session, run.fablab).get((run.fablab, run.machine_id))
    if loaded is None:
        return
    spool = spools.adopt(session, loaded, now)
    assert spool.id is not None
    run.spool_id, run.currency = spool.id, spool.currency
    spools.use(
        session,
        spool.id,
        run.filament_estimate_g or 0.0,
        synced=not spools.uses_spoolman(session, run.fablab),
    )


def _open_run(session: Session, job_id: str, attempt_id: str | None) -> JobRun | None:
    if attempt_id is None:
        return None
    return session.exec(
        select(JobRun).where(JobRun.attempt_id == attempt_id, JobRun.state == "running")
    ).first()


def _close(
    session: Session, run: JobRun, state: str, at: datetime, progress: float, reported: float | None
) -> None:
    estimate = run.filament_estimate_g
    if state == JobState.DONE:
        used, source = (reported, "measured by the host") if reported is not None else (estimate, "estimate")
    else:
        used, source = (None if estimate is None else estimate * max(0.0, min(1.0, progress))), "share made"
    _finish(session, run, state, at, used, source)


def _finish(session: Session, run: JobRun, state: str, at: datetime, used: float | None, source: str) -> None:
    run.state, run.ended_at = state, at
    run.filament_used_g, run.filament_source = used, source if used is not None else ""
    if run.spool_id is not None and used is not None:
        spools.use(
            session,
            run.spool_id,
            used - (run.filament_estimate_g or 0.0),
            synced=not spools.uses_spoolman(session, run.fablab),
        )
        run.cost = _cost(session, run.spool_id, used)
    seconds = max(0.0, (aware(at) - aware(run.started_at)).total_seconds())
    maintenance.count(session, run.fablab, run.machine_id, seconds, used or 0.0, 1)
    session.add(run)


def _cost(session: Session, spool_id: int, grams: float) -> float | None:
    from coordinator.models.fablab import Spool

    spool = session.get(Spool, spool_id)
    if spool is None or spool.cost_per_kg is None:
        return None
    return round(grams / 1000 * spool.cost_per_kg, 4)


def _close_retried(session: Session, job_id: str, keep: str) -> None:
    """Runs of earlier attempts of the job that went back to the queue without ending the job."""
    runs = session.exec(
        select(JobRun).where(JobRun.job_id == job_id, JobRun.state == "running", JobRun.attempt_id != keep)
    ).all()
    for run in runs:
        attempt = session.get(JobAttempt, run.attempt_id)
        ended = aware(attempt.ended_at) if attempt is not None and attempt.ended_at else aware(run.started_at)
        outcome = attempt.state if attempt is not None else "retried"
        _finish(session, run, outcome, ended, run.filament_estimate_g, "taken at start (progress unknown)")


def _reported_use(uow: UnitOfWork, job_id: str) -> float | None:
    """What the host measured, when the agent's job:done said so."""
    for event in reversed(uow.store.pending_events(job_id)):
        if event.type == "job:done":
            value = event.payload.get("filament_used_g")
            return float(value) if isinstance(value, int | float) else None
    return None


def runs_of(session: Session, job_ids: list[str]) -> list[JobRun]:
    return list(session.exec(select(JobRun).where(col(JobRun.job_id).in_(job_ids)).order_by(col(JobRun.id))))
