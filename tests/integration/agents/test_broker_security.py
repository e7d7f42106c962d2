"""The Mosquitto config and the credentials we generate keep every agent inside its own topics."""

from __future__ import annotations

import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fablab_agents import credentials
from fablab_agents.config import parse_mqtt_url
from protocol import topics
from tests.integration.agents.conftest import COORDINATOR_PASSWORD, FABLAB, Broker, Coordinator, wait_until


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


def _session_client(client_id: str, user: str, password: str, port: int) -> tuple[mqtt.Client, list[Any]]:
    """A client with a persistent session that records every connect and disconnect."""
    seen: list[Any] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.username_pw_set(user, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: seen.append(("connect", str(reason)))
    client.on_disconnect = lambda _c, _u, _f, reason, _p: seen.append(("disconnect", str(reason)))
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    wait_until(lambda: seen, what="CONNACK")
    return client, seen


def _hijack(url: str, client_id: str, broker: Broker) -> list[str]:
    """Connect with an agent's credentials under someone else's client id, with a clean session."""
    target = parse_mqtt_url(url)
    outcome: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.username_pw_set(target.username, target.password)
    client.on_connect = lambda _c, _u, _f, reason, _p: outcome.append(str(reason))
    client.connect("127.0.0.1", broker.mosquitto.port, keepalive=10)
    client.loop_start()
    wait_until(lambda: outcome, what="CONNACK")
    time.sleep(0.5)  # a takeover would have disconnected the victim by now
    client.loop_stop()
    client.disconnect()
    return outcome


def test_agent_credentials_cannot_take_the_coordinators_client_id(broker: Broker) -> None:
    from coordinator.settings import MqttSettings

    client_id = MqttSettings().client_id
    url = broker.add_agent("agent-1")
    agent_url = broker.add_agent("agent-2")
    port = broker.mosquitto.port
    real, seen = _session_client(client_id, credentials.COORDINATOR_USER, COORDINATOR_PASSWORD, port)
    real.subscribe(topics.all_agents("events"), qos=1)
    time.sleep(0.2)
    assert _hijack(url, client_id, broker) == ["Success"]
    assert [event[0] for event in seen] == ["connect"]  # never knocked off
    # Offline, the coordinator's session keeps its subscription and queues QoS 1 events for it;
    # a clean-session connect under its id must not throw them away.
    real.loop_stop()
    real.disconnect()
    events = topics.agent_topic(FABLAB, "agent-2", "events")
    sender, _ = client_for(agent_url, broker)
    sender.publish(events, b'{"queued": true}', qos=1).wait_for_publish(5)
    sender.loop_stop()
    sender.disconnect()
    assert _hijack(url, client_id, broker) == ["Success"]
    received: list[bytes] = []
    back = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    back.username_pw_set(credentials.COORDINATOR_USER, COORDINATOR_PASSWORD)
    present: list[bool] = []
    back.on_connect = lambda _c, _u, flags, _r, _p: present.append(flags.session_present)
    back.on_message = lambda _c, _u, message: received.append(message.payload)
    back.connect("127.0.0.1", port, keepalive=10)
    back.loop_start()
    wait_until(lambda: received, what="the queued event")
    back.loop_stop()
    back.disconnect()
    assert present == [True]
    assert received == [b'{"queued": true}']


def test_agent_credentials_cannot_take_another_agents_client_id(broker: Broker) -> None:
    url_1 = broker.add_agent("agent-1")
    url_2 = broker.add_agent("agent-2")
    target = parse_mqtt_url(url_2)
    # the id the agent itself asks for (fablab_agents/link.py); the broker replaces it by the user name
    victim_id = f"peerfab-agent-{FABLAB}-agent-2"
    victim, seen = _session_client(victim_id, target.username, target.password, broker.mosquitto.port)
    assert _hijack(url_1, victim_id, broker) == ["Success"]
    assert _hijack(url_1, target.username, broker) == ["Success"]
    assert [event[0] for event in seen] == ["connect"]
    victim.loop_stop()
    victim.disconnect()
