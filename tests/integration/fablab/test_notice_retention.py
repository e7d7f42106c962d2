"""Notices and their delivery log are kept for the configured retention, then the notifier deletes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from coordinator.db import session_scope
from coordinator.fablab import subscriptions
from coordinator.fablab.delivery import DeliverySettings, Notifier
from coordinator.models.base import utcnow
from coordinator.models.fablab import Delivery, Notice
from coordinator.services.auth import Actor

ADMIN = Actor(name="ada", role="admin")


def _notice_delivered(runtime: Any, key: str, age: timedelta, subscription: int) -> None:
    when = utcnow() - age
    with session_scope(runtime.engine) as session:
        notice = Notice(kind="job_failed", key=key, title=key, fanned_out=True, created_at=when)
        session.add(notice)
        session.flush()
        assert notice.id is not None
        session.add(Delivery(notice_id=notice.id, subscription_id=subscription, state="sent", next_at=when,
                             sent_at=when, created_at=when))  # fmt: skip


def test_notices_past_the_retention_are_deleted_with_their_deliveries(runtime) -> None:  # type: ignore[no-untyped-def]
    with session_scope(runtime.engine) as session:
        sub = subscriptions.create(session, ADMIN, {"channel": "webhook", "url": "http://127.0.0.1:9/hook",
                                                    "kinds": ["job_failed"]})  # fmt: skip
        assert sub.id is not None
        sub_id = sub.id
    _notice_delivered(runtime, "old", timedelta(days=31), sub_id)
    _notice_delivered(runtime, "recent", timedelta(days=29), sub_id)
    Notifier(runtime.engine, settings=DeliverySettings(retention_days=30)).step()
    with session_scope(runtime.engine) as session:
        assert [n.key for n in session.exec(select(Notice))] == ["recent"]
        kept = session.exec(select(Delivery)).all()
        assert [d.notice_id for d in kept] == [session.exec(select(Notice.id)).one()]
