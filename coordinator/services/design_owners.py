"""Who may publish a design, and forking: the commons' rules of ownership.

A design has maintainers: its first publisher and whoever a maintainer adds. Only they (and admins)
publish its versions, so `versions/latest`, which builds default to, is always theirs. Anyone else
with the designer role forks the design: a new slug, their own, whose lineage names the original
(`derivative-of = "slug@version"`), made in one call from the stored files without re-uploading them.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError
from sqlmodel import Session, col, select

from coordinator.bom.manifest import SLUG_RE, DesignInfo
from coordinator.bom.text import check_name
from coordinator.filestore import FileStore
from coordinator.ledger import record as ledger
from coordinator.models.designs import (
    BomEdge,
    Design,
    DesignMaintainer,
    DesignVersion,
    Part,
    StoredFile,
    VersionFile,
)
from coordinator.services.auth import Actor
from protocol.errors import Conflict, Forbidden, InvalidInput, NotFound

MANIFEST = "design.toml"
MAX_NAME = 128


def maintainer_names(session: Session, design: Design) -> list[str]:
    query = select(DesignMaintainer.name).where(DesignMaintainer.design_id == design.id)
    return sorted(session.exec(query.order_by(col(DesignMaintainer.name))).all())


def is_maintainer(session: Session, design: Design, actor: Actor) -> bool:
    """True for a maintainer of `design`, or an admin."""
    return actor.is_admin or (bool(actor.name) and actor.name in maintainer_names(session, design))


def require_maintainer(session: Session, design: Design, actor: Actor) -> None:
    """Refuse (403) anyone but a maintainer or an admin, and say how to go on: fork."""
    if not is_maintainer(session, design, actor):
        names = ", ".join(maintainer_names(session, design)) or "admins only"
        raise Forbidden(
            f"only the maintainers of {design.slug!r} ({names}) publish its versions; "
            f"fork it under a slug of your own (POST /api/v1/designs/{design.slug}/fork, "
            f"or `peerfab design fork {design.slug} NEW-SLUG`), or ask a maintainer to add you",
        )


def add_first_maintainer(session: Session, design: Design, name: str) -> None:
    if name:
        session.add(DesignMaintainer(design_id=design.id, name=name))  # type: ignore[arg-type]
        session.flush()


def add_maintainer(session: Session, design: Design, name: str, actor: Actor) -> list[str]:
    """A maintainer (or admin) adds `name` (a token name) to the maintainers; return them all."""
    require_maintainer(session, design, actor)
    _check_person(name)
    if name not in maintainer_names(session, design):
        session.add(DesignMaintainer(design_id=design.id, name=name, added_by=actor.name))  # type: ignore[arg-type]
        session.flush()
    return maintainer_names(session, design)


def remove_maintainer(session: Session, design: Design, name: str, actor: Actor) -> list[str]:
    """A maintainer (or admin) removes `name`; the last maintainer stays (a design always has one)."""
    require_maintainer(session, design, actor)
    names = maintainer_names(session, design)
    if name not in names:
        raise NotFound(f"{name[:MAX_NAME]!r} is no maintainer of {design.slug!r}")
    if names == [name]:
        raise Conflict(f"{name!r} is the last maintainer of {design.slug!r}; add another one first")
    row = session.exec(
        select(DesignMaintainer).where(DesignMaintainer.design_id == design.id, DesignMaintainer.name == name)
    ).one()
    session.delete(row)
    session.flush()
    return maintainer_names(session, design)


def _check_person(name: str) -> None:
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a maintainer is a token name of 1 to {MAX_NAME} characters")
    check_name(name, "maintainer name")


# ---- forking -----------------------------------------------------------------------------------


def fork_design(
    session: Session,
    store: FileStore,
    source: DesignVersion,
    source_slug: str,
    new_slug: str,
    actor: Actor,
    name: str | None = None,
) -> DesignVersion:
    """Publish `source` again as the first version of `new_slug`, derived from it, maintained by `actor`."""
    _check_new_slug(session, new_slug)
    manifest = _forked_manifest(source, source_slug, new_slug, name)
    info = _valid_info(manifest)
    text = tomli_w.dumps(manifest).encode()
    manifest_sha, created = _store_manifest(store, text)
    try:
        if session.get(StoredFile, manifest_sha) is None:
            session.add(StoredFile(sha256=manifest_sha, size=len(text)))
        design = Design(slug=new_slug, name=info.name)
        session.add(design)
        session.flush()
        add_first_maintainer(session, design, actor.name)
        return _copy_version(session, source, design, manifest, info, manifest_sha, actor.name)
    except BaseException:
        session.rollback()
        if created:
            store.remove([manifest_sha])
        raise


def _check_new_slug(session: Session, slug: str) -> None:
    if not SLUG_RE.match(slug):
        raise InvalidInput(f"slug {slug[:80]!r}: use 2-64 lower-case letters, digits and '-'")
    if session.exec(select(Design.id).where(Design.slug == slug)).first() is not None:
        raise Conflict(f"a design {slug!r} exists already; choose another slug for the fork")


def _forked_manifest(source: DesignVersion, source_slug: str, new_slug: str, name: str | None) -> dict:
    manifest: dict[str, Any] = copy.deepcopy(source.manifest)
    table = manifest.setdefault("design", {})
    table["slug"] = new_slug
    if name:
        table["name"] = name
    lineage = dict(table.get("lineage") or {})
    lineage["derivative-of"] = f"{source_slug}@{source.version}"
    table["lineage"] = lineage
    return manifest


def _valid_info(manifest: dict) -> DesignInfo:
    try:
        return DesignInfo.model_validate(manifest["design"])
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"the fork's [design] table is not valid: {problems}") from exc


def _store_manifest(store: FileStore, text: bytes) -> tuple[str, bool]:
    """Write the fork's design.toml to the store; return (sha256, whether the blob is new)."""
    with tempfile.NamedTemporaryFile(dir=store.root, prefix=".fork-", delete=False) as tmp:
        tmp.write(text)
    try:
        return store.put_file(Path(tmp.name))
    finally:
        Path(tmp.name).unlink(missing_ok=True)


def _copy_version(
    session: Session,
    source: DesignVersion,
    design: Design,
    manifest: dict,
    info: DesignInfo,
    manifest_sha: str,
    by: str,
) -> DesignVersion:
    from coordinator.services.designs import content_digest, version_row

    files = {
        f.path: f.sha256 for f in session.exec(select(VersionFile).where(VersionFile.version_id == source.id))
    }
    files[MANIFEST] = manifest_sha
    version = version_row(design, info, manifest, content_digest(files), by)
    session.add(version)
    session.flush()
    _copy_rows(session, source, version, files)
    session.flush()
    ledger.record_publish(session, design, version)
    return version


def _copy_rows(session: Session, source: DesignVersion, target: DesignVersion, files: dict[str, str]) -> None:
    for part in session.exec(select(Part).where(Part.version_id == source.id)):
        data = part.model_dump(exclude={"id", "version_id"})
        session.add(Part(version_id=target.id, **data))  # type: ignore[arg-type]
    for edge in session.exec(select(BomEdge).where(BomEdge.version_id == source.id)):
        session.add(
            BomEdge(version_id=target.id, parent=edge.parent, child=edge.child, quantity=edge.quantity)  # type: ignore[arg-type]
        )
    for path, sha in files.items():
        session.add(VersionFile(version_id=target.id, path=path, sha256=sha))  # type: ignore[arg-type]
