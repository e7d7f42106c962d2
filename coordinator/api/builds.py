"""Builds: start one, follow its progress and plan, receive purchases, cancel; fablab profiles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, ConfigDict, Field

from coordinator.api.auth import auth, current_actor, require_fablab, roles
from coordinator.api.fablab_schemas import OrderedOut
from coordinator.api.schemas import (
    BuildCancelledOut,
    BuildDetailOut,
    BuildOut,
    BuildPageOut,
    ProfileOut,
    ReceivedOut,
    RetriedOut,
    errors,
)
from coordinator.db import session_scope
from coordinator.jobs.commands import CancelBuild, OrderPurchases, ReceivePurchases, RetryTask, StartBuild
from coordinator.models.auth import Role
from coordinator.models.base import aware
from coordinator.runtime import runtime
from coordinator.services import builds, network, planner
from protocol.topics import validate_id

bp = APIBlueprint("builds", __name__, tag="Builds")


class BuildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    design: str = Field(max_length=64, description="design slug")
    version: str = Field("latest", max_length=64, description="design version, or 'latest'")
    units: int = Field(1, ge=1, le=builds.MAX_UNITS)
    site: str = Field(max_length=63, description="fablab id of the build site, where assemblies are made")
    priority: int = Field(0, ge=0, le=100)
    due_at: datetime | None = None


class ReceiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: list[str] | None = Field(None, max_length=10_000, description="purchased part ids; all if omitted")


class StateQuery(BaseModel):
    state: str | None = Field(None, max_length=32)
    limit: int = Field(50, ge=1, le=200, description="builds per page")
    offset: int = Field(0, ge=0, le=1_000_000, description="builds to skip (newest first)")


class ProfileIn(BaseModel):
    """A profile's fields to set: a field left out keeps its value (its default on a new profile); null
    unsets a field that may be unset."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    opening_hours: dict[str, list[str]] = Field(default_factory=dict, description='{"mon": ["09:00-18:00"]}')
    timezone_offset_min: int = Field(0, ge=-720, le=840)
    accepts: str = Field("all", pattern="^(all|none)$")
    hourly_rate: float | None = Field(None, ge=0, le=100_000, description="what a machine hour costs here")
    currency: str = Field("EUR", pattern="^[A-Z]{3}$", description="ISO 4217 code of the hourly rate")


@bp.post("/builds")
@bp.auth_required(auth, **roles(Role.BUILDER))
@bp.input(BuildIn, location="json")
@bp.output(BuildOut, status_code=201, description="build started")
@bp.doc(responses=errors(401, 403, 413, 422, _400="unknown site, a draft, or no machine can make a part",
                         _404="no such design or version"))  # fmt: skip
def start(json_data: BuildIn) -> tuple[dict[str, Any], int]:
    """Start a build of a design version: jobs, purchase list and a plan (builder role)."""
    rt = runtime()
    build_id = rt.bus.handle(StartBuild(**json_data.model_dump(), by=current_actor()))
    return _report(build_id), 201


def _report(build_id: str) -> dict[str, Any]:
    with session_scope(runtime().engine) as session:
        return builds.build_report(session, builds.get_build(session, build_id))


@bp.get("/builds")
@bp.input(StateQuery, location="query")
@bp.output(BuildPageOut)
@bp.doc(responses=errors(401, 422))
def list_builds(query_data: StateQuery) -> dict[str, Any]:
    """Builds, newest first, a page at a time (?limit=&offset=), with progress and expected finish."""
    with session_scope(runtime().engine) as session:
        rows = []
        for build in builds.list_builds(session, query_data.state, query_data.limit, query_data.offset):
            report = builds.build_report(session, build)
            rows.append({k: report[k] for k in ("id", "design", "version", "units", "site", "state", "reason",
                                                "progress", "expected_finish_at", "due_at")})  # fmt: skip
        return {"builds": rows}


@bp.get("/builds/<build_id>")
@bp.output(BuildDetailOut)
@bp.doc(responses=errors(401, 404, 422))
def get_build(build_id: str) -> dict[str, Any]:
    """A build: progress per sub-assembly, tasks with plan and actuals, what is late and why, purchases."""
    with session_scope(runtime().engine) as session:
        report = builds.build_report(session, builds.get_build(session, build_id))
        plan = planner.latest_plan(session)
        report["plan"] = None if plan is None else {
            "at": aware(plan.created_at).isoformat(), "policy": plan.policy, "status": plan.status,
            "makespan_min": plan.makespan_min, "lower_bound_min": plan.lower_bound_min, "gap": plan.gap,
            "reason": plan.reason,
        }  # fmt: skip
        return report


@bp.post("/builds/<build_id>/purchases/receive")
@bp.auth_required(auth, **roles(Role.BUILDER, Role.OPERATOR))
@bp.input(ReceiveIn, location="json")
@bp.output(ReceivedOut)
@bp.doc(responses=errors(400, 401, 403, 404, 409, 413, 422))
def receive(build_id: str, json_data: ReceiveIn) -> dict[str, Any]:
    """Record purchased parts as received at the build site."""
    parts = tuple(json_data.parts) if json_data.parts is not None else None
    count = runtime().bus.handle(ReceivePurchases(build_id, parts, current_actor()))
    return {"received": count}


class OrderIn(ReceiveIn):
    ordered_at: datetime | None = Field(None, description="when they were ordered (default: now)")


@bp.post("/builds/<build_id>/purchases/order")
@bp.auth_required(auth, **roles(Role.BUILDER, Role.OPERATOR))
@bp.input(OrderIn, location="json")
@bp.output(OrderedOut, description="ordered")
@bp.doc(
    responses=errors(
        400, 401, 413, 422, _403="not your build", _404="no such build or part", _409="the build has ended"
    )
)
def order(build_id: str, json_data: OrderIn) -> dict[str, Any]:
    """Record purchased parts as ordered (all still to order when no part is named): their lead time
    runs from then, and the build's expected finish counts it."""
    parts = tuple(json_data.parts) if json_data.parts is not None else None
    count = runtime().bus.handle(OrderPurchases(build_id, parts, current_actor(), json_data.ordered_at))
    return {"ordered": count}


@bp.post("/builds/<build_id>/cancel")
@bp.auth_required(auth, **roles(Role.BUILDER))
@bp.output(BuildCancelledOut, description="cancelled")
@bp.doc(responses=errors(401, _403="not your build", _404="no such build", _409="already ended"))
def cancel(build_id: str) -> dict[str, Any]:
    """Cancel a build (its builder or an admin): every job of it that has not ended is cancelled."""
    runtime().bus.handle(CancelBuild(build_id, current_actor()))
    report = _report(build_id)
    return {"id": report["id"], "state": report["state"], "reason": report["reason"]}


@bp.post("/builds/<build_id>/tasks/<task_id>/retry")
@bp.auth_required(auth, **roles(Role.BUILDER))
@bp.output(RetriedOut, description="queued again")
@bp.doc(responses=errors(401, _403="not your build", _404="no such build or task", _409="not failed"))
def retry(build_id: str, task_id: str) -> dict[str, Any]:
    """Make a failed part again (the build's builder or an admin): a new job for the task."""
    job_id = runtime().bus.handle(RetryTask(build_id, task_id, current_actor()))
    return {"build": build_id, "task": task_id, "job": job_id}


@bp.put("/fablabs/<fablab>/profile")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(ProfileIn, location="json")
@bp.output(ProfileOut)
@bp.doc(responses=errors(401, 413, 422, _400="not a fablab id, or bad opening hours",
                         _403="not your fablab", _404="no such fablab"))  # fmt: skip
def set_profile(fablab: str, json_data: ProfileIn) -> dict[str, Any]:
    """Set where a fablab is, when it is staffed, whether it takes build work and what a machine hour costs
    (operator role). Fields left out keep their values; null unsets latitude, longitude or hourly_rate."""
    validate_id(fablab, "fablab id")
    require_fablab(fablab)
    with session_scope(runtime().engine) as session:
        profile = network.set_profile(session, fablab, json_data.model_dump(exclude_unset=True))
        return profile.model_dump()


@bp.get("/fablabs/<fablab>/profile")
@bp.output(ProfileOut)
@bp.doc(responses=errors(401, _400="not a fablab id", _404="no such fablab or no profile"))
def get_profile(fablab: str) -> dict[str, Any]:
    """A fablab's place, opening hours and work policy."""
    with session_scope(runtime().engine) as session:
        return network.get_profile(session, validate_id(fablab, "fablab id")).model_dump()
