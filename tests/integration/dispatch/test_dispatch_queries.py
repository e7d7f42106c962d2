"""The dispatcher's reads: what a burst loads, and the queue in order, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, text
from sqlmodel import Session, col, select

from coordinator.db import one_of, session_scope
from coordinator.models.jobs import AgentLink, Job, JobState, Machine
from coordinator.services import jobs, machines
from coordinator.services.dispatch import (
    FifoPolicy,
    IdleMachine,
    OfferSettings,
    QueuedJob,
    choose_in_pages,
    dispatch_round,
    idle_machines,
    queue_query,
    queued_jobs,
)
from coordinator.services.jobs import Effects
from coordinator.services.records import Record

SPEC = jobs.JobSpec(file_sha256="d" * 64, file_name="bracket.gcode", process="fdm_print", material="pla")
LABS, AGENTS = ("lab-north", "lab-south"), ("agent-1", "agent-2", "agent-3")


def _fleet(runtime: Any) -> None:
    """Every agent name at every fablab, each with one machine."""
    with session_scope(runtime.engine) as session:
        for lab in LABS:
            machines.ensure_fablab(session, lab)
            for agent in AGENTS:
                session.add(AgentLink(fablab=lab, agent=agent, online=True))
                session.add(Machine(fablab=lab, machine_id=f"{agent}-m", agent=agent, status="idle"))


@pytest.mark.parametrize("as_records", [True, False], ids=["records", "orm"])
def test_a_burst_loads_exactly_its_agents_even_where_names_repeat_across_fablabs(
    runtime: Any, as_records: bool
) -> None:
    _fleet(runtime)
    wanted = {("lab-north", "agent-1"), ("lab-north", "agent-3"), ("lab-south", "agent-2")}
    with Session(runtime.engine) as session:
        loaded = machines.prefetch(session, wanted, set(), as_records)
    assert all(isinstance(row, Record) == as_records for row in loaded)
    links = {(row.fablab, row.agent) for row in loaded if _model(row) is AgentLink}
    owners = {(row.fablab, row.agent) for row in loaded if _model(row) is Machine}
    assert links == wanted
    assert owners == wanted


def _model(row: Any) -> type[Any]:
    return row.model if isinstance(row, Record) else type(row)


def test_the_queue_comes_in_priority_then_age_order(runtime: Any) -> None:
    with session_scope(runtime.engine) as session:
        low = jobs.submit_jobs(session, SPEC, 3)
    with session_scope(runtime.engine) as session:
        high = jobs.submit_jobs(session, dataclasses.replace(SPEC, priority=5), 2)
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
    with session_scope(runtime.engine) as session:
        jobs.submit_jobs(session, SPEC, 50)
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


def test_one_of_finds_exactly_the_keys_with_one_statement_text_for_any_count(runtime: Any) -> None:
    with session_scope(runtime.engine) as session:
        ids = jobs.submit_jobs(session, SPEC, 6)
    with Session(runtime.engine) as session:

        def found(keys: list[str]) -> set[str]:
            return set(session.exec(select(Job.id).where(one_of(session, col(Job.id), keys))).all())

        assert found(ids[:2]) == set(ids[:2])
        assert found([*ids[3:], "no-such-job"]) == set(ids[3:])
        assert found([]) == set()
        texts = {
            str(select(Job.id).where(one_of(session, col(Job.id), ids[:n])).compile(session.get_bind()))
            for n in (1, 5)
        }
        if session.get_bind().dialect.name == "postgresql":  # one array parameter: one text to parse and plan
            assert len(texts) == 1 and "ANY" in texts.pop()


AWKWARD_KEYS = ['quote"d', "back\\slash", "com,ma", "{braced}", " spaced ", "NULL", "", "ümlaut"]


def test_one_of_matches_keys_with_quotes_commas_and_braces(runtime: Any) -> None:
    keys = Table("awkward_keys", MetaData(), Column("key", String(32)), prefixes=["TEMPORARY"])
    with runtime.engine.connect() as connection:
        keys.create(connection)
        connection.execute(keys.insert(), [{"key": k} for k in [*AWKWARD_KEYS, "plain", "quote"]])
        with Session(bind=connection) as session:
            found = session.exec(select(keys.c.key).where(one_of(session, keys.c.key, AWKWARD_KEYS))).all()
        assert sorted(found) == sorted(AWKWARD_KEYS)
        connection.rollback()


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
        machines.ensure_fablab(session, "lab-north")
        session.add(AgentLink(fablab="lab-north", agent="agent-1", online=True))
        printer = Machine(fablab="lab-north", machine_id="mk3s", agent="agent-1", capabilities=PRINTER)
        printer.status = "idle"
        session.add(printer)


def test_jobs_behind_a_long_run_no_free_machine_can_take_still_reach_it(runtime: Any) -> None:
    _one_printer(runtime)
    milling = dataclasses.replace(SPEC, process="cnc_mill", material="birch plywood")
    with session_scope(runtime.engine) as session:
        jobs.submit_jobs(session, milling, 60)  # older: ahead in the queue, and no printer can take them
    with session_scope(runtime.engine) as session:
        (printable,) = jobs.submit_jobs(session, SPEC, 1)
    policy = _Recording()
    with Session(runtime.engine) as session:
        pairs = choose_in_pages(session, policy, idle_machines(session), max_jobs=2000)
    assert [(job.id, machine.machine_id) for job, machine in pairs] == [(printable, "mk3s")]
    # one free machine: pages of 17, 34, then what is left; no job is shown twice
    assert [len(page) for page in policy.pages] == [17, 34, 10]
    seen = [job_id for page in policy.pages for job_id in page]
    assert len(seen) == len(set(seen)) == 61
    effects = Effects()
    with session_scope(runtime.engine) as session:
        assert dispatch_round(session, FifoPolicy(), effects, OfferSettings()) == 1
    assert [(agent, command.job_id) for _lab, agent, command in effects.commands] == [("agent-1", printable)]


def test_a_round_reads_no_more_than_max_jobs_of_the_queue(runtime: Any) -> None:
    _one_printer(runtime)
    with session_scope(runtime.engine) as session:
        jobs.submit_jobs(session, dataclasses.replace(SPEC, process="laser_cut"), 60)
        jobs.submit_jobs(session, SPEC, 1)
    policy = _Recording()
    with Session(runtime.engine) as session:
        assert choose_in_pages(session, policy, idle_machines(session), max_jobs=40) == []
    assert [len(page) for page in policy.pages] == [17, 23]


def test_queue_pages_follow_one_another_in_queue_order(runtime: Any) -> None:
    # several jobs per submission share a creation time: the id breaks the tie, across priorities
    with session_scope(runtime.engine) as session:
        for priority in (0, 3, 0, 7, 3):
            jobs.submit_jobs(session, dataclasses.replace(SPEC, priority=priority), 4)
    with Session(runtime.engine) as session:
        whole = [job.id for job in queued_jobs(session, 100)]
        paged: list[str] = []
        last = None
        while page := queued_jobs(session, 3, after=last):
            paged += [job.id for job in page]
            last = page[-1]
    assert len(whole) == 20
    assert paged == whole
