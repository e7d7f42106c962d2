"""Notifications: a signed-in person's subscriptions, their test button and their delivery log."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from coordinator.dashboard import access
from coordinator.dashboard.blueprint import bp, db, page
from coordinator.fablab import notices, subscriptions
from protocol.errors import PeerfabError


@bp.get("/dashboard/notifications")
def notifications() -> str:
    person = access.current_person()
    subs, log = [], []
    if person is not None:
        with db() as session:
            subs = [subscriptions.subscription_row(s) for s in subscriptions.owned(session, person.actor)]
            log = subscriptions.deliveries(session, person.actor, limit=50)
    return page("notifications.html", subs=subs, log=log, kinds=notices.KINDS)


def _signed_in() -> access.Person:
    person = access.current_person()
    if person is None:
        abort(403, "Sign in to manage your notifications.")
    access.check_csrf()
    return person


@bp.post("/dashboard/notifications")
def subscribe() -> ResponseReturnValue:
    person = _signed_in()
    data = {
        "channel": request.form.get("channel", ""),
        "url": request.form.get("url", ""),
        "fablab": request.form.get("fablab", "").strip(),
        "kinds": request.form.getlist("kind"),
        "secret": secrets.token_urlsafe(24),
    }
    try:
        with db() as session:
            sub = subscriptions.create(session, person.actor, data)
            secret, channel = sub.secret, sub.channel
    except PeerfabError as exc:
        flash(exc.message, "error")
        return redirect(url_for("dashboard.notifications"))
    shown = f" Its signing secret (shown once): {secret}" if channel == "webhook" else ""
    flash(f"Subscribed.{shown}", "ok")
    return redirect(url_for("dashboard.notifications"))


@bp.post("/dashboard/notifications/<int:sub_id>/test")
def test_notification(sub_id: int) -> ResponseReturnValue:
    return _on_subscription(
        sub_id,
        subscriptions.send_test,
        "Test notification queued; its delivery shows in the log below within seconds.",
    )


@bp.post("/dashboard/notifications/<int:sub_id>/delete")
def unsubscribe(sub_id: int) -> ResponseReturnValue:
    return _on_subscription(sub_id, subscriptions.remove, f"Subscription {sub_id} removed.")


def _on_subscription(sub_id: int, action: Callable[[Any, Any, int], None], done: str) -> ResponseReturnValue:
    """Do `action` to one of the signed-in person's subscriptions; say how it went on the page."""
    person = _signed_in()
    try:
        with db() as session:
            action(session, person.actor, sub_id)
    except PeerfabError as exc:
        flash(exc.message, "error")
    else:
        flash(done, "ok")
    return redirect(url_for("dashboard.notifications"))
