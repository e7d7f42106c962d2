"""Bar charts for the statistics pages, and the signature of a webhook delivery."""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from coordinator.dashboard.svg_bars import Row, render_bars
from coordinator.fablab.delivery import DeliverySettings, record_try, sign
from coordinator.models.fablab import Delivery

SVG = "{http://www.w3.org/2000/svg}"


def test_bars_are_proportional_and_carry_no_inline_style() -> None:
    svg = render_bars(
        [Row("a", 1.0, "100 %"), Row("b", 0.5, "50 %"), Row("c", None, "no run")], title="Rate", maximum=1.0
    )
    root = ET.fromstring(svg)
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect")]
    assert len(widths) == 2 and abs(widths[0] - 2 * widths[1]) < 0.2
    assert "style" not in svg and "<script" not in svg
    assert [g.get("data-row") for g in root.iter(f"{SVG}g")] == ["a", "b", "c"]


def test_a_webhook_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    body = b'{"kind":"job_failed"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", "1700000000", body) == f"sha256={expected}"


def test_failed_tries_wait_twice_as_long_each_time_then_give_up() -> None:
    settings = DeliverySettings(backoff_s=10, max_tries=4)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    delivery = Delivery(notice_id=1, subscription_id=1, next_at=now)
    waits = []
    for _ in range(3):
        record_try(delivery, False, 500, "HTTP 500", now, settings)
        waits.append((delivery.next_at - now).total_seconds())
    assert waits == [10, 20, 40] and delivery.state == "pending"
    record_try(delivery, False, None, "refused", now, settings)
    assert delivery.state == "failed" and delivery.tries == 4 and delivery.last_error == "refused"
