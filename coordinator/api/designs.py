"""Designs: upload a version archive, list, read a version, BOM tree, explode, diff; maintainers, fork."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import File
from apiflask.schemas import FileSchema
from flask import Response, url_for
from pydantic import BaseModel, ConfigDict, Field

from coordinator.api.auth import auth, current_actor, roles
from coordinator.api.schemas import (
    BomOut,
    DesignOut,
    DesignPageOut,
    DiffOut,
    ExplodeOut,
    MaintainersOut,
    VersionOut,
    WhereUsedOut,
    errors,
    same_body,
)
from coordinator.bom import graph
from coordinator.bom.archive import archive_kind
from coordinator.bom.text import check_name
from coordinator.db import session_scope
from coordinator.importers import okh_export
from coordinator.models.auth import Role
from coordinator.runtime import runtime
from coordinator.services import design_owners as owners
from coordinator.services import designs
from protocol.errors import InvalidInput

bp = APIBlueprint("designs", __name__, tag="Designs")
MAX_UPLOAD_NAME = 255


# a second success status beside @bp.output's, and the errors
UPLOAD_RESPONSES: dict[Any, Any] = {
    200: same_body("identical version already published", VersionOut),
    **errors(400, 401, 409, 413, 422, _403="not a designer, or not a maintainer"),
}


class UploadForm(Schema):
    archive = File(required=True, metadata={"description": "design package as .zip or .tar.gz"})


class PageQuery(BaseModel):
    limit: int = Field(100, ge=1, le=designs.MAX_PAGE, description="designs per page")
    offset: int = Field(0, ge=0, le=1_000_000, description="designs to skip (ordered by slug)")


class UnitsQuery(BaseModel):
    units: int = Field(1, ge=1, le=100_000, description="how many units of the design")


class DiffQuery(BaseModel):
    from_version: str = Field(alias="from", max_length=64, description="the older version")
    to_version: str = Field(alias="to", max_length=64, description="the newer version")


class ForkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(max_length=64, description="the fork's own slug")
    version: str = Field("latest", max_length=64, description="the version to fork")
    name: str | None = Field(None, min_length=1, max_length=200, description="a new name (default: the same)")


class MaintainerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=owners.MAX_NAME, description="a token name")


@bp.post("/designs")
@bp.auth_required(auth, **roles(Role.DESIGNER))
@bp.input(UploadForm, location="files")
@bp.output(VersionOut, status_code=201, description="published")
@bp.doc(responses=UPLOAD_RESPONSES)
def upload_design(files_data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Publish a design version from a package archive (designer role; maintainers of an existing design)."""
    upload = files_data["archive"]
    filename = check_name((upload.filename or "")[:MAX_UPLOAD_NAME], "archive name")
    suffix = ".zip" if archive_kind(filename) == "zip" else ".tar.gz"
    rt = runtime()
    data_dir = rt.settings.storage.data_dir
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=data_dir) as tmp:
        upload.save(tmp.name)
        with session_scope(rt.engine) as session:
            version, created = designs.publish_path(
                session, rt.store, Path(tmp.name), rt.settings.limits,
                name=filename, actor=current_actor(), workdir=data_dir,
            )  # fmt: skip
            slug = designs.get_design_by_id(session, version.design_id).slug
            body = designs.describe_version(session, version, slug)
    return body, 201 if created else 200


@bp.get("/designs")
@bp.input(PageQuery, location="query")
@bp.output(DesignPageOut)
@bp.doc(responses=errors(401, 422))
def list_designs(query_data: PageQuery) -> dict[str, Any]:
    """Designs by slug, a page at a time (?limit=&offset=), with their published versions."""
    with session_scope(runtime().engine) as session:
        return {
            "designs": designs.list_designs(session, query_data.limit, query_data.offset),
            "total": designs.count_designs(session),
            "limit": query_data.limit,
            "offset": query_data.offset,
        }


@bp.get("/designs/<slug>")
@bp.output(DesignOut)
@bp.doc(responses=errors(401, 404))
def get_design(slug: str) -> dict[str, Any]:
    """A design, its latest version, its versions and its maintainers."""
    with session_scope(runtime().engine) as session:
        design = designs.get_design(session, slug)
        body = designs.describe_version(session, designs.get_version(session, slug, "latest"), slug)
        body["versions"] = designs.version_numbers(session, design)
        body["maintainers"] = owners.maintainer_names(session, design)
        return body


@bp.get("/designs/<slug>/versions/<version>")
@bp.output(VersionOut)
@bp.doc(responses=errors(401, 404))
def get_version(slug: str, version: str) -> dict[str, Any]:
    """One published version ('latest' for the newest)."""
    with session_scope(runtime().engine) as session:
        return designs.describe_version(session, designs.get_version(session, slug, version), slug)


@bp.get("/designs/<slug>/versions/<version>/okh.zip")
@bp.output(
    FileSchema(),
    content_type="application/zip",
    description="a zip of okh.toml, sBoM.csv, part manifests and files",
)
@bp.doc(responses=errors(401, 404))
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
@bp.output(BomOut)
@bp.doc(responses=errors(401, 404, 422, _400="a draft has no BOM"))
def bom_tree(slug: str, version: str) -> dict[str, Any]:
    """The BOM as a nested tree, with flattened totals and the cost roll-up for one unit."""
    with session_scope(runtime().engine) as session:
        bom = designs.load_bom(session, designs.get_version(session, slug, version))
    return {"tree": graph.tree(bom), "flat": graph.flatten(bom), "cost": graph.cost_rollup(bom)}


@bp.get("/designs/<slug>/versions/<version>/explode")
@bp.input(UnitsQuery, location="query")
@bp.output(ExplodeOut)
@bp.doc(responses=errors(401, 404, 422, _400="a draft has no BOM"))
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
@bp.output(WhereUsedOut)
@bp.doc(responses=errors(401, 404, 422, _400="a draft has no BOM"))
def where_used(slug: str, version: str, part_id: str) -> dict[str, Any]:
    """The assemblies that use a part."""
    with session_scope(runtime().engine) as session:
        bom = designs.load_bom(session, designs.get_version(session, slug, version))
    return {"part": part_id, "used_in": graph.where_used(bom, part_id)}


@bp.get("/designs/<slug>/diff")
@bp.input(DiffQuery, location="query")
@bp.output(DiffOut)
@bp.doc(responses=errors(401, 404, 422, _400="the same version twice, or a draft"))
def diff(slug: str, query_data: DiffQuery) -> dict[str, Any]:
    """Parts added, removed and changed between two versions (?from=A&to=B)."""
    if query_data.from_version == query_data.to_version:
        raise InvalidInput("'from' and 'to' name the same version")
    with session_scope(runtime().engine) as session:
        return designs.diff_versions(session, slug, query_data.from_version, query_data.to_version)


@bp.post("/designs/<slug>/fork")
@bp.auth_required(auth, **roles(Role.DESIGNER))
@bp.input(ForkIn, location="json")
@bp.output(VersionOut, status_code=201, description="forked")
@bp.doc(responses=errors(400, 401, 403, 413, 422, _404="no such design or version",
                         _409="the new slug is taken"))  # fmt: skip
def fork(slug: str, json_data: ForkIn) -> tuple[dict[str, Any], int]:
    """Fork a design under a new slug of your own; its lineage names the original (designer role)."""
    rt = runtime()
    with session_scope(rt.engine) as session:
        source = designs.get_version(session, slug, json_data.version)
        version = owners.fork_design(
            session, rt.store, source, slug, json_data.slug, current_actor(), name=json_data.name
        )
        return designs.describe_version(session, version, json_data.slug), 201


@bp.get("/designs/<slug>/maintainers")
@bp.output(MaintainersOut)
@bp.doc(responses=errors(401, 404))
def list_maintainers(slug: str) -> dict[str, Any]:
    """Who may publish versions of a design."""
    with session_scope(runtime().engine) as session:
        return {
            "slug": slug,
            "maintainers": owners.maintainer_names(session, designs.get_design(session, slug)),
        }


@bp.post("/designs/<slug>/maintainers")
@bp.auth_required(auth, **roles(Role.DESIGNER))
@bp.input(MaintainerIn, location="json")
@bp.output(MaintainersOut)
@bp.doc(responses=errors(400, 401, 404, 413, 422, _403="not a maintainer"))
def add_maintainer(slug: str, json_data: MaintainerIn) -> dict[str, Any]:
    """A maintainer adds someone (by token name) who may then publish versions too."""
    with session_scope(runtime().engine) as session:
        design = designs.get_design(session, slug)
        names = owners.add_maintainer(session, design, json_data.name, current_actor())
        return {"slug": slug, "maintainers": names}


@bp.delete("/designs/<slug>/maintainers/<name>")
@bp.auth_required(auth, **roles(Role.DESIGNER))
@bp.output(MaintainersOut)
@bp.doc(responses=errors(401, _403="not a maintainer", _404="no such design or maintainer",
                         _409="the last maintainer"))  # fmt: skip
def remove_maintainer(slug: str, name: str) -> dict[str, Any]:
    """A maintainer removes someone from the maintainers (never the last one)."""
    with session_scope(runtime().engine) as session:
        design = designs.get_design(session, slug)
        return {"slug": slug, "maintainers": owners.remove_maintainer(session, design, name, current_actor())}
