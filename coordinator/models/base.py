"""Shared column helpers for the SQLModel tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, Column, DateTime
from sqlalchemy.orm.attributes import set_attribute
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import Field, SQLModel

RowT = TypeVar("RowT", bound=SQLModel)


def utcnow() -> datetime:
    return datetime.now(UTC)


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def new_row(model: type[RowT], **values: Any) -> RowT:
    """A new row object from trusted values, without pydantic's __init__ (about three times cheaper).

    For the dispatcher's hot paths only: nothing is validated and no default is filled in, so
    every column must be given.
    """
    manager = manager_of_class(model)
    row: RowT = manager.new_instance()
    for name, value in values.items():
        set_attribute(row, name, value)
    return row
