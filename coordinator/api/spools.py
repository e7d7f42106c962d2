"""Spools: each fablab's inventory, what is loaded on each machine, and a Spoolman server instead."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, ConfigDict, Field

from coordinator.api.auth import auth, current_actor, require_fablab, roles
from coordinator.api.fablab_schemas import SpoolListOut, SpoolOut, SpoolSourceOut, SyncedOut
from coordinator.api.schemas import errors
from coordinator.db import session_scope
from coordinator.fablab import spoolman, spools
from coordinator.fablab.actions import check_operator
from coordinator.jobs.commands import SaveSpool
from coordinator.models.auth import Role
from coordinator.models.fablab import SpoolSource
from coordinator.runtime import runtime
from coordinator.services.network import require_known_fablab
from protocol.errors import Conflict
from protocol.topics import validate_id

bp = APIBlueprint("spools", __name__, tag="Spools")


class SpoolIn(BaseModel):
    """A spool's fields; on a change, only those given are changed."""

    model_config = ConfigDict(extra="forbid")

    material: str | None = Field(None, max_length=64, description="e.g. pla, petg")
    colour: str | None = Field(None, max_length=64, description="a name or a #hex code")
    diameter_mm: float | None = Field(None, gt=0, le=10)
    vendor: str | None = Field(None, max_length=120)
    name: str | None = Field(None, max_length=120)
    initial_g: float | None = Field(None, ge=0, le=spools.MAX_SPOOL_G, description="filament when full")
    remaining_g: float | None = Field(None, ge=0, le=spools.MAX_SPOOL_G, description="filament left")
    cost_per_kg: float | None = Field(None, ge=0, le=100_000)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    archived: bool | None = None
    machine_id: str | None = Field(None, max_length=63, description="load it on this machine; '' unloads")


class LoadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spool_id: int | None = Field(description="the spool to load; null unloads what is loaded")


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="'peerfab' (this inventory) or 'spoolman'")
    url: str = Field("", max_length=500, description="the Spoolman server, e.g. http://spoolman.lab:7912")


def _changes(data: SpoolIn) -> dict[str, Any]:
    return data.model_dump(exclude_unset=True)


@bp.get("/spools")
@bp.output(SpoolListOut)
@bp.doc(responses=errors(401))
def list_all() -> dict[str, Any]:
    """Every fablab's spools (not archived), and spools agents report that peerfab does not track yet."""
    return _listing(None)


@bp.get("/fablabs/<fablab>/spools")
@bp.output(SpoolListOut)
@bp.doc(responses=errors(401, _400="not a fablab id", _404="no such fablab"))
def list_fablab(fablab: str) -> dict[str, Any]:
    """A fablab's spools, and what each of its machines has loaded."""
    return _listing(fablab)


def _listing(fablab: str | None) -> dict[str, Any]:
    with session_scope(runtime().engine) as session:
        if fablab is not None:
            require_known_fablab(session, fablab)
        rows = [spools.spool_row(s) for s in spools.list_spools(session, fablab)]
        loaded = spools.loaded_spools(session, fablab)
        reported = [spools.reported_row(item) for item in loaded.values() if item.spool is None]
        on = {f"{lab}/{mid}": item.view().label for (lab, mid), item in sorted(loaded.items())}
        return {"spools": rows, "reported": reported, "loaded": on}


@bp.post("/fablabs/<fablab>/spools")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(SpoolIn, location="json")
@bp.output(SpoolOut, status_code=201, description="added")
@bp.doc(
    responses=errors(
        400, 401, 413, 422, _403="not an operator of this fablab", _404="no such machine",
        _409="an archived spool cannot be loaded",
    )
)  # fmt: skip
def create(fablab: str, json_data: SpoolIn) -> tuple[dict[str, Any], int]:
    """Add a spool to a fablab's inventory (operator of that fablab)."""
    return runtime().bus.handle(SaveSpool(fablab, None, _changes(json_data), current_actor())), 201


@bp.patch("/fablabs/<fablab>/spools/<int:spool_id>")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(SpoolIn, location="json")
@bp.output(SpoolOut, description="changed")
@bp.doc(
    responses=errors(
        400, 401, 413, 422, _403="not an operator of this fablab", _404="no such spool or machine",
        _409="Spoolman refused the change",
    )
)  # fmt: skip
def change(fablab: str, spool_id: int, json_data: SpoolIn) -> dict[str, Any]:
    """Change a spool: weigh it (remaining_g), load it on a machine (machine_id), archive it when empty."""
    row: dict[str, Any] = runtime().bus.handle(
        SaveSpool(fablab, spool_id, _changes(json_data), current_actor())
    )
    _tell_spoolman(fablab, row, json_data)
    return row


@bp.put("/fablabs/<fablab>/machines/<machine_id>/spool")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(LoadIn, location="json")
@bp.output(SpoolOut, description="the spool loaded, or the one taken off")
@bp.doc(
    responses=errors(
        400, 401, 413, 422, _403="not an operator of this fablab", _404="no such spool or machine",
        _409="nothing from the inventory is loaded there",
    )
)  # fmt: skip
def load(fablab: str, machine_id: str, json_data: LoadIn) -> dict[str, Any]:
    """Load a spool on a machine (what was on it comes off), or unload the machine (spool_id null)."""
    validate_id(machine_id, "machine id")
    actor = current_actor()
    if json_data.spool_id is None:
        with session_scope(runtime().engine) as session:
            on = spools.loaded_spools(session, fablab).get((fablab, machine_id))
            spool_id = on.spool.id if on is not None and on.spool is not None else None
        if spool_id is None:
            raise Conflict(f"{fablab}/{machine_id} has no spool from the inventory loaded")
        return dict(runtime().bus.handle(SaveSpool(fablab, spool_id, {"machine_id": None}, actor)))
    return dict(
        runtime().bus.handle(SaveSpool(fablab, json_data.spool_id, {"machine_id": machine_id}, actor))
    )


def _tell_spoolman(fablab: str, row: dict[str, Any], data: SpoolIn) -> None:
    """A Spoolman lab's spool loaded here is loaded there too (its location names the machine)."""
    if "machine_id" not in data.model_fields_set or not row.get("external_id"):
        return
    with session_scope(runtime().engine) as session:
        source = session.get(SpoolSource, fablab)
        url = source.url if source is not None and source.kind == "spoolman" else ""
    if url:
        spoolman.SpoolmanClient(url).set_location(row["external_id"], row.get("machine_id") or "")


@bp.get("/fablabs/<fablab>/spool-source")
@bp.output(SpoolSourceOut)
@bp.doc(responses=errors(401, _400="not a fablab id", _404="no such fablab"))
def get_source(fablab: str) -> dict[str, Any]:
    """Where the fablab keeps its spools: peerfab's inventory, or a Spoolman server."""
    with session_scope(runtime().engine) as session:
        require_known_fablab(session, fablab)
        source = session.get(SpoolSource, fablab)
        return {
            "fablab": fablab,
            "kind": source.kind if source else "peerfab",
            "url": source.url if source else "",
        }


@bp.put("/fablabs/<fablab>/spool-source")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(SourceIn, location="json")
@bp.output(SpoolSourceOut, description="chosen; a Spoolman server is read at once")
@bp.doc(
    responses=errors(
        400, 401, 413, 422, _403="not an operator of this fablab", _404="no such fablab",
        _409="the Spoolman server could not be read",
    )
)  # fmt: skip
def set_source(fablab: str, json_data: SourceIn) -> dict[str, Any]:
    """Keep the fablab's spools in peerfab, or read and update its Spoolman server (read at once)."""
    check_operator(current_actor(), fablab, "choose where spools are kept")
    require_fablab(fablab)
    with session_scope(runtime().engine) as session:
        require_known_fablab(session, fablab)
        source = spoolman.set_source(session, fablab, json_data.kind, json_data.url)
        result: dict[str, Any] = {"fablab": fablab, "kind": source.kind, "url": source.url}
    if json_data.kind == "spoolman":
        result["spools"] = _sync(fablab, json_data.url)
    return result


@bp.post("/fablabs/<fablab>/spool-source/sync")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.output(SyncedOut, description="synced")
@bp.doc(
    responses=errors(
        401, _400="not a fablab id", _403="not an operator of this fablab", _404="no such fablab",
        _409="the fablab does not use Spoolman, or its server could not be read",
    )
)  # fmt: skip
def sync(fablab: str) -> dict[str, Any]:
    """Tell the fablab's Spoolman what jobs used and read its spools now."""
    check_operator(current_actor(), fablab, "sync spools")
    with session_scope(runtime().engine) as session:
        require_known_fablab(session, fablab)
        source = session.get(SpoolSource, fablab)
        if source is None or source.kind != "spoolman":
            raise Conflict(f"fablab {fablab!r} keeps its spools in peerfab, not in Spoolman")
        url = source.url
    return {"fablab": fablab, "spools": _sync(fablab, url)}


def _sync(fablab: str, url: str) -> int:
    with session_scope(runtime().engine) as session:
        try:
            return spoolman.sync(session, fablab, spoolman.SpoolmanClient(url))
        except spoolman.SpoolmanError as exc:
            raise Conflict(str(exc)) from exc
