"""Duplicates, reordering, stale attempts, gaps, bad payloads and leases, injected by hand."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session, select

from coordinator.jobs.commands import COORDINATOR, CancelJob
from coordinator.models.jobs import AgentLink
from protocol import payloads as p

from .conftest import (
    EXPIRY_LEASE_S,
    attempts,
    final_events,
    job,
    job_state,
    ledger_actions,
    submit,
    wait_until,
)
from .fake_agent import machine


def _running(runtime, agent):
    """Birth one idle machine, submit a job and take it to running; return (job id, offer)."""
    agent.birth(machine("prusa-1"))
    (job_id,) = submit(runtime)
    offer = agent.wait_offer()
    agent.job_event(p.JobAccepted, offer)
    agent.job_event(p.JobProgress, offer, progress=0.1)
    wait_until(lambda: job_state(runtime, job_id) == "running", what="running")
    return job_id, offer


def test_duplicate_done_ends_the_job_once(runtime, make_agent):
    agent = make_agent()
    job_id, offer = _running(runtime, agent)
    done = agent.job_event(p.JobDone, offer)
    agent.send(done)  # the broker redelivers: same seq, same msg_id
    replay = p.JobDone(**{**done.model_dump(), "seq": agent.seq + 1})  # journal replay, new seq
    agent.seq += 1
    agent.send(replay)
    agent.job_event(p.JobDone, offer)  # a second, distinct done: a duplicate in meaning
    wait_until(lambda: job_state(runtime, job_id) == "done", what="done")
    probe = agent.job_event(p.JobProgress, offer, progress=0.9)
    wait_until(lambda: runtime_link_seq(runtime) >= probe.seq, what="probe processed")
    assert len(final_events(runtime, job_id)) == 1
    assert job(runtime, job_id).progress == 1.0
    assert ledger_actions(runtime, job_id) == {"use": 1, "produce": 1}  # the part, made once


def runtime_link_seq(runtime) -> int:
    with Session(runtime.engine) as session:
        link = session.exec(select(AgentLink)).first()
        return link.last_seq if link else -1


def test_reordered_events_still_end_done_and_ask_for_a_reannounce(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1"))
    (job_id,) = submit(runtime)
    offer = agent.wait_offer()
    accepted = agent.job_event(p.JobAccepted, offer, send=False)
    done = agent.job_event(p.JobDone, offer, send=False)
    agent.send(done)  # seq 2 before seq 1: a gap
    agent.send(accepted)
    wait_until(lambda: job_state(runtime, job_id) == "done", what="done")
    agent.wait_command(lambda c: isinstance(c, p.Reannounce))
    assert len(final_events(runtime, job_id)) == 1
    assert ledger_actions(runtime, job_id)["produce"] == 1


@pytest.mark.lease_s(EXPIRY_LEASE_S)
def test_events_of_a_stale_attempt_are_ignored_and_cancelled(runtime, make_agent):
    agent = make_agent()
    job_id, first = _running(runtime, agent)
    agent.birth(machine("prusa-1"), boot_seq=2)  # restarted with no job: the lease decides
    wait_until(lambda: job_state(runtime, job_id) == "assigned", timeout_s=10, what="re-offer")
    second = agent.wait_offer(exclude={first.attempt_id})
    assert second.attempt_id != first.attempt_id

    agent.job_event(p.JobProgress, first, progress=0.8)  # the old attempt speaks up
    cancel = agent.wait_command(lambda c: getattr(c, "type", "") == "job:cancel")
    assert cancel.attempt_id == first.attempt_id
    agent.job_event(p.JobDone, first)
    agent.job_event(p.JobAccepted, second)
    agent.job_event(p.JobDone, second)
    wait_until(lambda: job_state(runtime, job_id) == "done", what="done")
    assert job(runtime, job_id).attempt_id == second.attempt_id
    assert [a.state for a in attempts(runtime, job_id)] == ["expired", "done"]
    assert len(final_events(runtime, job_id)) == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"schema": 1, "type": "job:done"}',
        b'{"schema": 9, "type": "agent:heartbeat", "boot_seq": 1, "seq": 50}',
        b"",
    ],
)
def test_malformed_payloads_are_dropped_and_the_dispatcher_goes_on(runtime, make_agent, payload):
    agent = make_agent()
    job_id, offer = _running(runtime, agent)
    agent.publish_raw("events", payload)
    agent.publish_raw("state", payload)
    agent.job_event(p.JobDone, offer)
    wait_until(lambda: job_state(runtime, job_id) == "done", what="done after bad payloads")


def test_payload_ids_must_match_the_topic(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1"))
    intruder = make_agent("agent-2")
    (job_id,) = submit(runtime)
    offer = agent.wait_offer()
    # agent-2 claims agent-1's attempt, and publishes a birth in agent-1's name
    intruder.job_event(p.JobDone, offer)
    forged = p.AgentState(fablab="lab-berlin", agent="agent-1", online=False, boot_seq=99)
    intruder.publish_raw("state", p.encode(forged))
    agent.job_event(p.JobAccepted, offer)
    wait_until(lambda: job_state(runtime, job_id) == "accepted", what="accepted")
    assert final_events(runtime, job_id) == []


def test_rejection_moves_the_job_to_another_machine(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1"), machine("prusa-2"))
    (job_id,) = submit(runtime)
    first = agent.wait_offer()
    agent.job_event(p.JobRejected, first, reason="hotend limit")
    second = agent.wait_offer(exclude={first.attempt_id})
    assert second.machine_id != first.machine_id
    assert job(runtime, job_id).attempts == 2


def test_failures_use_up_the_attempts_then_the_job_fails(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1"))
    (job_id,) = submit(runtime, max_attempts=2)
    seen: set[str] = set()
    for _ in range(2):
        offer = agent.wait_offer(exclude=seen)
        seen.add(offer.attempt_id)
        agent.job_event(p.JobAccepted, offer)
        agent.job_event(p.JobFailed, offer, reason="spaghetti")
    wait_until(lambda: job_state(runtime, job_id) == "failed", what="failed")
    assert job(runtime, job_id).reason == "spaghetti"
    assert [a.state for a in attempts(runtime, job_id)] == ["failed", "failed"]
    assert len(final_events(runtime, job_id)) == 1
    assert ledger_actions(runtime, job_id) == {"use": 2}  # both attempts' machine time, no part


@pytest.mark.lease_s(EXPIRY_LEASE_S)
def test_silent_agent_loses_the_lease_and_the_job_requeues(runtime, make_agent):
    agent = make_agent()
    job_id, offer = _running(runtime, agent)
    agent.birth(machine("prusa-1", status="busy"), boot_seq=2)
    wait_until(lambda: job_state(runtime, job_id) == "queued", timeout_s=10, what="lease expiry")
    assert [a.state for a in attempts(runtime, job_id)] == ["expired"]


@pytest.mark.lease_s(EXPIRY_LEASE_S)
def test_heartbeats_keep_a_long_job_alive(runtime, make_agent):
    agent = make_agent()
    job_id, offer = _running(runtime, agent)
    beat = p.HeartbeatJob(job_id=offer.job_id, attempt_id=offer.attempt_id, progress=0.3)
    every_s = 0.25
    for _ in range(int(2.5 * EXPIRY_LEASE_S / every_s)):  # heartbeats for 2.5 leases
        agent.event(p.Heartbeat, jobs=(beat,))
        wait_until(lambda: job(runtime, job_id).progress == 0.3, what="heartbeat")
        time.sleep(every_s)
    assert job_state(runtime, job_id) == "running"


def test_birth_reporting_the_current_attempt_catches_up(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1"))
    (job_id,) = submit(runtime)
    offer = agent.wait_offer()
    # accepted and progress were lost; the agent restarts and reports the job running
    running = p.MachineJob(job_id=offer.job_id, attempt_id=offer.attempt_id, state="running", progress=0.4)
    agent.birth(machine("prusa-1", status="busy", job=running), boot_seq=2)
    wait_until(lambda: job_state(runtime, job_id) == "running", what="running from birth")
    assert job(runtime, job_id).progress == 0.4


def test_cancel_reaches_the_machine_and_the_job_ends_cancelled(runtime, make_agent):
    agent = make_agent()
    job_id, offer = _running(runtime, agent)
    runtime.bus.handle(CancelJob(job_id, COORDINATOR))
    cancel = agent.wait_command(lambda c: getattr(c, "type", "") == "job:cancel")
    assert cancel.attempt_id == offer.attempt_id
    agent.job_event(p.JobCancelled, offer)
    wait_until(lambda: attempts(runtime, job_id)[0].state == "cancelled", what="attempt closed")
    assert job_state(runtime, job_id) == "cancelled"
    assert len(final_events(runtime, job_id)) == 1


@pytest.mark.lease_s(EXPIRY_LEASE_S)
def test_a_dead_agent_keeps_its_lease_until_it_expires(runtime, make_agent):
    agent = make_agent()
    job_id, offer = _running(runtime, agent)
    agent.kill()
    wait_until(lambda: job_state(runtime, job_id) == "queued", timeout_s=10, what="requeue after death")
    assert [a.state for a in attempts(runtime, job_id)] == ["expired"]
