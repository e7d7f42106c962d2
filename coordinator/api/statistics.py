"""Statistics: success rates, hours, material and estimate accuracy per machine, fablab or design."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, Field

from coordinator.api.fablab_schemas import RunListOut, SpeedFactorsOut, StatisticsOut
from coordinator.api.schemas import errors
from coordinator.db import session_scope
from coordinator.fablab import statistics
from coordinator.models.jobs import Job
from coordinator.runtime import runtime
from protocol.errors import NotFound

bp = APIBlueprint("statistics", __name__, tag="Statistics")


class StatsQuery(BaseModel):
    by: str = Field("machine", pattern="^(machine|fablab|design)$")
    fablab: str | None = Field(None, max_length=63)
    since: datetime | None = None


@bp.get("/statistics")
@bp.input(StatsQuery, location="query")
@bp.output(StatisticsOut)
@bp.doc(responses=errors(401, 422))
def summary(query_data: StatsQuery) -> dict[str, Any]:
    """Runs per machine, fablab or design: success rate, hours, filament, cost and estimate accuracy
    (estimate_ratio: actual time over the coordinator's estimate; slicer_ratio: over the machine's own)."""
    with session_scope(runtime().engine) as session:
        return statistics.summary(session, query_data.by, fablab=query_data.fablab, since=query_data.since)


@bp.get("/statistics/speed-factors")
@bp.output(SpeedFactorsOut)
@bp.doc(responses=errors(401))
def speed_factors() -> dict[str, Any]:
    """Each machine's speed factor as measured over its done runs, beside the one its agent declares."""
    with session_scope(runtime().engine) as session:
        found = statistics.measured_speed_factors(session)
        return {"machines": [vars(m) for m in found.values()]}


@bp.get("/jobs/<job_id>/runs")
@bp.output(RunListOut)
@bp.doc(responses=errors(401, _404="no such job"))
def job_runs(job_id: str) -> dict[str, Any]:
    """A job's runs: each attempt a machine started, with its duration, spool and filament used."""
    from coordinator.fablab.runs import runs_of

    with session_scope(runtime().engine) as session:
        if session.get(Job, job_id) is None:
            raise NotFound(f"no job {job_id!r}")
        return {"runs": [statistics.run_row(r) for r in runs_of(session, [job_id])]}
