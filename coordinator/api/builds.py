"""Builds: start one, follow its progress and plan, receive purchases, cancel; fablab profiles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm.exc import StaleDataError

from coordinator.api.auth import auth, current_token_name, require_fablab, roles
from coordinator.db import session_scope
from coordinator.models.auth import Role
from coordinator.runtime import runtime
from coordinator.services import builds, network, planner
from coordinator.services.jobs import Effects
from protocol.errors import Conflict
from protocol.topics import validate_id

bp = APIBlueprint("builds", __name__, tag="Builds")
CANCEL_TRIES = 3


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
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    opening_hours: dict[str, list[str]] = Field(default_factory=dict, description='{"mon": ["09:00-18:00"]}')
    timezone_offset_min: int = Field(0, ge=-720, le=840)
    accepts: str = Field("all", pattern="^(all|none)$")


@bp.post("/builds")
@bp.auth_required(auth, **roles(Role.BUILDER))
@bp.input(BuildIn, location="json")
@bp.doc(responses={201: "build started", 400: "unknown site or bad units", 404: "no such design"})
def start(json_data: BuildIn) -> tuple[dict[str, Any], int]:
    """Start a build of a design version: jobs, purchase list and a plan (builder role)."""
    rt = runtime()
    with session_scope(rt.engine) as session:
        build = builds.start_build(session, rt.store, **json_data.model_dump(), by=current_token_name())
        build_id = build.id
    _wake_dispatcher()
    with session_scope(rt.engine) as session:
        return builds.build_report(session, builds.get_build(session, build_id)), 201


def _wake_dispatcher() -> None:
    """Plan and dispatch at once when the dispatcher runs here (otherwise its next tick does)."""
    dispatcher = runtime().services.get("dispatch")
    if dispatcher is not None:
        dispatcher.wake()


@bp.get("/builds")
@bp.input(StateQuery, location="query")
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
def get_build(build_id: str) -> dict[str, Any]:
    """A build: progress per sub-assembly, tasks with plan and actuals, what is late and why, purchases."""
    with session_scope(runtime().engine) as session:
        report = builds.build_report(session, builds.get_build(session, build_id))
        plan = planner.latest_plan(session)
        report["plan"] = None if plan is None else {
            "at": plan.created_at.isoformat(), "policy": plan.policy, "status": plan.status,
            "makespan_min": plan.makespan_min, "lower_bound_min": plan.lower_bound_min, "gap": plan.gap,
            "reason": plan.reason,
        }  # fmt: skip
        return report


@bp.post("/builds/<build_id>/purchases/receive")
@bp.auth_required(auth, **roles(Role.BUILDER, Role.OPERATOR))
@bp.input(ReceiveIn, location="json")
def receive(build_id: str, json_data: ReceiveIn) -> dict[str, Any]:
    """Record purchased parts as received at the build site."""
    with session_scope(runtime().engine) as session:
        count = builds.receive_purchases(session, build_id, json_data.parts)
    _wake_dispatcher()
    return {"received": count}


@bp.post("/builds/<build_id>/cancel")
@bp.auth_required(auth, **roles(Role.BUILDER))
def cancel(build_id: str) -> dict[str, Any]:
    """Cancel a build and every job of it that has not ended."""
    for _ in range(CANCEL_TRIES):
        effects = Effects()
        try:
            with session_scope(runtime().engine) as session:
                build = builds.cancel_build(session, build_id, current_token_name(), effects)
                body = {"id": build.id, "state": build.state, "reason": build.reason}
            break
        except StaleDataError:
            continue
    else:
        raise Conflict(f"build {build_id} keeps changing; try again")
    dispatcher = runtime().services.get("dispatch")
    if dispatcher is not None:
        for fablab, agent, command in effects.commands:
            dispatcher.send(fablab, agent, command)
    return body


@bp.put("/fablabs/<fablab>/profile")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(ProfileIn, location="json")
def set_profile(fablab: str, json_data: ProfileIn) -> dict[str, Any]:
    """Set where a fablab is, when it is staffed and whether it takes build work (operator role)."""
    validate_id(fablab, "fablab id")
    require_fablab(fablab)
    with session_scope(runtime().engine) as session:
        profile = network.set_profile(session, fablab, json_data.model_dump())
        return profile.model_dump()


@bp.get("/fablabs/<fablab>/profile")
def get_profile(fablab: str) -> dict[str, Any]:
    """A fablab's place, opening hours and work policy."""
    with session_scope(runtime().engine) as session:
        return network.get_profile(session, validate_id(fablab, "fablab id")).model_dump()
