"""Design registry actions: publish a version, read versions, BOM views, diff, files."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sqlmodel import Session, col, func, select

from coordinator.bom import graph
from coordinator.bom.archive import ArchiveLimits
from coordinator.bom.graph import Bom
from coordinator.bom.manifest import SEMVER_RE, AnyPart, DesignInfo, FabricatedPart
from coordinator.bom.package import DesignPackage, open_package
from coordinator.filestore import SHA256_RE, FileStore
from coordinator.importers.okh_export import ExportSource
from coordinator.ledger import record as ledger
from coordinator.models.auth import Role
from coordinator.models.base import aware
from coordinator.models.designs import (
    BomEdge,
    Design,
    DesignVersion,
    MeshAnalysis,
    Part,
    StoredFile,
    VersionFile,
)
from coordinator.services import design_owners as owners
from coordinator.services.auth import Actor
from coordinator.services.meshes import MESH_SUFFIXES, analyse_for_publish
from coordinator.settings import LimitsSettings
from protocol.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)
_PART: TypeAdapter[Any] = TypeAdapter(AnyPart)
MAX_PAGE = 500


def content_digest(files: dict[str, str]) -> str:
    """One hash over (path, sha256) of every file: equal packages have equal digests."""
    digest = hashlib.sha256()
    for path, sha in sorted(files.items()):
        digest.update(f"{path}\0{sha}\n".encode())
    return digest.hexdigest()


def publish(
    session: Session,
    store: FileStore,
    package: DesignPackage,
    *,
    max_triangles: int,
    by: str = "",
    actor: Actor | None = None,
    max_unpacked_bytes: int = 1_000_000_000,
) -> tuple[DesignVersion, bool]:
    """Publish a valid package; return (version, created). Identical re-publishing is a no-op.

    Only a maintainer of an existing design (or an admin) publishes its versions; the first
    publisher of a new design becomes its maintainer. `actor` None is a local action (the CLI, the
    demo) by `by`, with every right. Files go to the store first; if anything fails afterwards,
    blobs this call added are removed again, so a rejected publish leaves nothing behind.
    """
    if not package.ok:
        raise InvalidInput(package.error_report(), details=[p.message for p in package.errors])
    actor = actor or Actor(name=by, role=Role.ADMIN)
    info = package.info
    design = session.exec(select(Design).where(Design.slug == info.slug)).first()
    if design is not None:
        owners.require_maintainer(session, design, actor)
    files = package.files()
    reports = analyse_for_publish(package, max_triangles, max_unpacked_bytes)
    new_blobs: list[str] = []
    try:
        stored = _store_files(session, store, files, new_blobs)
        digest = content_digest(stored)
        existing = _existing_version(session, info.slug, info.version)
        if existing is not None:
            if existing.content_sha256 != digest:
                raise Conflict(
                    f"{info.slug}@{info.version} is already published with different content; "
                    "published versions are immutable, bump the version"
                )
            _forget_blobs(store, new_blobs)
            return existing, False
        version = _insert_version(session, package, stored, digest, actor.name)
        _cache_reports(session, reports, stored)
        session.flush()
    except BaseException:
        session.rollback()
        _forget_blobs(store, new_blobs)
        raise
    return version, True


def _store_files(
    session: Session, store: FileStore, files: dict[str, Path], new_blobs: list[str]
) -> dict[str, str]:
    stored: dict[str, str] = {}
    for rel, path in files.items():
        sha, created = store.put_file(path)
        if created:
            new_blobs.append(sha)
        if session.get(StoredFile, sha) is None:
            session.add(StoredFile(sha256=sha, size=path.stat().st_size))
        stored[rel] = sha
    session.flush()
    return stored


def _forget_blobs(store: FileStore, blobs: list[str]) -> None:
    store.remove(blobs)


def _existing_version(session: Session, slug: str, version: str) -> DesignVersion | None:
    return session.exec(
        select(DesignVersion)
        .join(Design, col(Design.id) == col(DesignVersion.design_id))
        .where(Design.slug == slug, DesignVersion.version == version)
    ).first()


def _insert_version(
    session: Session, package: DesignPackage, stored: dict[str, str], digest: str, by: str
) -> DesignVersion:
    info = package.info
    design = session.exec(select(Design).where(Design.slug == info.slug)).first()
    if design is None:
        design = Design(slug=info.slug, name=info.name)
        session.add(design)
        session.flush()
        owners.add_first_maintainer(session, design, by)
    version = version_row(design, info, package.raw, digest, by)
    session.add(version)
    session.flush()
    assert version.id is not None
    _insert_parts(session, version.id, package, stored)
    for rel, sha in stored.items():
        session.add(VersionFile(version_id=version.id, path=rel, sha256=sha))
    ledger.record_publish(session, design, version, homepage=info.homepage)
    return version


def version_row(design: Design, info: DesignInfo, manifest: dict, digest: str, by: str) -> DesignVersion:
    """A new version of `design` as its manifest describes it."""
    return DesignVersion(
        design_id=design.id,  # type: ignore[arg-type]
        version=info.version,
        name=info.name,
        description=info.description,
        licenses=list(info.licenses),
        authors=list(info.authors),
        lineage=info.lineage.model_dump(exclude_defaults=True),
        root=info.root,
        manifest=manifest,
        content_sha256=digest,
        published_by=by,
    )


def _insert_parts(session: Session, version_id: int, package: DesignPackage, stored: dict[str, str]) -> None:
    bom = package.bom()
    for part in bom.parts.values():
        file_path = part.file if isinstance(part, FabricatedPart) else None
        session.add(
            Part(
                version_id=version_id,
                part_id=part.id,
                kind=part.kind,
                name=part.name,
                process=getattr(part, "process", None),
                material=getattr(part, "material", None),
                unit=part.unit,
                file_path=file_path,
                file_sha256=stored.get(file_path) if file_path else None,
                data=part.model_dump(mode="json"),
            )
        )
    for parent, child, attrs in bom.graph.edges(data=True):
        session.add(BomEdge(version_id=version_id, parent=parent, child=child, quantity=attrs["quantity"]))


def _cache_reports(session: Session, reports: dict[str, dict[str, Any]], stored: dict[str, str]) -> None:
    for rel, report in reports.items():
        sha = stored[rel]
        if session.get(MeshAnalysis, sha) is None:
            session.add(MeshAnalysis(sha256=sha, report=report))


# ---- reading -----------------------------------------------------------------------------------


def list_designs(session: Session, limit: int = MAX_PAGE, offset: int = 0) -> list[dict[str, Any]]:
    """Designs by slug (a page of them), each with its version numbers, newest first.

    Only slugs, names and version numbers are read: a page costs the same whatever the designs hold.
    """
    page = session.exec(
        select(Design.id, Design.slug, Design.name).order_by(col(Design.slug)).offset(offset).limit(limit)
    ).all()
    numbers: dict[int | None, list[str]] = {design_id: [] for design_id, _, _ in page}
    if numbers:
        query = select(DesignVersion.design_id, DesignVersion.version)
        for owner, number in session.exec(query.where(col(DesignVersion.design_id).in_(list(numbers)))):
            numbers[owner].append(number)
    rows = []
    for design_id, slug, name in page:
        versions = sorted(numbers[design_id], key=semver_key, reverse=True)
        rows.append(
            {"slug": slug, "name": name, "latest": versions[0] if versions else None, "versions": versions}
        )
    return rows


def count_designs(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Design)).one())


def version_numbers(session: Session, design: Design) -> list[str]:
    """The published version numbers of a design, newest first."""
    query = select(DesignVersion.version).where(DesignVersion.design_id == design.id)
    return sorted(session.exec(query).all(), key=semver_key, reverse=True)


def get_design(session: Session, slug: str) -> Design:
    design = session.exec(select(Design).where(Design.slug == slug)).first()
    if design is None:
        raise NotFound(f"no design {slug[:80]!r}")
    return design


def get_version(session: Session, slug: str, version: str = "latest") -> DesignVersion:
    """A published version; 'latest' is the highest semantic version."""
    design = get_design(session, slug)
    numbers = version_numbers(session, design)
    wanted = numbers[0] if version == "latest" and numbers else version
    found = session.exec(
        select(DesignVersion).where(DesignVersion.design_id == design.id, DesignVersion.version == wanted)
    ).first()
    if found is None:
        known = ", ".join(reversed(numbers))
        raise NotFound(f"design {slug!r} has no version {version[:64]!r} (published: {known})")
    return found


def version_parts(session: Session, version: DesignVersion) -> list[Part]:
    return list(session.exec(select(Part).where(Part.version_id == version.id).order_by(col(Part.part_id))))


def draft_reason(version: DesignVersion) -> str:
    """Why a version is a draft (documentation without a complete BOM), '' when it can be built."""
    design = version.manifest.get("design") if isinstance(version.manifest, dict) else None
    return str(design.get("draft") or "") if isinstance(design, dict) else ""


def load_bom(session: Session, version: DesignVersion) -> Bom:
    if not version.root:
        raise InvalidInput(f"version {version.version} is a draft with no BOM yet: {draft_reason(version)}")
    parts = {row.part_id: _PART.validate_python(row.data) for row in version_parts(session, version)}
    return Bom.from_parts(version.root, parts)


def load_buildable_bom(session: Session, version: DesignVersion) -> Bom:
    """The BOM of a version that can be built; a draft is refused with its reason."""
    reason = draft_reason(version)
    if reason:
        raise InvalidInput(f"version {version.version} is a draft and cannot be built: {reason}")
    return load_bom(session, version)


def version_files(session: Session, version: DesignVersion) -> list[VersionFile]:
    return list(
        session.exec(
            select(VersionFile).where(VersionFile.version_id == version.id).order_by(col(VersionFile.path))
        )
    )


def describe_version(session: Session, version: DesignVersion, slug: str) -> dict[str, Any]:
    """A version with its manifest fields, parts and files, ready for JSON."""
    reports = mesh_reports(session, version)
    parts = []
    for row in version_parts(session, version):
        entry = dict(row.data)
        if row.file_sha256:
            entry["file_sha256"] = row.file_sha256
            entry["mesh"] = reports.get(row.file_sha256)
        parts.append(entry)
    return {
        "slug": slug,
        "version": version.version,
        "name": version.name,
        "description": version.description,
        "licenses": version.licenses,
        "authors": version.authors,
        "lineage": version.lineage,
        "root": version.root,
        "draft": draft_reason(version),
        "buildable": not draft_reason(version),
        "homepage": str((version.manifest.get("design") or {}).get("homepage") or ""),
        "contributors": list((version.manifest.get("design") or {}).get("contributors") or []),
        "content_sha256": version.content_sha256,
        "published_at": aware(version.published_at).isoformat(),  # SQLite hands it back naive
        "parts": parts,
        "files": [{"path": f.path, "sha256": f.sha256} for f in version_files(session, version)],
    }


def mesh_reports(session: Session, version: DesignVersion) -> dict[str, dict[str, Any]]:
    shas = [f.sha256 for f in version_files(session, version) if Path(f.path).suffix.lower() in MESH_SUFFIXES]
    if not shas:
        return {}
    rows = session.exec(select(MeshAnalysis).where(col(MeshAnalysis.sha256).in_(shas)))
    return {row.sha256: row.report for row in rows}


def diff_versions(session: Session, slug: str, old: str, new: str) -> dict[str, Any]:
    old_version, new_version = get_version(session, slug, old), get_version(session, slug, new)
    result = graph.diff(load_bom(session, old_version), load_bom(session, new_version))
    return {"slug": slug, "from": old_version.version, "to": new_version.version, **result}


def export_source(session: Session, store: FileStore, version: DesignVersion) -> ExportSource:
    """A published version as the exporters read it: its design.toml content and its stored files."""
    files = {f.path: store.path_for(f.sha256) for f in version_files(session, version)}
    return ExportSource(manifest=version.manifest, files=files)


def stored_file(session: Session, sha256: str) -> StoredFile:
    if not SHA256_RE.match(sha256):
        raise InvalidInput(f"not a sha256 hex digest: {sha256!r}")
    record = session.get(StoredFile, sha256)
    if record is None:
        raise NotFound(f"no file with sha256 {sha256}")
    return record


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key for semantic versions: pre-releases before the release they precede."""
    match = SEMVER_RE.match(version)
    if not match:
        return (0, 0, 0, 0, version)
    core = tuple(int(x) for x in match.groups()[:3])
    pre = version.split("+", 1)[0].partition("-")[2]
    pre_key = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")) if pre else ()
    return (*core, 0 if pre else 1, pre_key)


def publish_path(
    session: Session,
    store: FileStore,
    source: Path,
    limits: LimitsSettings,
    *,
    by: str = "",
    name: str = "",
    actor: Actor | None = None,
    workdir: Path | None = None,
) -> tuple[DesignVersion, bool]:
    """Publish a package folder or archive under the coordinator's upload limits."""
    archive_limits = ArchiveLimits(
        max_unpacked_bytes=int(limits.max_unpacked_mb * 1e6),
        max_members=limits.max_members,
        max_ratio=limits.max_ratio,
    )
    opened = open_package(
        source, archive_limits, name=name, max_triangles=limits.max_triangles, workdir=workdir
    )
    with opened as package:
        return publish(
            session, store, package, max_triangles=limits.max_triangles, by=by, actor=actor,
            max_unpacked_bytes=archive_limits.max_unpacked_bytes,
        )  # fmt: skip


def get_design_by_id(session: Session, design_id: int) -> Design:
    design = session.get(Design, design_id)
    if design is None:
        raise NotFound(f"no design with id {design_id}")
    return design
