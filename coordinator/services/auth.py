"""API tokens with roles: create, verify, revoke."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session, select

from coordinator.models.auth import ApiToken, Role
from protocol.errors import InvalidInput

TOKEN_PREFIX = "pf_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, role: str, name: str = "") -> tuple[ApiToken, str]:
    """Create a token; the plain token is returned once and never stored."""
    try:
        role_value = Role(role)
    except ValueError as exc:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r}; choose one of {choices}") from exc
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(name=name or role_value.value, role=role_value.value, token_hash=hash_token(plain))
    session.add(record)
    session.flush()
    return record, plain


def verify_token(session: Session, plain: str) -> ApiToken | None:
    """The live token record for `plain`, or None."""
    if not plain:
        return None
    record = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(plain))).first()
    if record is None or record.revoked:
        return None
    return record


def revoke_token(session: Session, token_id: int) -> None:
    record = session.get(ApiToken, token_id)
    if record is None:
        raise InvalidInput(f"no token with id {token_id}")
    record.revoked = True
    session.add(record)
