"""The dispatcher's reads: what a burst loads, and the queue in order, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlmodel import Session, col, select

from coordinator.db import session_scope
from coordinator.jobs.commands import COORDINATOR, DispatchRound, SubmitJobs
from coordinator.jobs.dispatch import (
    FifoPolicy,
    IdleMachine,
    QueuedJob,
    choose_in_pages,
    idle_machines,
    queue_query,
    queued_jobs,
)
from coordinator.jobs.lifecycle import JobState
from coordinator.jobs.rows import Decision
from coordinator.jobs.store import StaleData, Store
from coordinator.jobs.submission import JobSpec
from coordinator.models.base import aware
from coordinator.models.jobs import AgentLink, Fablab, Job, Machine
from protocol import payloads as p
from tests.support.agents import attach_transport

SPEC = JobSpec(file_sha256="d" * 64, file_name="bracket.gcode", process="fdm_print", material="pla")
LABS, AGENTS = ("lab-north", "lab-south"), ("agent-1", "agent-2", "agent-3")


def _submit(runtime: Any, spec: JobSpec, quantity: int) -> list[str]:
    return list(runtime.bus.handle(SubmitJobs(spec, quantity, COORDINATOR)))


def _fleet(runtime: Any) -> None:
    """Every agent name at every fablab, each with one machine."""
    with session_scope(runtime.engine) as session:
        for lab in LABS:
            session.add(Fablab(id=lab))
            session.flush()  # the links and machines below point to it
            for agent in AGENTS:
                session.add(AgentLink(fablab=lab, agent=agent, online=True))
                session.add(Machine(fablab=lab, machine_id=f"{agent}-m", agent=agent, status="idle"))


def test_a_burst_loads_exactly_its_agents_even_where_names_repeat_across_fablabs(runtime: Any) -> None:
    _fleet(runtime)
    wanted = {("lab-north", "agent-1"), ("lab-north", "agent-3"), ("lab-south", "agent-2")}
    with Session(runtime.engine) as session:
        store = Store(session)
        links = set(store.links(wanted))
        owners = {(m.fablab, m.agent) for m in store.machines_of(wanted)}
    assert links == wanted
    assert owners == wanted


def test_the_queue_comes_in_priority_then_age_order(runtime: Any) -> None:
    low = _submit(runtime, SPEC, 3)
    high = _submit(runtime, dataclasses.replace(SPEC, priority=5), 2)
    with session_scope(runtime.engine) as session:
        done = session.get(Job, low[0])
        assert done is not None
        done.state = JobState.CANCELLED
    with Session(runtime.engine) as session:
        created = dict(session.exec(select(Job.id, Job.created_at)).all())
        order = [job.id for job in queued_jobs(session, 10)]
    assert set(order[:2]) == set(high)
    assert order[2:] == sorted(low[1:], key=lambda job_id: (created[job_id], job_id))


def test_the_queue_is_read_from_its_index_without_a_sort(runtime: Any) -> None:
    _submit(runtime, SPEC, 50)
    with Session(runtime.engine) as session:
        connection = session.connection()
        sql = str(queue_query(100).compile(connection, compile_kwargs={"literal_binds": True}))
        if connection.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "ix_job_queue_order" in plan and "TEMP B-TREE" not in plan, plan
        else:  # how the planner weighs a sort depends on table statistics: ask for the index's order
            connection.execute(text("SET LOCAL enable_sort = off"))
            plan = " ".join(str(row[0]) for row in connection.execute(text(f"EXPLAIN {sql}")))
            assert "ix_job_queue_order" in plan and "Sort" not in plan, plan


PRINTER = {"process": "fdm_print", "materials": ["pla"], "build_volume_mm": [250, 210, 210], "nozzle_mm": 0.4}


class _Recording(FifoPolicy):
    """FIFO, noting the pages it was shown."""

    def __init__(self) -> None:
        self.pages: list[list[str]] = []

    def choose(self, session: Session, queued: Any, idle: Any) -> list[tuple[QueuedJob, IdleMachine]]:
        self.pages.append([job.id for job in queued])
        return super().choose(session, queued, idle)


def _one_printer(runtime: Any) -> None:
    with session_scope(runtime.engine) as session:
        session.add(Fablab(id="lab-north"))
        session.flush()
        session.add(AgentLink(fablab="lab-north", agent="agent-1", online=True))
        printer = Machine(fablab="lab-north", machine_id="mk3s", agent="agent-1", capabilities=PRINTER)
        printer.status = "idle"
        session.add(printer)


def test_jobs_behind_a_long_run_no_free_machine_can_take_still_reach_it(runtime: Any) -> None:
    _one_printer(runtime)
    milling = dataclasses.replace(SPEC, process="cnc_mill", material="birch plywood")
    _submit(runtime, milling, 60)  # older: ahead in the queue, and no printer can take them
    (printable,) = _submit(runtime, SPEC, 1)
    policy = _Recording()
    with Session(runtime.engine) as session:
        pairs = choose_in_pages(session, policy, idle_machines(session), max_jobs=2000)
    assert [(job.id, machine.machine_id) for job, machine in pairs] == [(printable, "mk3s")]
    # one free machine: pages of 17, 34, then what is left; no job is shown twice
    assert [len(page) for page in policy.pages] == [17, 34, 10]
    seen = [job_id for page in policy.pages for job_id in page]
    assert len(seen) == len(set(seen)) == 61
    transport = attach_transport(runtime)
    runtime.bus.deps.policy = FifoPolicy()
    assert runtime.bus.handle(DispatchRound()) == 1
    assert [(o.agent, o.command.job_id) for o in transport.sent if isinstance(o.command, p.JobOffer)] == [
        ("agent-1", printable)
    ]


def test_a_round_reads_no_more_than_max_jobs_of_the_queue(runtime: Any) -> None:
    _one_printer(runtime)
    _submit(runtime, dataclasses.replace(SPEC, process="laser_cut"), 60)
    _submit(runtime, SPEC, 1)
    policy = _Recording()
    with Session(runtime.engine) as session:
        assert choose_in_pages(session, policy, idle_machines(session), max_jobs=40) == []
    assert [len(page) for page in policy.pages] == [17, 23]


def test_queue_pages_follow_one_another_in_queue_order(runtime: Any) -> None:
    # several jobs per submission share a creation time: the id breaks the tie, across priorities
    for priority in (0, 3, 0, 7, 3):
        _submit(runtime, dataclasses.replace(SPEC, priority=priority), 4)
    with Session(runtime.engine) as session:
        whole = [job.id for job in queued_jobs(session, 100)]
        paged: list[str] = []
        last = None
        while page := queued_jobs(session, 3, after=last):
            paged += [job.id for job in page]
            last = page[-1]
    assert len(whole) == 20
    assert paged == whole


def test_a_flush_writes_each_batch_of_changed_rows_once_with_their_values(runtime: Any) -> None:
    _fleet(runtime)
    ids = _submit(runtime, SPEC, 3)
    seen = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    with session_scope(runtime.engine) as session:
        store = Store(session)
        machines = store.machines_of({(lab, agent) for lab in LABS for agent in AGENTS})
        jobs = store.jobs(ids).values()
        changed = [dataclasses.replace(m, status="printing", last_seen=seen) for m in machines]
        changed += [dataclasses.replace(j, progress=0.25, reason="half way", ended_at=seen) for j in jobs]
        store.apply(Decision(rows=changed))
        written = store.flush()
    assert len(written.machines) == 6 and len(written.jobs) == 3
    with Session(runtime.engine) as session:
        rows = session.exec(select(Machine)).all()
        stored = session.exec(select(Job)).all()
    assert {(m.status, aware(m.last_seen)) for m in rows} == {("printing", seen)}
    assert {(j.progress, j.reason, aware(j.ended_at), j.version) for j in stored} == {
        (0.25, "half way", seen, 2)
    }


def test_a_flush_refuses_a_batch_with_a_row_someone_else_changed_since_it_was_read(runtime: Any) -> None:
    ids = _submit(runtime, SPEC, 3)
    with Session(runtime.engine) as session:
        store = Store(session)
        jobs = list(store.jobs(ids).values())
        with session_scope(runtime.engine) as other:  # another writer moves one job on meanwhile
            other.exec(update(Job).where(col(Job.id) == ids[1]).values(version=Job.version + 1))
        store.apply(Decision(rows=[dataclasses.replace(j, reason="mine") for j in jobs]))
        with pytest.raises(StaleData, match="1 of 3 job rows were changed"):
            store.flush()
        session.rollback()
    with Session(runtime.engine) as session:
        assert all(j.reason != "mine" for j in session.exec(select(Job)).all())
