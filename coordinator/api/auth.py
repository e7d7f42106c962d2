"""Bearer-token authentication for the API; admin passes every role check."""

from __future__ import annotations

from typing import Any

from apiflask import HTTPTokenAuth

from coordinator.db import session_scope
from coordinator.jobs.commands import Actor
from coordinator.models.auth import ApiToken, Role
from coordinator.runtime import runtime
from coordinator.services.auth import verify_token

auth = HTTPTokenAuth(scheme="Bearer", description="API token from `peerfab token create`")


@auth.verify_token
def _verify(token: str) -> ApiToken | None:
    with session_scope(runtime().engine) as session:
        return verify_token(session, token)


@auth.get_user_roles
def _roles(user: ApiToken) -> list[str]:
    return [user.role]


def roles(*allowed: Role) -> dict[str, Any]:
    """Keyword arguments for `auth_required`: the given roles, or admin."""
    return {"roles": [r.value for r in {*allowed, Role.ADMIN}]}


def current_token_name() -> str:
    user = auth.current_user
    return user.name if user is not None else ""


def current_actor() -> Actor:
    """Who the request's token belongs to, as the job domain checks it."""
    user = auth.current_user
    if user is None:
        return Actor("", frozenset())
    return Actor(user.name, frozenset({user.role}))
