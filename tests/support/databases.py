"""Scratch PostgreSQL databases: created empty on the server an admin URL points at, dropped after."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def scratch_postgres(admin_url: str, prefix: str = "peerfab_scratch") -> Iterator[str]:
    """Create an empty database beside the one `admin_url` names; yield its URL; drop it after.

    Raises what the server raises when the database cannot be created.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def postgres_url(value: str) -> str:
    """An argparse type: a PostgreSQL URL, or a usage error saying what was given."""
    if make_url(value).get_backend_name() != "postgresql":
        raise argparse.ArgumentTypeError(f"{value!r} is not a PostgreSQL URL (postgresql+psycopg://...)")
    return value


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """A benchmark's --database: the PostgreSQL server to run on, or none for a fresh SQLite file."""
    parser.add_argument(
        "--database",
        default=None,
        type=postgres_url,
        help="PostgreSQL URL of a server to create a scratch database on (default: a fresh SQLite file)",
    )


@contextmanager
def bench_database(server_url: str | None) -> Iterator[str | None]:
    """A scratch database on `server_url` for one benchmark run, or None (the default SQLite file)."""
    if server_url is None:
        yield None
        return
    with scratch_postgres(server_url, "peerfab_bench") as url:
        yield url
