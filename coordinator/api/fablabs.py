"""Fablabs as Open Know-Where facilities: what a lab can make, published and read in OKW."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import request

from coordinator.api.auth import auth, current_actor, require_fablab, roles
from coordinator.api.machines import PageQuery
from coordinator.api.schemas import OkwFacilityOut, OkwListOut, OkwSetOut, errors
from coordinator.db import session_scope
from coordinator.models.auth import Role
from coordinator.runtime import runtime
from coordinator.services import network
from protocol.errors import InvalidInput
from protocol.topics import validate_id

bp = APIBlueprint("fablabs", __name__, tag="Fablabs")
OKW_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OkwFacilityOut"}}},
}


@bp.get("/fablabs/okw")
@bp.input(PageQuery, location="query")
@bp.output(OkwListOut)
@bp.doc(responses=errors(401, 422))
def list_okw(query_data: PageQuery) -> dict[str, Any]:
    """Fablabs as OKW Manufacturing Facilities (machines, processes, materials, place, hours), by id."""
    page = query_data.model_dump()
    with session_scope(runtime().engine) as session:
        found = network.okw_records(session, **page)
        return {"facilities": found, "total": len(network.known_fablabs(session)), **page}


@bp.get("/fablabs/<fablab>/okw")
@bp.output(OkwFacilityOut, description="the OKW facility")
@bp.doc(responses=errors(401, _400="not a fablab id", _404="no such fablab"))
def get_okw(fablab: str) -> dict[str, Any]:
    """One fablab as an OKW Manufacturing Facility."""
    with session_scope(runtime().engine) as session:
        return network.okw_record(session, validate_id(fablab, "fablab id"))


@bp.put("/fablabs/<fablab>/okw")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.output(OkwSetOut, description="profile set from the record")
@bp.doc(
    responses=errors(
        401,
        413,
        _400="not an OKW facility, or not a fablab id",
        _403="not your fablab",
        _404="no such fablab (an admin may bring one in)",
    ),  # fmt: skip
    extensions={"requestBody": OKW_BODY},
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
