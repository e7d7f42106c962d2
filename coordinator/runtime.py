"""What a running coordinator holds: settings, the database engine, the file store, the job bus and the
key it signs passports with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy.engine import Engine

from coordinator.db import make_engine, migrate
from coordinator.filestore import FileStore
from coordinator.jobs.bus import MessageBus
from coordinator.jobs.handlers import make_bus
from coordinator.jobs.outbox import LiveStream, Outbox
from coordinator.ledger import passport
from coordinator.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    store: FileStore
    bus: MessageBus
    outbox: Outbox
    live: LiveStream
    passport_key: Ed25519PrivateKey
    dispatcher: Any = None  # the MQTT dispatcher, while it runs in this process

    @classmethod
    def open(cls, settings: Settings, *, run_migrations: bool = True) -> Runtime:
        """Load the passport key (made the first time), connect to the database (migrating it), open the
        file store and build the bus. A bad key file stops the start with an error naming it."""
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        key = passport.load_key(settings.storage.data_dir)
        engine = make_engine(settings.database_url, echo=settings.database.echo)
        if run_migrations:
            migrate(engine)
        files = FileStore(settings.files_dir)
        live = LiveStream(max_readers=settings.server.event_streams)
        outbox = Outbox(live)
        return cls(settings, engine, files, make_bus(engine, files, outbox), outbox, live, key)


def runtime() -> Runtime:
    """The Runtime of the current Flask app."""
    rt: Runtime = current_app.extensions["peerfab"]
    return rt
