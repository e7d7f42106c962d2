"""The notifier: a worker of its own that turns committed changes into notices and delivers them.

The job domain's outbox hands it every committed unit of work's effects (`receive`, which only
queues); the worker writes notices for machines that went into error or offline, looks for late
builds and due maintenance now and then (and deletes notices past their retention, with their
deliveries), fans each notice out to the subscriptions that want it,
and sends each delivery: a signed webhook or an apprise URL (e-mail, Matrix, Telegram, ntfy...).
A failed delivery is tried again later, each wait twice as long, and every try is logged on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from coordinator.db import session_scope
from coordinator.fablab import maintenance, notices
from coordinator.models.base import aware, utcnow
from coordinator.models.builds import Build, BuildState
from coordinator.models.fablab import Delivery, Notice, Subscription
from coordinator.settings import NOTICE_RETENTION_DAYS

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Peerfab-Signature"
CHANNELS = ("webhook", "apprise")


@dataclass
class DeliverySettings:
    poll_s: float = 2.0  # the worker looks for work at least this often
    checks_every_s: float = 15.0  # late builds, due maintenance, Spoolman
    timeout_s: float = 5.0  # one try of one delivery
    max_tries: int = 6
    backoff_s: float = 10.0  # wait after the first failed try; doubled after each further one
    batch: int = 50
    retention_days: float = NOTICE_RETENTION_DAYS  # notices and their deliveries are deleted after this
    prune_every_s: float = 3600.0  # how often the retention is applied (a scan of the notices)


@dataclass
class Notifier:
    """Delivers notices from a background thread; `receive` never blocks the caller."""

    engine: Engine
    public_url: Callable[[], str] = lambda: ""
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    periodic: list[Callable[[Session], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._machines: list[tuple[str, str, str]] = []
        self._status: dict[tuple[str, str], str] = {}
        self._checked = 0.0
        self._pruned = float("-inf")  # the first checks apply the retention at once
        self._thread: threading.Thread | None = None

    # ---- the outbox's side ---------------------------------------------------------------------

    def receive(self, effects: Any) -> None:
        """Take a committed unit of work's effects: machines whose status changed; wake the worker."""
        changed = [(m.fablab, m.machine_id, m.status) for m in effects.written.machines]
        if changed:
            with self._lock:
                self._machines += changed
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    # ---- the worker ----------------------------------------------------------------------------

    def start(self) -> Notifier:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.poll_s)
            self._wake.clear()
            try:
                self.step()
            except Exception:  # noqa: BLE001 -- a bad round must not end the worker; the next one retries
                log.exception("notifier round failed")

    def step(self, now: datetime | None = None) -> int:
        """One round: notices from machine changes and checks, fan-out, due deliveries; return sends."""
        now = now or utcnow()
        self._machine_notices()
        if time.monotonic() - self._checked >= self.settings.checks_every_s:
            self._checked = time.monotonic()
            self._checks(now)
        with session_scope(self.engine) as session:
            fan_out(session, now)
        return self._send_due(now)

    def _machine_notices(self) -> None:
        with self._lock:
            changed, self._machines = self._machines, []
        if not changed:
            return
        with session_scope(self.engine) as session:
            for fablab, machine_id, status in changed:
                before = self._status.get((fablab, machine_id))
                self._status[(fablab, machine_id)] = status
                if status != before:
                    notices.machine_status(session, fablab, machine_id, status, utcnow().isoformat())

    def _prune(self, session: Session, now: datetime) -> None:
        """Apply the retention, at most once per `prune_every_s`."""
        if time.monotonic() - self._pruned < self.settings.prune_every_s:
            return
        self._pruned = time.monotonic()
        days = self.settings.retention_days
        if pruned := notices.prune(session, now - timedelta(days=days)):
            log.info("deleted %d notices older than %g days, with their deliveries", pruned, days)

    def _checks(self, now: datetime) -> None:
        with session_scope(self.engine) as session:
            self._prune(session, now)
            late_builds(session, now)
            due_maintenance(session, now)
        for check in self.periodic:
            try:
                with session_scope(self.engine) as session:
                    check(session)
            except Exception:  # noqa: BLE001 -- one failing check (a Spoolman server down) must not stop the rest
                log.exception("notifier check %s failed", getattr(check, "__name__", check))

    def _send_due(self, now: datetime) -> int:
        with session_scope(self.engine) as session:
            due = session.exec(
                select(Delivery.id)
                .where(Delivery.state == "pending", col(Delivery.next_at) <= now)
                .order_by(col(Delivery.next_at))
                .limit(self.settings.batch)
            ).all()
        sent = 0
        for delivery_id in due:
            if self._stop.is_set():
                break
            assert delivery_id is not None
            sent += int(self._deliver(delivery_id))
        return sent

    def _deliver(self, delivery_id: int) -> bool:
        with session_scope(self.engine) as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.state != "pending":
                return False
            notice = session.get(Notice, delivery.notice_id)
            subscription = session.get(Subscription, delivery.subscription_id)
            assert notice is not None and subscription is not None
            message = notice_payload(notice, self.public_url(), delivery_id)
            channel, url, secret = subscription.channel, subscription.url, subscription.secret
        ok, code, error = send(channel, url, secret, message, self.settings.timeout_s)
        with session_scope(self.engine) as session:
            delivery = session.get(Delivery, delivery_id)
            assert delivery is not None
            record_try(delivery, ok, code, error, utcnow(), self.settings)
        return ok


# ---- fan-out and checks --------------------------------------------------------------------------


def fan_out(session: Session, now: datetime, limit: int = 200) -> int:
    """A delivery for every subscription that wants each new notice; return how many were made."""
    fresh = list(
        session.exec(
            select(Notice).where(col(Notice.fanned_out).is_(False)).order_by(col(Notice.id)).limit(limit)
        )
    )
    if not fresh:
        return 0
    subscriptions = list(session.exec(select(Subscription).where(col(Subscription.enabled).is_(True))))
    made = 0
    for notice in fresh:
        for sub in subscriptions:
            if wants(sub, notice):
                assert notice.id is not None and sub.id is not None
                session.add(Delivery(notice_id=notice.id, subscription_id=sub.id, next_at=now))
                made += 1
        notice.fanned_out = True
        session.add(notice)
    return made


def wants(sub: Subscription, notice: Notice) -> bool:
    """Whether a subscription is for this notice: its kind, its fablab (or every fablab)."""
    if notice.only_subscription is not None:
        return notice.only_subscription == sub.id
    if notice.kind not in sub.kinds:
        return False
    return not sub.fablab or sub.fablab == notice.fablab


def late_builds(session: Session, now: datetime) -> None:
    """A notice for each live build whose expected finish (or now) is past its due date."""
    live = session.exec(
        select(Build).where(
            col(Build.state).in_([BuildState.ACTIVE, BuildState.BLOCKED]), col(Build.due_at).is_not(None)
        )
    )
    for build in live:
        assert build.due_at is not None
        due = aware(build.due_at)
        finish = aware(build.planned_finish_at) if build.planned_finish_at else None
        if now > due:
            why = f"its due date {due:%Y-%m-%d %H:%M} UTC has passed"
        elif finish is not None and finish > due:
            why = f"expected to finish {(finish - due).total_seconds() / 3600:.1f} h after its due date"
        else:
            continue
        notices.build_late(session, build.id, build.design, build.site, why)


def due_maintenance(session: Session, now: datetime) -> None:
    for item in maintenance.task_states(session, now=now):
        t = item.task
        if item.due and t.id is not None:
            notices.maintenance_due(
                session,
                t.fablab,
                t.machine_id,
                t.id,
                aware(t.done_at).isoformat(),
                f"{t.name} is due ({item.why}); sign it off to give the machine work again",
            )


# ---- sending -------------------------------------------------------------------------------------


def notice_payload(notice: Notice, base_url: str, delivery_id: int) -> dict[str, Any]:
    """What a webhook receives (and what an apprise message is made of)."""
    link = f"{base_url.rstrip('/')}{notice.link}" if notice.link and base_url else notice.link
    return {
        "delivery": delivery_id,
        "notice": notice.id,
        "kind": notice.kind,
        "fablab": notice.fablab,
        "title": notice.title,
        "body": notice.body,
        "link": link,
        "subject": notice.subject,
        "at": aware(notice.created_at).isoformat(),
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 of "<timestamp>.<body>" with the subscription's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send(
    channel: str, url: str, secret: str, message: dict[str, Any], timeout_s: float
) -> tuple[bool, int | None, str]:
    """One try: (delivered, HTTP status if any, error text)."""
    if channel == "webhook":
        return _webhook(url, secret, message, timeout_s)
    if channel == "apprise":
        return _apprise(url, message)
    return False, None, f"unknown channel {channel!r}"


def _webhook(
    url: str, secret: str, message: dict[str, Any], timeout_s: float
) -> tuple[bool, int | None, str]:
    body = json.dumps(message, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "peerfab-notifier",
        "X-Peerfab-Event": message["kind"],
        "X-Peerfab-Delivery": str(message["delivery"]),
        "X-Peerfab-Timestamp": timestamp,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    try:
        response = requests.post(url, data=body, headers=headers, timeout=timeout_s, allow_redirects=False)
    except requests.RequestException as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return True, response.status_code, ""
    return False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def _apprise(url: str, message: dict[str, Any]) -> tuple[bool, int | None, str]:
    try:
        import apprise
    except ImportError:
        return False, None, "apprise is not installed on this coordinator (pip install apprise)"
    sender = apprise.Apprise()
    if not sender.add(url):
        return False, None, "apprise does not understand this URL"
    body = "\n".join(part for part in (message["body"], message["link"]) if part) or message["title"]
    if sender.notify(title=message["title"], body=body):
        return True, None, ""
    return False, None, "apprise could not deliver (see the coordinator's log)"


def record_try(
    delivery: Delivery, ok: bool, code: int | None, error: str, now: datetime, settings: DeliverySettings
) -> None:
    """Log a try on the delivery: sent, or pending again after a backoff, or failed for good."""
    delivery.tries += 1
    delivery.status_code, delivery.last_error = code, error
    if ok:
        delivery.state, delivery.sent_at = "sent", now
    elif delivery.tries >= settings.max_tries:
        delivery.state = "failed"
    else:
        wait = min(3600.0, settings.backoff_s * 2 ** (delivery.tries - 1))
        delivery.next_at = now + timedelta(seconds=wait)
