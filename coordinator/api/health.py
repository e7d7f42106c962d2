"""Health endpoint: is the coordinator up and can it reach its database."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from sqlalchemy import text

from coordinator.api.schemas import Health
from coordinator.runtime import runtime

bp = APIBlueprint("health", __name__, tag="Health")


@bp.get("/health")
@bp.output(Health)
def health() -> dict[str, Any]:
    """Liveness and database reachability."""
    with runtime().engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "database": runtime().engine.dialect.name}
