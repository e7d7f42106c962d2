"""The packaged migrations build exactly the schema the models declare, and step down and up again."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect
from sqlmodel import SQLModel

import coordinator.models  # noqa: F401  (registers every table on SQLModel.metadata)
from coordinator.db import alembic_config, migrate


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        found = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    return [d for d in found if not _same_expression_index(engine, d)]


def _same_expression_index(engine: Engine, difference: Any) -> bool:
    """SQLite reflects `priority DESC` as a plain column, so Alembic sees such an index as changed."""
    if engine.dialect.name != "sqlite" or not isinstance(difference, tuple):
        return False
    return difference[0] in {"add_index", "remove_index"} and difference[1].name == "ix_job_queue_order"


def _job_event_keys(engine: Engine) -> tuple[list[list[str]], list[str]]:
    found = inspect(engine)
    uniques = sorted(u["column_names"] for u in found.get_unique_constraints("job_event"))
    indexes = sorted(str(i["name"]) for i in found.get_indexes("job_event") if not i.get("unique"))
    return uniques, indexes


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        migrate(engine)
        assert _differences(engine) == []
    finally:
        engine.dispose()


BEFORE = ([["fablab", "agent", "msg_id"]], ["ix_job_event_job_id", "ix_job_event_msg_id"])
AFTER = ([["msg_id", "fablab", "agent"]], ["ix_job_event_job_id"])


def test_one_unique_index_serves_message_uniqueness_and_the_replay_check(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        migrate(engine, "0005")
        assert _job_event_keys(engine) == BEFORE
        migrate(engine)
        assert _job_event_keys(engine) == AFTER
        command.downgrade(alembic_config(engine), "0005")
        assert _job_event_keys(engine) == BEFORE
    finally:
        engine.dispose()
