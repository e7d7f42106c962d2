"""The Mosquitto config and the credentials we generate keep every agent inside its own topics."""

from __future__ import annotations

import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fablab_agents.config import parse_mqtt_url
from protocol import topics
from tests.integration.agents.conftest import FABLAB, Broker, Coordinator, wait_until


def client_for(url: str, broker: Broker) -> tuple[mqtt.Client, list[str]]:
    target = parse_mqtt_url(url)
    outcome: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{target.username}")
    client.username_pw_set(target.username, target.password)
    client.on_connect = lambda _c, _u, _f, reason, _p: outcome.append(str(reason))
    client.connect("127.0.0.1", broker.mosquitto.port, keepalive=10)
    client.loop_start()
    wait_until(lambda: outcome, what="CONNACK")
    return client, outcome


def test_agent_cannot_publish_on_another_agents_topics(broker: Broker, coordinator: Coordinator) -> None:
    url_1 = broker.add_agent("agent-1")
    broker.add_agent("agent-2")
    intruder, outcome = client_for(url_1, broker)
    assert outcome == ["Success"]
    other_events = topics.agent_topic(FABLAB, "agent-2", "events")
    other_state = topics.agent_topic(FABLAB, "agent-2", "state")
    own_events = topics.agent_topic(FABLAB, "agent-1", "events")
    intruder.publish(other_events, b'{"forged": true}', qos=1).wait_for_publish(5)
    intruder.publish(other_state, b'{"forged": true}', qos=1, retain=True).wait_for_publish(5)
    intruder.publish(own_events, b'{"marker": true}', qos=1).wait_for_publish(5)
    # The marker was published after the forgeries on the same connection, so once it has arrived
    # the forgeries would have arrived too.
    wait_until(lambda: any(e.get("marker") for e in coordinator.events), what="own event")
    assert not any(e.get("forged") for e in coordinator.events + coordinator.states)
    intruder.loop_stop()
    intruder.disconnect()


def test_agent_cannot_read_another_agents_commands(broker: Broker, coordinator: Coordinator) -> None:
    url_1 = broker.add_agent("agent-1")
    broker.add_agent("agent-2")
    snooper, _ = client_for(url_1, broker)
    seen: list[str] = []
    snooper.on_message = lambda _c, _u, message: seen.append(message.topic)
    granted: list[Any] = []
    snooper.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.extend(codes)
    snooper.subscribe(
        [
            (topics.agent_topic(FABLAB, "agent-2", "commands"), 1),
            (topics.agent_topic(FABLAB, "agent-1", "commands"), 1),
        ]
    )
    wait_until(lambda: len(granted) == 2, what="SUBACK")
    for agent in ("agent-2", "agent-1"):
        info = coordinator.client.publish(topics.agent_topic(FABLAB, agent, "commands"), b"{}", qos=1)
        info.wait_for_publish(5)
    wait_until(lambda: seen, what="own command")
    time.sleep(0.1)
    assert seen == [topics.agent_topic(FABLAB, "agent-1", "commands")]
    snooper.loop_stop()
    snooper.disconnect()


def test_wrong_password_and_anonymous_clients_are_refused(broker: Broker) -> None:
    url = broker.add_agent("agent-1")
    _, outcome = client_for(url.replace("agent-1-secret", "guess"), broker)
    assert outcome == ["Not authorized"]
    anonymous = mqtt.Client(CallbackAPIVersion.VERSION2)
    result: list[str] = []
    anonymous.on_connect = lambda _c, _u, _f, reason, _p: result.append(str(reason))
    anonymous.connect("127.0.0.1", broker.mosquitto.port)
    anonymous.loop_start()
    wait_until(lambda: result, what="CONNACK")
    anonymous.loop_stop()
    assert result == ["Not authorized"]
