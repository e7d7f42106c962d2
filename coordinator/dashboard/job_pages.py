"""Jobs: the list with a state filter, and one job with its attempts and event log."""

from __future__ import annotations

from flask import request

from coordinator.dashboard.blueprint import bp, db, page
from coordinator.dashboard.paging import offset_arg
from coordinator.fablab.runs import runs_of
from coordinator.fablab.statistics import run_row
from coordinator.fablab.waiting import why_waiting
from coordinator.jobs import queries as job_service
from coordinator.jobs.lifecycle import JobState

PAGE_SIZE = 100


@bp.get("/dashboard/jobs")
def jobs() -> str:
    state = request.args.get("state") or None
    offset = offset_arg()
    with db() as session:
        rows = job_service.list_jobs(session, state=state, limit=PAGE_SIZE + 1, offset=offset)
        counts = job_service.count_by_state(session)
    return page(
        "jobs.html",
        jobs=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        state=state or "",
        states=list(JobState),
        counts=counts,
        offset=offset,
        page_size=PAGE_SIZE,
    )


@bp.get("/dashboard/jobs/<job_id>")
def job(job_id: str) -> str:
    with db() as session:
        record = job_service.get_job(session, job_id)
        attempts, events = job_service.job_history(session, job_id)
        waiting = why_waiting(session, job_id)
        runs = [run_row(r) for r in runs_of(session, [job_id])]
    return page("job.html", job=record, attempts=attempts, events=events, next_url=request.path,
                waiting=waiting, runs=runs)  # fmt: skip


@bp.get("/dashboard/fragments/jobs/<job_id>/row")
def job_row(job_id: str) -> str:
    """One row of the jobs table, for the live list to insert or swap in."""
    with db() as session:
        record = job_service.get_job(session, job_id)
    return page("job_row.html", job=record)


@bp.get("/dashboard/fragments/jobs/<job_id>/detail")
def job_detail(job_id: str) -> str:
    """The summary, actions and attempts of a job, swapped in when its state changes."""
    with db() as session:
        record = job_service.get_job(session, job_id)
        attempts, _ = job_service.job_history(session, job_id)
    next_url = request.args.get("next", "")
    return page("job_detail.html", job=record, attempts=attempts, next_url=next_url)
