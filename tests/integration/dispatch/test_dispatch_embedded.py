"""The same job life over the embedded amqtt broker, used when no broker URL is configured."""

from __future__ import annotations

import threading

from coordinator.mqtt.service import DispatchService
from protocol import payloads as p
from tests.support.ports import free_port

from .conftest import final_events, job_state, submit, wait_until
from .fake_agent import FakeAgent, machine


def test_embedded_broker_runs_a_job_and_shuts_down(runtime):
    runtime.settings.mqtt.url = None
    runtime.settings.mqtt.embedded_port = free_port()
    service = DispatchService(runtime, lease_s=2.0, tick_s=0.1).start()
    agent = None
    try:
        assert service.broker is not None
        agent = FakeAgent("127.0.0.1", runtime.settings.mqtt.embedded_port, "lab-a", "agent-1").start()
        agent.birth(machine("prusa-1"))
        (job_id,) = submit(runtime)
        offer = agent.wait_offer()
        agent.job_event(p.JobAccepted, offer)
        agent.job_event(p.JobDone, offer)
        wait_until(lambda: job_state(runtime, job_id) == "done", what="done over amqtt")
        assert len(final_events(runtime, job_id)) == 1
    finally:
        if agent is not None:
            agent.stop()
        service.stop()
    assert not [t for t in threading.enumerate() if t.name in {"embedded-broker", "dispatch-worker"}]
