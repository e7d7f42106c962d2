"""Who wants to hear of what: subscriptions per person and fablab, their test, their delivery log."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from coordinator.fablab import notices
from coordinator.fablab.delivery import CHANNELS
from coordinator.models.base import aware
from coordinator.models.fablab import Delivery, Notice, Subscription
from coordinator.services.auth import Actor
from protocol.errors import Forbidden, InvalidInput, NotFound

MAX_PER_OWNER = 50


def create(session: Session, actor: Actor, data: dict[str, Any]) -> Subscription:
    """A subscription of `actor`'s, checked before anything is written."""
    if not actor.name and not actor.is_admin:
        raise Forbidden("a subscription belongs to a person: use a token with a name")
    channel, url = str(data.get("channel", "")), str(data.get("url", "")).strip()
    kinds = [str(k) for k in data.get("kinds") or []]
    fablab = str(data.get("fablab") or "")
    _check_channel(channel, url)
    unknown = [k for k in kinds if k not in notices.KINDS]
    if not kinds or unknown:
        raise InvalidInput(
            f"kinds: choose from {', '.join(notices.KINDS)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    if fablab and not actor.may_act_on(fablab):
        raise Forbidden(f"{actor.name} may not follow fablab {fablab!r}")
    if not fablab and actor.fablabs and not actor.is_admin:
        raise InvalidInput("this token is confined to some fablabs: name one (field 'fablab')")
    if len(owned(session, actor)) >= MAX_PER_OWNER:
        raise InvalidInput(f"at most {MAX_PER_OWNER} subscriptions per person")
    secret = str(data.get("secret") or (secrets.token_urlsafe(24) if channel == "webhook" else ""))
    sub = Subscription(owner=actor.name, fablab=fablab, kinds=kinds, channel=channel, url=url, secret=secret)
    session.add(sub)
    session.flush()
    return sub


def _check_channel(channel: str, url: str) -> None:
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
    if not url or len(url) > 1000:
        raise InvalidInput("url: give the webhook URL or the apprise URL (at most 1000 characters)")
    if channel == "webhook":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"url: a webhook needs an http(s) URL, got {url!r}")
        return
    try:
        import apprise
    except ImportError as exc:
        raise InvalidInput("apprise is not installed on this coordinator; use a webhook") from exc
    if not apprise.Apprise().add(url):
        raise InvalidInput(f"url: apprise does not understand {url.split(':', 1)[0]}:// URLs like this one")


def owned(session: Session, actor: Actor) -> list[Subscription]:
    """The actor's subscriptions (an admin sees everyone's)."""
    query = select(Subscription).order_by(col(Subscription.id))
    if not actor.is_admin:
        query = query.where(Subscription.owner == actor.name)
    return list(session.exec(query))


def get(session: Session, actor: Actor, sub_id: int) -> Subscription:
    sub = session.get(Subscription, sub_id)
    if sub is None or not actor.owns(sub.owner):
        raise NotFound(f"you have no subscription {sub_id}")
    return sub


def remove(session: Session, actor: Actor, sub_id: int) -> None:
    sub = get(session, actor, sub_id)
    for delivery in session.exec(select(Delivery).where(Delivery.subscription_id == sub_id)):
        session.delete(delivery)
    session.delete(sub)


def send_test(session: Session, actor: Actor, sub_id: int) -> None:
    """A test notice for one subscription: the worker delivers it like any other."""
    sub = get(session, actor, sub_id)
    notices.add(
        session,
        "test",
        f"test:{sub_id}:{secrets.token_hex(8)}",
        "peerfab test notification",
        fablab=sub.fablab,
        body=f"Subscription {sub_id} of {sub.owner} reaches you.",
        only=sub_id,
    )


def deliveries(
    session: Session, actor: Actor, sub_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The delivery log: newest first, of one subscription or of all the actor's."""
    subs = {s.id: s for s in owned(session, actor)}
    if sub_id is not None:
        get(session, actor, sub_id)
        wanted = [sub_id]
    else:
        wanted = [i for i in subs if i is not None]
    rows = session.exec(
        select(Delivery, Notice)
        .join(Notice, col(Notice.id) == col(Delivery.notice_id))
        .where(col(Delivery.subscription_id).in_(wanted))
        .order_by(col(Delivery.id).desc())
        .limit(limit)
    ).all()
    return [delivery_row(d, n) for d, n in rows]


def delivery_row(delivery: Delivery, notice: Notice) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "subscription": delivery.subscription_id,
        "kind": notice.kind,
        "title": notice.title,
        "state": delivery.state,
        "tries": delivery.tries,
        "status_code": delivery.status_code,
        "last_error": delivery.last_error,
        "next_at": aware(delivery.next_at).isoformat(),
        "sent_at": aware(delivery.sent_at).isoformat() if delivery.sent_at else None,
        "created_at": aware(delivery.created_at).isoformat(),
    }


def subscription_row(sub: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    row = {
        "id": sub.id,
        "owner": sub.owner,
        "fablab": sub.fablab,
        "kinds": sub.kinds,
        "channel": sub.channel,
        "url": _shown_url(sub),
        "enabled": sub.enabled,
        "created_at": aware(sub.created_at).isoformat(),
    }
    if with_secret:
        row["secret"] = sub.secret
    return row


def _shown_url(sub: Subscription) -> str:
    """A webhook's URL; an apprise URL without what follows its scheme's host (it may hold passwords)."""
    if sub.channel == "webhook":
        return sub.url
    scheme, _, rest = sub.url.partition("://")
    return f"{scheme}://{rest[:4]}…" if rest else sub.url
