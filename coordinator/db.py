"""Database engine, sessions and migrations (SQLite by default, PostgreSQL through a URL)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from psycopg.adapt import Dumper
from sqlalchemy import ColumnElement, Dialect, any_, bindparam, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import UserDefinedType
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout so threads can share it."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("sqlite:///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def one_of(session: Session, column: Any, keys: Collection[str]) -> ColumnElement[bool]:
    """`column IN keys` for a long list of string keys, as one parameter where the database allows.

    Expanded, an IN list of n keys is a statement of n parameters whose text changes with n: on
    PostgreSQL, psycopg parses and converts every new text and the server plans it afresh. As
    `column = ANY(array)` it is one parameter and one text, which for 200-500 keys took 2.2 times
    less CPU and wall time (docs/benchmarks-dispatch.md). SQLite has no arrays and keeps the IN list.
    """
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, keys, type_=KeyArray(), unique=True)
        return column == any_(array)  # type: ignore[no-any-return]
    return column.in_(list(keys))  # type: ignore[no-any-return]


class ArrayText(str):
    """The text of a PostgreSQL `varchar[]` value, sent as that type (see `VarcharArrayDumper`)."""


class VarcharArrayDumper(Dumper):
    """Sends `ArrayText` as it is, typed `varchar[]`.

    psycopg's list dumper adapts a list of keys element by element in Python (2.3 % of the
    dispatcher's CPU). The value must still arrive as an array: cast from a text parameter inside
    the statement instead, it hid the array's length from the planner, and the dispatcher's
    lookups then waited on the server for most of its time, at half the lifecycle rate.
    """

    oid = psycopg.postgres.types["varchar"].array_oid

    def dump(self, obj: Any) -> bytes:
        return obj.encode()  # type: ignore[no-any-return]


psycopg.adapters.register_dumper(ArrayText, VarcharArrayDumper)


class KeyArray(UserDefinedType[Collection[str]]):
    """Keys bound as one `varchar[]` parameter, written as its quoted text in one join."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return "VARCHAR[]"

    def bind_processor(self, dialect: Dialect) -> Any:
        return array_text


def array_text(keys: Collection[str]) -> ArrayText:
    """The text of a `varchar[]` value holding `keys`, every element quoted: `{"a","b\\"c"}`."""
    quoted = (key.replace("\\", "\\\\").replace('"', '\\"') for key in keys)
    return ArrayText("{" + ",".join(f'"{key}"' for key in quoted) + "}")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to this engine, with the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (run on every coordinator start)."""
    command.upgrade(alembic_config(engine), revision)
