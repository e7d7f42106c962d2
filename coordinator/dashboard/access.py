"""Who is signed in to the dashboard, what they may do, and the CSRF check on every form.

Sessions live on the server: the browser's cookie holds a random id, the database its hash, the
token it belongs to and the session's form token. Signing out deletes the row, so a copied cookie
is worthless afterwards; revoking or expiring the token ends every session made with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Response, abort, after_this_request, g, request, session

from coordinator.db import session_scope
from coordinator.models.auth import ApiToken, DashboardSession, Role
from coordinator.runtime import runtime
from coordinator.services.auth import Actor, is_live, verify_token

OPERATOR_ROLES = frozenset({Role.OPERATOR.value, Role.ADMIN.value})
COOKIE = "peerfab_session"
_CSRF_KEY = "dashboard_csrf"  # the form token of a browser that is not signed in (the sign-in form)
CSRF_FIELD = "csrf_token"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Person:
    """The holder of the token someone signed in with."""

    token_id: int
    name: str
    role: str
    fablabs: tuple[str, ...] = ()
    csrf: str = ""

    @property
    def is_operator(self) -> bool:
        return self.role in OPERATOR_ROLES

    @property
    def actor(self) -> Actor:
        """This person as the rules of who may do what see them."""
        return Actor(name=self.name, role=self.role, fablabs=self.fablabs)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def sign_in(plain_token: str) -> Person | None:
    """Check a pasted API token; on success open a server-side session and set its cookie."""
    settings = runtime().settings.auth
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with session_scope(runtime().engine) as db:
        record = verify_token(db, plain_token.strip())
        if record is None or record.id is None:
            return None
        lifetime = timedelta(hours=settings.session_hours)
        expires = min(now + lifetime, _aware(record.expires_at)) if record.expires_at else now + lifetime
        db.add(DashboardSession(id_hash=_hash(session_id), token_id=record.id, csrf=csrf, expires_at=expires))
        person = Person(record.id, record.name, record.role, tuple(record.fablabs or ()), csrf)
    session.clear()
    g.person = person

    @after_this_request
    def _set_cookie(response: Response) -> Response:
        response.set_cookie(
            COOKIE, session_id, max_age=int((expires - now).total_seconds()), path="/",
            secure=_secure(), httponly=True, samesite="Lax",
        )  # fmt: skip
        return response

    return person


def sign_out() -> None:
    """End this browser's session on the server (the cookie is worthless from now on) and drop it."""
    session_id = request.cookies.get(COOKIE)
    if session_id:
        with session_scope(runtime().engine) as db:
            row = db.get(DashboardSession, _hash(session_id))
            if row is not None:
                db.delete(row)
    session.clear()
    g.person = None

    @after_this_request
    def _drop_cookie(response: Response) -> Response:
        response.delete_cookie(COOKIE, path="/", secure=_secure(), httponly=True, samesite="Lax")
        return response


def current_person() -> Person | None:
    """The signed-in person, or None; a revoked or expired token signs its holder out."""
    if "person" not in g:
        g.person = _load_person()
    return cast(Person | None, g.person)


def _load_person() -> Person | None:
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    now = datetime.now(UTC)
    with session_scope(runtime().engine) as db:
        row = db.get(DashboardSession, _hash(session_id))
        if row is None or _aware(row.expires_at) <= now:
            return None
        record = db.get(ApiToken, row.token_id)
        if record is None or not is_live(record, now):
            return None
        return Person(row.token_id, record.name, record.role, tuple(record.fablabs or ()), row.csrf)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _secure() -> bool:
    """Secure cookies when the setting says so (behind a TLS proxy) or the request came over HTTPS."""
    return runtime().settings.auth.secure_cookies or request.is_secure


def csrf_token() -> str:
    """The form token of this browser: its session's when signed in, else one kept for the sign-in form."""
    person = current_person()
    if person is not None:
        return person.csrf
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return token


def check_csrf() -> None:
    """Refuse a form post whose token does not match this browser's."""
    sent = request.form.get(CSRF_FIELD, "")
    person = current_person()
    expected = person.csrf if person is not None else session.get(_CSRF_KEY)
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(sent, expected):
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
