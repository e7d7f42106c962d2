"""An agent's message order through the bus: one forged sequence number does not silence the agent."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from coordinator.models.jobs import AgentLink, Job
from protocol import payloads as p
from tests.support.agents import BusAgent, attach_transport, machine_info, running_job


def test_a_forged_jump_ahead_does_not_silence_the_agents_real_events(runtime: Any) -> None:
    transport = attach_transport(runtime)
    agent = BusAgent(runtime, "lab", "agent")
    agent.birth(machine_info("mk4"))
    job_id, offer = running_job(runtime, agent, "mk4", progress=0.2)
    real_seq = agent.seq
    agent.seq = real_seq + 49  # someone with the agent's credentials sends one message 50 ahead
    agent.job_event(p.JobProgress, offer, progress=0.9)
    agent.seq = real_seq  # the agent itself goes on where it was
    agent.job_event(p.JobProgress, offer, progress=0.5)
    agent.job_event(p.JobDone, offer)
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        link = session.get(AgentLink, ("lab", "agent"))
        assert job is not None and link is not None
        assert job.state == "done"  # the real events after the jump were processed
        assert link.last_seq == real_seq + 2
    asked = transport.commands(p.Reannounce, "agent")
    assert len(asked) == 1 and "gap" in asked[0].reason


def test_an_impossible_sequence_is_dropped_and_the_agent_asked_to_reannounce(runtime: Any) -> None:
    transport = attach_transport(runtime)
    agent = BusAgent(runtime, "lab", "agent")
    agent.birth(machine_info("mk4"))
    job_id, offer = running_job(runtime, agent, "mk4", progress=0.2)
    agent.seq += 5000
    outcome = agent.job_event(p.JobDone, offer)
    assert outcome["impossible"] == 1
    with Session(runtime.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == "running"
    assert transport.commands(p.Reannounce, "agent")
