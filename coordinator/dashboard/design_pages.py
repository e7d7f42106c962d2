"""Design pages: the registry, a version with its BOM and costs, a part with its preview, a diff."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import Session

from coordinator.bom import graph
from coordinator.bom.manifest import FabricatedPart
from coordinator.dashboard import previews
from coordinator.dashboard.blueprint import bp, db, page
from coordinator.models.designs import DesignVersion
from coordinator.runtime import runtime
from coordinator.services import design_owners as owners
from coordinator.services import designs
from protocol.errors import InvalidInput, NotFound

MAX_UNITS = 10_000
PAGE_SIZE = 100
MAX_OFFSET = 1_000_000


@bp.get("/")
def root() -> ResponseReturnValue:
    return redirect(url_for("dashboard.home"))


@bp.get("/dashboard/designs")
def designs_index() -> str:
    offset = _whole("offset", 0, 0, MAX_OFFSET)
    with db() as session:
        rows = designs.list_designs(session, PAGE_SIZE, offset)
        total = designs.count_designs(session)
    return page("designs.html", designs=rows, total=total, offset=offset, page_size=PAGE_SIZE)


@bp.get("/dashboard/designs/<slug>")
def design(slug: str) -> ResponseReturnValue:
    with db() as session:
        version = designs.get_version(session, slug).version
    return redirect(url_for("dashboard.design_version", slug=slug, version=version))


@bp.get("/dashboard/designs/<slug>/<version>")
def design_version(slug: str, version: str) -> str:
    units = _whole("units", 1, 1, MAX_UNITS)
    with db() as session:
        design = designs.get_design(session, slug)
        release = designs.get_version(session, slug, version)
        info = designs.describe_version(session, release, slug)
        # A draft without parts is documentation only: there is no BOM to draw.
        bom = designs.load_bom(session, release) if release.root else None
        others = designs.version_numbers(session, design)
        maintainers = owners.maintainer_names(session, design)
    return page(
        "design_version.html",
        info=info,
        tree=graph.tree(bom) if bom else None,
        totals=graph.flatten(bom, units) if bom else [],
        cost=graph.cost_rollup(bom, units) if bom else None,
        units=units,
        versions=others,
        maintainers=maintainers,
        meshes={p["id"]: p.get("mesh") for p in info["parts"]},
    )


def _whole(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within bounds."""
    raw = request.args.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}")
    return value


@bp.get("/dashboard/designs/<slug>/<version>/parts/<part_id>")
def part(slug: str, version: str, part_id: str) -> str:
    with db() as session:
        release = designs.get_version(session, slug, version)
        bom = designs.load_bom(session, release)
        item = bom.part(part_id)
        row = _part_row(session, release, part_id)
        report = designs.mesh_reports(session, release).get(row.file_sha256 or "")
    return page(
        "part.html",
        slug=slug,
        version=release.version,
        design_name=release.name,
        part=item.model_dump(mode="json"),
        sha256=row.file_sha256,
        report=report,
        preview=isinstance(item, FabricatedPart) and previews.has_preview(item.file) and row.file_sha256,
        used_in=graph.where_used(bom, part_id),
        per_unit=graph.totals(bom).get(part_id, 0.0),
        children=graph.tree(bom, part_id).get("children", []),
    )


def _part_row(session: Session, release: DesignVersion, part_id: str) -> Any:
    for row in designs.version_parts(session, release):
        if row.part_id == part_id:
            return row
    raise NotFound(f"no part {part_id!r} in {release.version}")


@bp.get("/dashboard/designs/<slug>/diff")
def design_diff(slug: str) -> str:
    with db() as session:
        known = designs.version_numbers(session, designs.get_design(session, slug))
        old = request.args.get("from") or (known[1] if len(known) > 1 else known[0])
        new = request.args.get("to") or known[0]
        result = designs.diff_versions(session, slug, old, new)
    return page("design_diff.html", slug=slug, diff=result, versions=known)


@bp.get("/dashboard/previews/<sha256>.svg")
def preview(sha256: str) -> ResponseReturnValue:
    rt = runtime()
    with db() as session:
        designs.stored_file(session, sha256)
        kind = previews.mesh_type(session, sha256)
    path = previews.preview_path(rt.settings.storage.data_dir / "previews", rt.store, sha256, kind)
    response = send_file(path, mimetype="image/svg+xml", max_age=86400)
    # same hash, same picture: the browser may keep it as long as it likes
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
