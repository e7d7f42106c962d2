"""The commons ledger as Valueflows JSON-LD, a build's provenance and cost, what each party gave and its
reciprocity score (docs/commons.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiflask import APIBlueprint
from pydantic import BaseModel, Field

from coordinator.api.ledger_schemas import ContributionsOut, PassportKeyOut, PassportOut, ReciprocityOut
from coordinator.api.schemas import LedgerOut, ProvenanceOut, errors
from coordinator.db import session_scope
from coordinator.jobs import reciprocity
from coordinator.jobs.queries import MAX_OFFSET
from coordinator.ledger import contributions, export, passport, provenance
from coordinator.models.base import utcnow
from coordinator.runtime import runtime

bp = APIBlueprint("ledger", __name__, tag="Ledger")


class LedgerQueryIn(BaseModel):
    build: str | None = Field(None, max_length=32, description="a build's id")
    design: str | None = Field(None, max_length=64, description="a design's slug")
    fablab: str | None = Field(None, max_length=63)
    person: str | None = Field(
        None, max_length=128, description="a person (a token's name), as provider or receiver"
    )
    since: datetime | None = Field(None, description="events at or after this time")
    until: datetime | None = Field(None, description="events at or before this time")
    limit: int = Field(100, ge=1, le=export.MAX_PAGE, description="events per page (oldest first)")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="events to skip")


@bp.get("/ledger")
@bp.input(LedgerQueryIn, location="query")
@bp.output(LedgerOut)
@bp.doc(responses=errors(401, 422, _400="since is after until"))
def ledger(query_data: LedgerQueryIn) -> dict[str, Any]:
    """Economic events (produce, consume, use, work, transfer, cite) as Valueflows JSON-LD, a page at
    a time, oldest first."""
    with session_scope(runtime().engine) as session:
        return export.export(session, export.LedgerQuery(**query_data.model_dump()))


@bp.get("/builds/<build_id>/provenance")
@bp.output(ProvenanceOut)
@bp.doc(responses=errors(401, 404))
def build_provenance(build_id: str) -> dict[str, Any]:
    """Every part of a build: design version and contributors, fablab, machine, operators, material and
    spool, start and end, the file run, attempts; the cost per part and for the build."""
    with session_scope(runtime().engine) as session:
        return provenance.provenance(session, build_id)


class ContributionsQueryIn(BaseModel):
    by: str = Field("fablab", pattern="^(fablab|person)$", description="sum per fablab or per person")
    since: datetime | None = Field(None, description="events at or after this time")
    until: datetime | None = Field(None, description="events at or before this time")
    build: str | None = Field(None, max_length=32, description="only this build's events")


@bp.get("/contributions")
@bp.input(ContributionsQueryIn, location="query")
@bp.output(ContributionsOut)
@bp.doc(responses=errors(401, 422, _400="since is after until", _404="no such build"))
def contributions_view(query_data: ContributionsQueryIn) -> dict[str, Any]:
    """What each fablab or person gave over a time window: designs and versions published, parts made
    (and for others' builds), machine hours, grams of material, work; overall and per build, with shares."""
    with session_scope(runtime().engine) as session:
        return contributions.contributions(session, **query_data.model_dump())


class ReciprocityQueryIn(BaseModel):
    kind: str | None = Field(None, pattern="^(fablab|person)$", description="only fablabs or only people")
    limit: int = Field(100, ge=1, le=export.MAX_PAGE, description="parties per page (highest score first)")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="parties to skip")


@bp.get("/reciprocity")
@bp.input(ReciprocityQueryIn, location="query")
@bp.output(ReciprocityOut)
@bp.doc(responses=errors(401, 422))
def reciprocity_view(query_data: ReciprocityQueryIn) -> dict[str, Any]:
    """Each party's decayed balance of what it gave to others' builds and received from others, and the
    score the dispatch round orders contended jobs by when reciprocity is on (docs/commons.md)."""
    rt = runtime()
    weights, now = rt.settings.reciprocity, utcnow()
    with session_scope(rt.engine) as session:
        found = reciprocity.standings(session, now, weights)
    if query_data.kind is not None:
        found = [standing for standing in found if standing.kind == query_data.kind]
    page = found[query_data.offset : query_data.offset + query_data.limit]
    return {
        "enabled": weights.enabled, "parties": weights.parties, "at": now.isoformat(),
        "window_days": weights.window_days, "half_life_days": weights.half_life_days,
        "prior": weights.prior, "neutral": reciprocity.NEUTRAL, "total": len(found),
        "standings": [standing.row() for standing in page],
    }  # fmt: skip


@bp.get("/builds/<build_id>/passport")
@bp.output(PassportOut)
@bp.doc(responses=errors(401, 404))
def build_passport(build_id: str) -> dict[str, Any]:
    """A build's provenance and ledger events, canonicalised and signed with the coordinator's Ed25519 key:
    a product passport anyone can verify offline with the key at /passport-key (docs/commons.md)."""
    rt = runtime()
    with session_scope(rt.engine) as session:
        return passport.passport(session, build_id, rt.passport_key, utcnow())


@bp.get("/passport-key")
@bp.output(PassportKeyOut)
@bp.doc(responses=errors(401))
def passport_key() -> dict[str, Any]:
    """The public key passports are signed with, as PEM and as a JWK."""
    return passport.public_key(runtime().passport_key)
