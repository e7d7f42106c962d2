"""A failed job and a bed to clear reach a webhook exactly once each, and no slow receiver slows dispatch."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from coordinator.db import session_scope
from coordinator.fablab import subscriptions
from coordinator.fablab.delivery import SIGNATURE_HEADER, DeliverySettings, Notifier
from coordinator.models.fablab import Delivery
from coordinator.services.auth import Actor
from protocol import payloads as p

from .conftest import job_state, submit, wait_until
from .fake_agent import machine

OPERATOR = Actor(name="olga", role="operator", fablabs=("lab-berlin",))


class Receiver:
    """A webhook receiver on a free loopback port; it answers slowly while `delay_s` is set."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.delay_s = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(outer.delay_s)
                outer.received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self) -> list[str]:
        return sorted(json.loads(body)["kind"] for _, body in self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture
def notifier(runtime: Any) -> Iterator[Notifier]:
    worker = Notifier(
        runtime.engine, settings=DeliverySettings(poll_s=0.1, checks_every_s=0.5, backoff_s=0.2)
    )
    runtime.outbox.listeners.append(worker.receive)
    yield worker.start()
    worker.stop()


def _subscribe(runtime: Any, url: str, kinds: list[str]) -> tuple[int, str]:
    with session_scope(runtime.engine) as session:
        sub = subscriptions.create(session, OPERATOR, {"channel": "webhook", "url": url, "kinds": kinds,
                                                       "fablab": "lab-berlin"})  # fmt: skip
        assert sub.id is not None
        return sub.id, sub.secret


def test_failed_job_and_bed_clear_reach_the_webhook_once_each(runtime, make_agent, receiver, notifier):
    _, secret = _subscribe(runtime, receiver.url, ["job_failed", "bed_clear"])
    agent = make_agent()
    confirm = machine("prusa-1").model_copy(update={"operator_confirm": True})
    agent.birth(confirm, machine("prusa-2"))

    (made,) = submit(runtime, material="pla")
    offer = agent.wait_offer()
    assert offer.machine_id == "prusa-1"
    agent.job_event(p.JobAccepted, offer)
    agent.job_event(p.JobDone, offer, duration_s=1)  # its bed now holds the part
    (broken,) = submit(runtime, material="pla", max_attempts=1)
    second = agent.wait_offer(exclude={offer.attempt_id})
    assert second.machine_id == "prusa-2"
    agent.job_event(p.JobAccepted, second)
    agent.job_event(p.JobFailed, second, reason="nozzle clogged")
    wait_until(lambda: job_state(runtime, broken) == "failed", timeout_s=30, what="failed")
    wait_until(lambda: receiver.kinds() == ["bed_clear", "job_failed"], what="both notifications")

    # a receiver that takes seconds to answer holds nobody but the notifier
    receiver.delay_s = 3.0
    runtime.bus.handle(_test_notice(runtime))
    (quick,) = submit(runtime, material="pla")
    third = agent.wait_offer(exclude={offer.attempt_id, second.attempt_id}, timeout_s=2.0)
    agent.job_event(p.JobAccepted, third)
    agent.job_event(p.JobDone, third, duration_s=1)
    wait_until(
        lambda: job_state(runtime, quick) == "done", timeout_s=2.0, what="a job done while a webhook hangs"
    )
    time.sleep(1.0)

    assert receiver.kinds().count("bed_clear") == 1 and receiver.kinds().count("job_failed") == 1
    for headers, body in receiver.received[:2]:
        expected = hmac.new(
            secret.encode(), headers["X-Peerfab-Timestamp"].encode() + b"." + body, hashlib.sha256
        )
        assert headers[SIGNATURE_HEADER] == f"sha256={expected.hexdigest()}"
    failed = next(json.loads(b) for _, b in receiver.received if json.loads(b)["kind"] == "job_failed")
    assert failed["subject"]["job"] == broken and "nozzle clogged" in failed["body"]
    assert job_state(runtime, made) == "done"


def _test_notice(runtime: Any) -> Any:
    """A command that writes a test notice, so the slow receiver is busy while the next job runs."""
    from coordinator.jobs.commands import DispatchRound

    with session_scope(runtime.engine) as session:
        (sub,) = subscriptions.owned(session, OPERATOR)
        assert sub.id is not None
        subscriptions.send_test(session, OPERATOR, sub.id)
    return DispatchRound()


def test_a_failing_receiver_is_tried_again_with_backoff_and_logged(runtime, receiver, notifier):
    sub_id, _ = _subscribe(runtime, receiver.url.replace("/hook", "/missing").replace(
        str(receiver.server.server_address[1]), "9"), ["job_failed"])  # fmt: skip
    with session_scope(runtime.engine) as session:
        subscriptions.send_test(session, OPERATOR, sub_id)

    def tries() -> int:
        with session_scope(runtime.engine) as session:
            found = session.get(Delivery, 1)
            return found.tries if found is not None else 0

    wait_until(lambda: tries() >= 3, timeout_s=10, what="three tries")
    with session_scope(runtime.engine) as session:
        (row,) = subscriptions.deliveries(session, OPERATOR, sub_id)
    assert row["state"] in ("pending", "failed") and "Connection" in row["last_error"]
