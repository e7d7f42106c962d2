"""What a running coordinator holds: settings, the database engine and the file store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy.engine import Engine

from coordinator.db import make_engine, migrate
from coordinator.filestore import FileStore
from coordinator.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    store: FileStore
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings, *, run_migrations: bool = True) -> Runtime:
        """Connect to the database (migrating it) and open the file store."""
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database_url, echo=settings.database.echo)
        if run_migrations:
            migrate(engine)
        return cls(settings=settings, engine=engine, store=FileStore(settings.files_dir))


def runtime() -> Runtime:
    """The Runtime of the current Flask app."""
    rt: Runtime = current_app.extensions["peerfab"]
    return rt
