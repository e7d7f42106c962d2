"""Bearer-token authentication for the API; admin passes every role check.

Role checks say what kind of action a token may take; `require_fablab` and `require_owner` say on
what: a scoped operator or agent token acts on its own fablabs only, and changing something someone
started or maintains needs that someone (or an admin).
"""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask, HTTPTokenAuth
from flask import request

from coordinator.db import session_scope
from coordinator.models.auth import ApiToken, Role
from coordinator.runtime import runtime
from coordinator.services import auth as auth_service
from coordinator.services.auth import Actor, actor_of, verify_token
from protocol.errors import Unauthorized

auth = HTTPTokenAuth(scheme="Bearer", description="API token from `peerfab token create`")
# Readable without a token even when reads are private: liveness probes and the API's own description.
ALWAYS_PUBLIC = ("/health", "/openapi.json", "/docs")


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
    """The actor behind this request's token (call only in routes that require a token)."""
    user = auth.current_user
    if user is None:
        raise Unauthorized("this needs an API token")
    return actor_of(user)


def require_fablab(fablab: str) -> None:
    """Refuse (403) unless this request's token may act on `fablab`."""
    auth_service.require_fablab(current_actor(), fablab)


def require_owner(owner: str, what: str) -> None:
    """Refuse (403) unless this request's token belongs to `owner` (who started or owns it) or an admin."""
    auth_service.require_owner(current_actor(), owner, what)


def enforce_private_reads(app: APIFlask, prefix: str) -> None:
    """With `auth.public_reads = false`, every API read needs a live token of any role."""

    @app.before_request
    def _private_reads() -> None:
        if runtime().settings.auth.public_reads or not request.path.startswith(prefix):
            return
        if request.path[len(prefix) :].startswith(ALWAYS_PUBLIC) or request.method == "OPTIONS":
            return
        header = request.headers.get("Authorization", "")
        scheme, _, plain = header.partition(" ")
        if scheme.lower() != "bearer" or _verify(plain.strip()) is None:
            raise Unauthorized("reads on this coordinator need an API token (auth.public_reads is off)")
