"""Designs: upload a version archive, list, read a version, BOM tree, explode, diff."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import File
from flask import Response, url_for
from pydantic import BaseModel, Field

from coordinator.api.auth import auth, current_token_name, roles
from coordinator.bom import graph
from coordinator.bom.archive import archive_kind
from coordinator.db import session_scope
from coordinator.importers import okh_export
from coordinator.models.auth import Role
from coordinator.runtime import runtime
from coordinator.services import designs
from protocol.errors import InvalidInput

bp = APIBlueprint("designs", __name__, tag="Designs")


class UploadForm(Schema):
    archive = File(required=True, metadata={"description": "design package as .zip or .tar.gz"})


class UnitsQuery(BaseModel):
    units: int = Field(1, ge=1, le=100_000, description="how many units of the design")


class DiffQuery(BaseModel):
    from_version: str = Field(alias="from", description="the older version")
    to_version: str = Field(alias="to", description="the newer version")


@bp.post("/designs")
@bp.auth_required(auth, **roles(Role.DESIGNER))
@bp.input(UploadForm, location="files")
@bp.doc(responses={201: "published", 200: "identical version already published", 409: "conflict"})
def upload_design(files_data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Publish a design version from a package archive (designer role)."""
    upload = files_data["archive"]
    filename = upload.filename or ""
    suffix = ".zip" if archive_kind(filename) == "zip" else ".tar.gz"
    rt = runtime()
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=rt.settings.storage.data_dir) as tmp:
        upload.save(tmp.name)
        with session_scope(rt.engine) as session:
            version, created = designs.publish_path(
                session, rt.store, Path(tmp.name), rt.settings.limits, by=current_token_name(), name=filename
            )
            slug = designs.get_design_by_id(session, version.design_id).slug
            body = designs.describe_version(session, version, slug)
    return body, 201 if created else 200


@bp.get("/designs")
def list_designs() -> dict[str, Any]:
    """Every design with its published versions."""
    with session_scope(runtime().engine) as session:
        return {"designs": designs.list_designs(session)}


@bp.get("/designs/<slug>")
def get_design(slug: str) -> dict[str, Any]:
    """A design and its latest version."""
    with session_scope(runtime().engine) as session:
        version = designs.get_version(session, slug, "latest")
        body = designs.describe_version(session, version, slug)
        body["versions"] = next(d["versions"] for d in designs.list_designs(session) if d["slug"] == slug)
        return body


@bp.get("/designs/<slug>/versions/<version>")
def get_version(slug: str, version: str) -> dict[str, Any]:
    """One published version ('latest' for the newest)."""
    with session_scope(runtime().engine) as session:
        return designs.describe_version(session, designs.get_version(session, slug, version), slug)


@bp.get("/designs/<slug>/versions/<version>/okh.zip")
@bp.doc(responses={200: "a zip of okh.toml, sBoM.csv, part manifests and files", 404: "no such version"})
def export_okh(slug: str, version: str) -> Response:
    """The version as an Open Know-How (OKH-LOSH) project: okh.toml, its sBoM, part manifests and files."""
    rt = runtime()
    with session_scope(rt.engine) as session:
        release = designs.get_version(session, slug, version)
        source = designs.export_source(session, rt.store, release)
        page = url_for("dashboard.design_version", slug=slug, version=release.version, _external=True)
        data = okh_export.export_zip(source, repo=_homepage(source.manifest) or page)
        name = f"{slug}-{release.version}-okh.zip"
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _homepage(manifest: Mapping[str, Any]) -> str:
    return str((manifest.get("design") or {}).get("homepage") or "")


@bp.get("/designs/<slug>/versions/<version>/bom")
def bom_tree(slug: str, version: str) -> dict[str, Any]:
    """The BOM as a nested tree, with flattened totals and the cost roll-up for one unit."""
    with session_scope(runtime().engine) as session:
        bom = designs.load_bom(session, designs.get_version(session, slug, version))
    return {"tree": graph.tree(bom), "flat": graph.flatten(bom), "cost": graph.cost_rollup(bom)}


@bp.get("/designs/<slug>/versions/<version>/explode")
@bp.input(UnitsQuery, location="query")
def explode(slug: str, version: str, query_data: UnitsQuery) -> dict[str, Any]:
    """Total leaf quantities for N units (?units=N)."""
    with session_scope(runtime().engine) as session:
        bom = designs.load_bom(session, designs.get_version(session, slug, version))
    leaves = graph.explode(bom, query_data.units)
    items = [
        {"id": part_id, "kind": bom.parts[part_id].kind, "name": bom.parts[part_id].name,
         "unit": bom.parts[part_id].unit, "quantity": quantity}
        for part_id, quantity in sorted(leaves.items())
    ]  # fmt: skip
    return {"units": query_data.units, "parts": items, "cost": graph.cost_rollup(bom, query_data.units)}


@bp.get("/designs/<slug>/versions/<version>/parts/<part_id>/where-used")
def where_used(slug: str, version: str, part_id: str) -> dict[str, Any]:
    """The assemblies that use a part."""
    with session_scope(runtime().engine) as session:
        bom = designs.load_bom(session, designs.get_version(session, slug, version))
    return {"part": part_id, "used_in": graph.where_used(bom, part_id)}


@bp.get("/designs/<slug>/diff")
@bp.input(DiffQuery, location="query")
def diff(slug: str, query_data: DiffQuery) -> dict[str, Any]:
    """Parts added, removed and changed between two versions (?from=A&to=B)."""
    if query_data.from_version == query_data.to_version:
        raise InvalidInput("'from' and 'to' name the same version")
    with session_scope(runtime().engine) as session:
        return designs.diff_versions(session, slug, query_data.from_version, query_data.to_version)
