"""Store-and-forward: events reach the coordinator in order, once, across outages and restarts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fablab_agents.agent import Agent
from protocol.payloads import JobProgress, decode_agent_state, decode_event
from tests.integration.agents.conftest import Broker, Coordinator, FileServer, agent_config, wait_until
from tests.integration.agents.fakes import GatedMachine


@pytest.fixture(autouse=True)
def gated_machines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr("fablab_agents.agent.open_driver", GatedMachine)
    yield
    for machine in GatedMachine.instances:
        machine.gate.set()
    GatedMachine.instances.clear()


def start_agent(broker: Broker, files: FileServer, data_dir: Path, agent: str = "agent-1") -> Agent:
    url = broker_url(broker, agent)
    running = Agent(agent_config(url, files.base_url, agent), data_dir)
    running.start()
    return running


def broker_url(broker: Broker, agent: str) -> str:
    user = f"lab-a.{agent}"
    if user not in broker.passwords:
        return broker.add_agent(agent)
    return f"mqtt://{user}:{broker.passwords[user]}@127.0.0.1:{broker.mosquitto.port}"


def marks(count: int, start: int = 0) -> list[JobProgress]:
    return [
        JobProgress(job_id="j1", attempt_id="a1", machine_id="printer-1", progress=(start + i) / 100)
        for i in range(count)
    ]


def progress_events(coordinator: Coordinator) -> list[dict]:
    return [e for e in coordinator.of_type("job:progress") if e["job_id"] == "j1"]


def test_normal_path_delivers_each_event_once_in_order(
    broker: Broker, coordinator: Coordinator, file_server: FileServer, tmp_path: Path
) -> None:
    agent = start_agent(broker, file_server, tmp_path / "agent")
    wait_until(lambda: agent.ready, what="agent ready")
    sent = marks(60)
    for event in sent:
        agent.emit(event)
    wait_until(lambda: len(progress_events(coordinator)) >= 60, what="60 events")
    wait_until(lambda: agent.journal and agent.journal.count() == 0, what="journal drained")
    agent.stop()
    received = progress_events(coordinator)
    assert [e["msg_id"] for e in received] == [e.msg_id for e in sent]
    # Every event of this connection, heartbeats included, is numbered 1, 2, 3... after the birth.
    everything = [decode_event(json.dumps(e)) for e in coordinator.events]
    assert [e.seq for e in everything] == list(range(1, len(everything) + 1))
    assert {e.boot_seq for e in everything} == {coordinator.births()[-1]["boot_seq"]}


def test_events_written_while_the_broker_is_down_arrive_in_order_after_it_returns(
    broker: Broker, coordinator: Coordinator, file_server: FileServer, tmp_path: Path
) -> None:
    agent = start_agent(broker, file_server, tmp_path / "agent")
    wait_until(lambda: agent.ready, what="agent ready")
    before = marks(3)
    for event in before:
        agent.emit(event)
    wait_until(lambda: len(progress_events(coordinator)) == 3, what="first events")
    first_boot = coordinator.births()[-1]["boot_seq"]
    broker.mosquitto.stop()
    wait_until(lambda: not agent.ready, what="agent notices the outage")
    during = marks(20, start=10)
    for event in during:
        agent.emit(event)
    assert agent.journal is not None and agent.journal.count() >= 20
    broker.mosquitto.start()
    wait_until(lambda: len(progress_events(coordinator)) >= 23, timeout=15, what="replayed events")
    agent.stop()
    received = progress_events(coordinator)
    assert [e["msg_id"] for e in received] == [e.msg_id for e in before + during]
    replay = received[3:]
    assert all(e["boot_seq"] > first_boot for e in replay)
    assert [e["seq"] for e in replay] == sorted(e["seq"] for e in replay)


def test_pending_events_survive_an_agent_crash_and_go_out_after_restart(
    broker: Broker, coordinator: Coordinator, file_server: FileServer, tmp_path: Path
) -> None:
    agent = start_agent(broker, file_server, tmp_path / "agent")
    wait_until(lambda: agent.ready, what="agent ready")
    coordinator.go_offline()
    wait_until(lambda: not agent.ready, what="agent sees the coordinator offline")
    pending = marks(10)
    for event in pending:
        agent.emit(event)
    agent.kill()
    will = wait_until(lambda: [s for s in coordinator.states if not s.get("online")], what="will message")
    assert decode_agent_state(json.dumps(will[-1])).agent == "agent-1"
    assert progress_events(coordinator) == []

    coordinator.go_online()
    restarted = start_agent(broker, file_server, tmp_path / "agent")
    wait_until(lambda: len(progress_events(coordinator)) == 10, what="replay after restart")
    wait_until(lambda: restarted.journal and restarted.journal.count() == 0, what="journal drained")
    restarted.stop()
    assert [e["msg_id"] for e in progress_events(coordinator)] == [e.msg_id for e in pending]


def test_coordinator_coming_back_gets_a_fresh_birth_then_the_journal(
    broker: Broker, coordinator: Coordinator, file_server: FileServer, tmp_path: Path
) -> None:
    agent = start_agent(broker, file_server, tmp_path / "agent")
    wait_until(lambda: coordinator.births(), what="first birth")
    coordinator.go_offline()
    wait_until(lambda: not agent.ready, what="agent sees the coordinator offline")
    agent.emit(marks(1)[0])
    coordinator.go_online()
    wait_until(lambda: progress_events(coordinator), what="event after the coordinator returned")
    agent.stop()
    births = coordinator.births()
    assert len(births) == 2
    assert births[1]["boot_seq"] > births[0]["boot_seq"]
    event = progress_events(coordinator)[0]
    assert (event["boot_seq"], event["seq"]) == (births[1]["boot_seq"], 1)
