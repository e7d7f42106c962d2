"""API tokens and dashboard sessions: only hashes are stored; a secret is shown once, at creation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel

from coordinator.models.base import created_at_field, json_field


class Role(StrEnum):
    ADMIN = "admin"
    DESIGNER = "designer"
    OPERATOR = "operator"
    BUILDER = "builder"
    AGENT = "agent"


# Roles whose tokens may be confined to some fablabs.
SCOPED_ROLES = frozenset({Role.OPERATOR, Role.AGENT})


class ApiToken(SQLModel, table=True):
    """A bearer token. Its name is who acts with it: tokens of one name are one person or service."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, index=True)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = created_at_field()
    revoked: bool = False
    # the fablabs an operator or agent token may act on; empty means every fablab
    fablabs: list[str] = json_field(list)
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class DashboardSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random id whose hash is this row's key."""

    __tablename__ = "dashboard_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    token_id: int = Field(foreign_key="api_token.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
