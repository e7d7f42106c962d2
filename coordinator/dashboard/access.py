"""Who is signed in to the dashboard, what they may do, and the CSRF check on every form."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, g, request, session

from coordinator.db import session_scope
from coordinator.jobs.commands import Actor
from coordinator.models.auth import ApiToken, Role
from coordinator.runtime import runtime
from coordinator.services.auth import verify_token

OPERATOR_ROLES = frozenset({Role.OPERATOR.value, Role.ADMIN.value})
_TOKEN_KEY = "dashboard_token_id"
_CSRF_KEY = "dashboard_csrf"
CSRF_FIELD = "csrf_token"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Person:
    """The holder of the token someone signed in with."""

    token_id: int
    name: str
    role: str

    @property
    def is_operator(self) -> bool:
        return self.role in OPERATOR_ROLES

    @property
    def actor(self) -> Actor:
        """This person as the job domain checks who may do what."""
        return Actor(self.name, frozenset({self.role}))


def sign_in(plain_token: str) -> Person | None:
    """Check a pasted API token; on success remember only its id in the signed cookie."""
    with session_scope(runtime().engine) as db:
        record = verify_token(db, plain_token.strip())
        if record is None or record.id is None:
            return None
        person = Person(record.id, record.name, record.role)
    session.clear()
    session[_TOKEN_KEY] = person.token_id
    session[_CSRF_KEY] = secrets.token_urlsafe(32)
    return person


def sign_out() -> None:
    session.clear()


def current_person() -> Person | None:
    """The signed-in person, or None; a revoked token signs its holder out."""
    if "person" not in g:
        g.person = _load_person()
    return cast(Person | None, g.person)


def _load_person() -> Person | None:
    token_id = session.get(_TOKEN_KEY)
    if not isinstance(token_id, int):
        return None
    with session_scope(runtime().engine) as db:
        record = db.get(ApiToken, token_id)
        if record is None or record.revoked:
            return None
        return Person(token_id, record.name, record.role)


def csrf_token() -> str:
    """The form token of this browser session (made on first use)."""
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return token


def check_csrf() -> None:
    """Refuse a form post whose token does not match the one in the session."""
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(_CSRF_KEY)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, "This form has expired or did not come from this dashboard; reload the page and retry.")


def operator_required(view: F) -> F:
    """A POST action for operators and admins: 403 for anyone else, then the CSRF check."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        person = current_person()
        if person is None or not person.is_operator:
            abort(403, "Only a signed-in operator or admin can do this.")
        check_csrf()
        return view(*args, **kwargs)

    return cast(F, wrapper)
