"""API tokens: only a hash is stored; the token itself is shown once, at creation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from coordinator.models.base import created_at_field


class Role(StrEnum):
    ADMIN = "admin"
    DESIGNER = "designer"
    OPERATOR = "operator"
    BUILDER = "builder"
    AGENT = "agent"


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = created_at_field()
    revoked: bool = False
