"""A whole build across three simulated fablabs, with one fablab going dark half-way.

The demo's network (coordinator, embedded broker, three agents on simulated machines) builds the
RepRap example. One fablab's agent is killed while it prints: the plan is redone without its machines,
its jobs come back after their lease, and the build still completes, each task done exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from coordinator.demo import Demo
from coordinator.models.builds import Build, BuildTask, Plan
from coordinator.models.jobs import Job, JobAttempt, JobEvent, JobState
from tests.support.waiting import wait_until

DARK = "fablab-leipzig"


@pytest.fixture
def demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    dispatch = {"lease_s": 3.0, "tick_s": 0.2, "plan_time_limit_s": 2.0}
    running = Demo(tmp_path, 0, target_s=25, dispatch=dispatch).start(say=lambda _line: None)
    yield running
    running.stop()


def test_build_completes_after_a_fablab_goes_dark(demo: Demo) -> None:
    engine = demo.process.runtime.engine  # type: ignore[union-attr]

    with Session(engine) as session:
        plans_before = session.exec(select(func.count()).select_from(Plan)).one()

    def running_in_dark_lab() -> list[str]:
        """Jobs in the dark fablab with most of their work still ahead of them.

        A whole job takes one or two seconds here; one with less than 0.8 s left could finish
        before the kill lands on a loaded machine.
        """
        with Session(engine) as session:
            rows = session.exec(
                select(Job.id).where(
                    Job.fablab == DARK,
                    Job.state == JobState.RUNNING,
                    col(Job.progress) < 0.5,
                    col(Job.eta_s) >= 0.8,
                )
            )
            return list(rows)

    caught = wait_until(running_in_dark_lab, 60, f"a job with seconds left in {DARK}", poll_s=0.02)
    next(a for a in demo.agents if a.config.fablab == DARK).kill()

    def replanned() -> bool:
        with Session(engine) as session:
            plans = session.exec(select(Plan).where(col(Plan.id) > plans_before)).all()
            return any(p.reason == "network changed" for p in plans)

    wait_until(replanned, 30, "a new plan after the fablab went dark")
    assert demo.wait_until_done(180, say=lambda _line: None)

    with Session(engine) as session:
        build = session.get(Build, demo.build_id)
        assert build is not None and build.state == "done"
        tasks = session.exec(select(BuildTask).where(BuildTask.build_id == demo.build_id)).all()
        finals = session.exec(
            select(JobEvent.job_id, func.count())
            .where(col(JobEvent.to_state).in_(["done", "failed", "cancelled"]))
            .group_by(JobEvent.job_id)
        ).all()
        assert all(count == 1 for _, count in finals), finals
        done_jobs = {t.job_id for t in tasks}
        assert all(session.get(Job, j).state == JobState.DONE for j in done_jobs)  # type: ignore[union-attr]
        interrupted = 0
        for job_id in caught:
            attempts = session.exec(
                select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(col(JobAttempt.created_at))
            ).all()
            if attempts[0].state == "done":
                continue  # it finished in the instant before the kill
            interrupted += 1
            assert attempts[0].fablab == DARK and attempts[0].state == "expired"
            assert session.get(Job, job_id).fablab != DARK  # type: ignore[union-attr]
        assert interrupted >= 1
        # the only tasks still planned in the dark fablab are those it finished before going dark
        stale = [
            t.task_id
            for t in tasks
            if t.planned_machine
            and t.planned_machine.startswith(DARK)
            and session.get(Job, t.job_id).fablab != DARK  # type: ignore[union-attr]
        ]
        assert stale == []
