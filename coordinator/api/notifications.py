"""Notifications: subscriptions to events, a test button, and the delivery log."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, ConfigDict, Field

from coordinator.api.auth import auth, current_actor, roles
from coordinator.api.fablab_schemas import (
    DeliveryListOut,
    KindsOut,
    QueuedOut,
    SubscriptionListOut,
    SubscriptionOut,
    UnsubscribedOut,
)
from coordinator.api.guards import MAX_ROW_ID
from coordinator.api.schemas import errors
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


class DeliveriesQuery(BaseModel):
    subscription: int | None = Field(None, ge=1, le=MAX_ROW_ID, description="one subscription's deliveries")
    limit: int = Field(100, ge=1, le=1000)


@bp.get("/notifications/kinds")
@bp.output(KindsOut)
@bp.doc(responses=errors(401))
def kinds() -> dict[str, Any]:
    """What one can subscribe to."""
    return {"kinds": notices.KINDS}


@bp.get("/notifications/subscriptions")
@bp.auth_required(auth, **EVERYONE)
@bp.output(SubscriptionListOut)
@bp.doc(responses=errors(401, 403))
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
@bp.output(SubscriptionOut, status_code=201, description="subscribed (a webhook secret shows here only)")
@bp.doc(responses=errors(400, 401, 403, 413, 422))
def subscribe(json_data: SubscriptionIn) -> tuple[dict[str, Any], int]:
    """Subscribe to events; a webhook's secret is shown in this answer only."""
    with session_scope(runtime().engine) as session:
        sub = subscriptions.create(session, current_actor(), json_data.model_dump())
        return subscriptions.subscription_row(sub, with_secret=True), 201


@bp.delete("/notifications/subscriptions/<int:sub_id>")
@bp.auth_required(auth, **EVERYONE)
@bp.output(UnsubscribedOut, description="unsubscribed")
@bp.doc(responses=errors(401, 403, _404="no such subscription of yours"))
def unsubscribe(sub_id: int) -> dict[str, Any]:
    """Delete one of your subscriptions."""
    with session_scope(runtime().engine) as session:
        subscriptions.remove(session, current_actor(), sub_id)
    return {"deleted": sub_id}


@bp.post("/notifications/subscriptions/<int:sub_id>/test")
@bp.auth_required(auth, **EVERYONE)
@bp.output(QueuedOut, status_code=202, description="a test notice is queued")
@bp.doc(responses=errors(401, 403, _404="no such subscription of yours"))
def test(sub_id: int) -> tuple[dict[str, Any], int]:
    """Send a test notification to one subscription (see its delivery log for the outcome)."""
    with session_scope(runtime().engine) as session:
        subscriptions.send_test(session, current_actor(), sub_id)
    return {"queued": sub_id}, 202


@bp.get("/notifications/deliveries")
@bp.auth_required(auth, **EVERYONE)
@bp.input(DeliveriesQuery, location="query")
@bp.output(DeliveryListOut)
@bp.doc(responses=errors(401, 403, 422, _404="no such subscription of yours"))
def deliveries(query_data: DeliveriesQuery) -> dict[str, Any]:
    """The delivery log of your subscriptions, newest first (?subscription=ID for one)."""
    actor, wanted = current_actor(), query_data.subscription
    with session_scope(runtime().engine) as session:
        return {"deliveries": subscriptions.deliveries(session, actor, wanted, query_data.limit)}
