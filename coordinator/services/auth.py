"""API tokens with roles, fablab scopes and expiry: create, verify, revoke; who may act on what."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from coordinator.bom.text import check_name
from coordinator.models.auth import SCOPED_ROLES, ApiToken, Role
from protocol.errors import Forbidden, InvalidInput
from protocol.topics import validate_id

TOKEN_PREFIX = "pf_"
MAX_NAME = 128
_DURATION_RE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_LIFETIME = timedelta(days=3660)


@dataclass(frozen=True)
class Actor:
    """Who is acting: the token's name (its identity), its role and the fablabs it is confined to."""

    name: str
    role: str
    fablabs: tuple[str, ...] = ()  # empty: every fablab

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def has(self, role: str) -> bool:
        """True when this actor has `role`, or is an admin (who may do everything)."""
        return self.is_admin or self.role == role

    def may_act_on(self, fablab: str) -> bool:
        """True when this actor may act on `fablab` (admins and unscoped tokens may act on any)."""
        return self.is_admin or not self.fablabs or fablab in self.fablabs

    def owns(self, owner: str) -> bool:
        """True when this actor is `owner` (started, submitted or maintains the thing) or an admin."""
        return self.is_admin or (bool(owner) and owner == self.name)


# Local actions (the CLI on the coordinator's own machine, the demo) act with every right.
LOCAL = Actor(name="", role=Role.ADMIN)


def actor_of(token: ApiToken) -> Actor:
    return Actor(name=token.name, role=token.role, fablabs=tuple(token.fablabs or ()))


def require_fablab(actor: Actor, fablab: str) -> None:
    """Refuse (403) unless `actor` may act on `fablab`."""
    if not actor.may_act_on(fablab):
        allowed = ", ".join(actor.fablabs)
        raise Forbidden(f"this token may act on fablab(s) {allowed} only, not on {fablab!r}")


def require_owner(actor: Actor, owner: str, what: str) -> None:
    """Refuse (403) unless `actor` is `owner` or an admin; `what` names the thing in the message."""
    if not actor.owns(owner):
        raise Forbidden(f"only {owner or 'an admin'} (or an admin) may change {what}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '12h', '30d' or '8w' as a timedelta."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise InvalidInput(f"duration {text!r}: use a whole number and s, m, h, d or w (e.g. 30d)")
    duration = timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])
    if not timedelta(0) < duration <= MAX_LIFETIME:
        raise InvalidInput(f"duration {text!r}: must be more than 0 and at most {MAX_LIFETIME.days} days")
    return duration


def create_token(
    session: Session,
    role: str,
    name: str = "",
    *,
    fablabs: Iterable[str] = (),
    expires_in: timedelta | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; the plain token is returned once and never stored.

    Without a name, the token gets one of its own (`operator-7`): two unnamed tokens are never
    taken for the same person.
    """
    role_value = _role(role)
    scope = _scope(role_value, fablabs)
    if name:
        check_name(name, "token name")
        if len(name) > MAX_NAME:
            raise InvalidInput(f"token name is {len(name)} characters, more than {MAX_NAME}")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        name=name or f"{role_value.value}-{secrets.token_hex(3)}",
        role=role_value.value,
        token_hash=hash_token(plain),
        fablabs=scope,
        expires_at=datetime.now(UTC) + expires_in if expires_in is not None else None,
    )
    session.add(record)
    session.flush()
    if not name:
        record.name = f"{role_value.value}-{record.id}"
        session.add(record)
        session.flush()
    return record, plain


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r}; choose one of {choices}") from exc


def _scope(role: Role, fablabs: Iterable[str]) -> list[str]:
    scope = sorted({validate_id(f, "fablab id") for f in fablabs})
    if scope and role not in SCOPED_ROLES:
        scoped = " and ".join(sorted(r.value for r in SCOPED_ROLES))
        raise InvalidInput(f"only {scoped} tokens act on fablabs; a {role.value} token cannot be scoped")
    return scope


def is_live(record: ApiToken, now: datetime | None = None) -> bool:
    """Not revoked and not expired."""
    if record.revoked:
        return False
    if record.expires_at is None:
        return True
    expires = record.expires_at if record.expires_at.tzinfo else record.expires_at.replace(tzinfo=UTC)
    return expires > (now or datetime.now(UTC))


def verify_token(session: Session, plain: str) -> ApiToken | None:
    """The live token record for `plain`, or None."""
    if not plain:
        return None
    record = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(plain))).first()
    if record is None or not is_live(record):
        return None
    return record


def revoke_token(session: Session, token_id: int) -> None:
    record = session.get(ApiToken, token_id)
    if record is None:
        raise InvalidInput(f"no token with id {token_id}")
    record.revoked = True
    session.add(record)
