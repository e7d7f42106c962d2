"""Fablabs as Open Know-Where facilities: what a lab can make, published and read in OKW."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import request

from coordinator.api.auth import auth, current_actor, require_fablab, roles
from coordinator.db import session_scope
from coordinator.models.auth import Role
from coordinator.runtime import runtime
from coordinator.services import network
from protocol.errors import InvalidInput
from protocol.topics import validate_id

bp = APIBlueprint("fablabs", __name__, tag="Fablabs")


@bp.get("/fablabs/okw")
def list_okw() -> dict[str, Any]:
    """Every fablab as an OKW Manufacturing Facility (machines, processes, materials, place, hours)."""
    with session_scope(runtime().engine) as session:
        return {"facilities": network.okw_records(session)}


@bp.get("/fablabs/<fablab>/okw")
@bp.doc(responses={200: "the OKW facility", 404: "no such fablab"})
def get_okw(fablab: str) -> dict[str, Any]:
    """One fablab as an OKW Manufacturing Facility."""
    with session_scope(runtime().engine) as session:
        return network.okw_record(session, validate_id(fablab, "fablab id"))


@bp.put("/fablabs/<fablab>/okw")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.doc(
    responses={
        200: "profile set from the record",
        400: "not an OKW facility",
        403: "not your fablab",
        404: "no such fablab (an admin may bring one in)",
    }
)
def put_okw(fablab: str) -> dict[str, Any]:
    """Set a fablab's profile and declared equipment from an OKW facility record (operator role, for a
    fablab of its own; an admin may also bring in a lab no agent has connected from)."""
    validate_id(fablab, "fablab id")
    require_fablab(fablab)
    record = request.get_json(silent=True)
    if not isinstance(record, dict):
        raise InvalidInput("the body must be an OKW facility as a JSON object")
    register = current_actor().is_admin
    with session_scope(runtime().engine) as session:
        profile, warnings = network.set_from_okw(session, fablab, record, register=register)
        return {"profile": profile.model_dump(), "warnings": warnings}
