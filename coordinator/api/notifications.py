"""Notifications: subscriptions to events, a test button, and the delivery log."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, ConfigDict, Field

from coordinator.api.auth import auth, current_actor, roles
from coordinator.db import session_scope
from coordinator.fablab import notices, subscriptions
from coordinator.models.auth import Role
from coordinator.runtime import runtime

bp = APIBlueprint("notifications", __name__, tag="Notifications")
EVERYONE = roles(Role.DESIGNER, Role.BUILDER, Role.OPERATOR, Role.AGENT)


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[str] = Field(min_length=1, max_length=20, description="see GET /notifications/kinds")
    channel: str = Field(
        description="'webhook' (signed POST) or 'apprise' (mailto://, matrix://, tgram://, ntfy://...)"
    )
    url: str = Field(min_length=1, max_length=1000)
    fablab: str = Field("", max_length=63, description="only this fablab's events ('' = every fablab)")
    secret: str = Field("", max_length=200, description="webhooks: the HMAC key ('' = one is made)")


@bp.get("/notifications/kinds")
def kinds() -> dict[str, Any]:
    """What one can subscribe to."""
    return {"kinds": notices.KINDS}


@bp.get("/notifications/subscriptions")
@bp.auth_required(auth, **EVERYONE)
def list_subscriptions() -> dict[str, Any]:
    """Your subscriptions (an admin sees everyone's)."""
    with session_scope(runtime().engine) as session:
        return {
            "subscriptions": [
                subscriptions.subscription_row(s) for s in subscriptions.owned(session, current_actor())
            ]
        }


@bp.post("/notifications/subscriptions")
@bp.auth_required(auth, **EVERYONE)
@bp.input(SubscriptionIn, location="json")
def subscribe(json_data: SubscriptionIn) -> tuple[dict[str, Any], int]:
    """Subscribe to events; a webhook's secret is shown in this answer only."""
    with session_scope(runtime().engine) as session:
        sub = subscriptions.create(session, current_actor(), json_data.model_dump())
        return subscriptions.subscription_row(sub, with_secret=True), 201


@bp.delete("/notifications/subscriptions/<int:sub_id>")
@bp.auth_required(auth, **EVERYONE)
def unsubscribe(sub_id: int) -> dict[str, Any]:
    with session_scope(runtime().engine) as session:
        subscriptions.remove(session, current_actor(), sub_id)
    return {"deleted": sub_id}


@bp.post("/notifications/subscriptions/<int:sub_id>/test")
@bp.auth_required(auth, **EVERYONE)
def test(sub_id: int) -> tuple[dict[str, Any], int]:
    """Send a test notification to one subscription (see its delivery log for the outcome)."""
    with session_scope(runtime().engine) as session:
        subscriptions.send_test(session, current_actor(), sub_id)
    return {"queued": sub_id}, 202


@bp.get("/notifications/deliveries")
@bp.auth_required(auth, **EVERYONE)
def deliveries() -> dict[str, Any]:
    """The delivery log of your subscriptions, newest first (?subscription=ID for one)."""
    from flask import request

    wanted = request.args.get("subscription", type=int)
    with session_scope(runtime().engine) as session:
        return {"deliveries": subscriptions.deliveries(session, current_actor(), wanted)}
