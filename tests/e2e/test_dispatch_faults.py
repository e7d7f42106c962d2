"""Faults in a live system: real agents on simulated printers, the real dispatcher, Mosquitto.

Every test ends by asking the database: each job ended once (one final event row), as expected.
"""

from __future__ import annotations

import os
import signal

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from protocol import payloads as p
from protocol import topics
from tests.support.waiting import wait_until

from .conftest import FABLAB

pytest.importorskip("firmware_bridge.drivers", reason="the firmware bridge drivers are not built yet")
pytest.importorskip("firmware_bridge.gcode_check", reason="the G-code safety check is not built yet")


def _exactly_once(site, ids):
    assert site.all_done(ids), site.states()
    counts = site.final_event_counts()
    assert all(counts.get(i) == 1 for i in ids), counts


def test_killed_agent_job_is_finished_by_another_exactly_once(site, start_agent):
    first = start_agent("agent-a", time_scale=20)
    (job_id,) = site.submit()
    wait_until(lambda: site.states()[job_id] == "running", what="job running on agent-a")
    start_agent("agent-b", time_scale=200)
    first.kill()
    wait_until(lambda: site.all_done([job_id]), timeout_s=60, what="job done elsewhere")
    _exactly_once(site, [job_id])
    attempts = site.attempts(job_id)
    assert [a.state for a in attempts] == ["expired", "done"]
    assert attempts[0].agent == "agent-a" and attempts[1].agent == "agent-b"


def test_broker_restart_loses_nothing(site, start_agent, mosquitto):
    start_agent("agent-a")
    start_agent("agent-b")
    ids = site.submit(4)
    wait_until(lambda: "running" in site.states().values(), what="a job running")
    mosquitto.restart(down_s=1.0)  # agents keep printing and journal their events meanwhile
    wait_until(lambda: site.all_done(ids), timeout_s=90, what="all jobs done after the restart")
    _exactly_once(site, ids)


def test_coordinator_restart_recovers_from_the_database(site, start_agent):
    start_agent("agent-a")
    start_agent("agent-b")
    ids = site.submit(4)
    wait_until(lambda: "running" in site.states().values(), what="a job running")
    site.restart_dispatcher(down_s=1.0)
    wait_until(lambda: site.all_done(ids), timeout_s=90, what="all jobs done after the restart")
    _exactly_once(site, ids)


def test_killed_network_process_is_replaced_and_loses_nothing(site, start_agent, mosquitto):
    announced: list[bool] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
    watcher.on_message = lambda _c, _u, m: announced.append(p.decode_coordinator_state(m.payload).online)
    watcher.connect(mosquitto.host, mosquitto.port)
    watcher.subscribe(topics.COORDINATOR_STATE, qos=1)
    watcher.loop_start()
    try:
        start_agent("agent-a")
        start_agent("agent-b")
        ids = site.submit(4)
        wait_until(lambda: "running" in site.states().values(), what="a job running")
        link = site.dispatcher.link
        first = link.pid
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: link.pid not in (None, first) and link.connected,
            timeout_s=30,
            what="a new network process",
        )
        wait_until(
            lambda: site.all_done(ids), timeout_s=90, what="all jobs done after the network process died"
        )
        _exactly_once(site, ids)
        # the broker published the will of the killed connection, then the new one came online
        wait_until(lambda: announced[-2:] == [False, True], what="offline (the will), then online")
    finally:
        watcher.loop_stop()
        watcher.disconnect()


def test_duplicated_and_malformed_messages_change_nothing(site, start_agent, mosquitto):
    """A rogue client echoes every agent event a second time and adds garbage of its own."""
    start_agent("agent-a")
    events = topics.agent_topic(FABLAB, "agent-a", "events")
    echo = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="echo")
    echoed: list[bytes] = []

    def repeat(client, _u, message):
        if message.payload not in echoed:
            echoed.append(message.payload)
            client.publish(events, message.payload, qos=1)
            client.publish(events, b'{"schema": 1, "type": "job:done", "job_id": 1}', qos=1)

    echo.on_message = repeat
    echo.connect(mosquitto.host, mosquitto.port)
    echo.subscribe(events, qos=1)
    echo.loop_start()
    try:
        ids = site.submit(3)
        wait_until(lambda: site.all_done(ids), timeout_s=60, what="all jobs done")
    finally:
        echo.disconnect()
        echo.loop_stop()
    assert echoed, "the echo client saw no events"
    _exactly_once(site, ids)
    assert all(len(site.attempts(i)) == 1 for i in ids)
