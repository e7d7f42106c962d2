"""Mesh preview images of stored files, rendered once per file and kept by content hash."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from sqlmodel import Session, col, select

from coordinator.dashboard.svg_mesh import render_mesh_svg
from coordinator.filestore import FileStore
from coordinator.mesh.analysis import MESH_TYPES, load_mesh
from coordinator.models.designs import VersionFile
from protocol.errors import NotFound

# bump when the renderer's output changes, so cached previews are redrawn
RENDER_VERSION = 1


def mesh_type(session: Session, sha256: str) -> str:
    """The mesh format of a stored file, from the name it was published under."""
    paths = session.exec(select(VersionFile.path).where(col(VersionFile.sha256) == sha256)).all()
    for path in paths:
        suffix = PurePosixPath(path).suffix.lower().lstrip(".")
        if suffix in MESH_TYPES:
            return suffix
    raise NotFound(f"no mesh file with sha256 {sha256} (previews exist for {', '.join(MESH_TYPES)})")


def has_preview(path: str | None) -> bool:
    return bool(path) and PurePosixPath(path or "").suffix.lower().lstrip(".") in MESH_TYPES


def preview_path(cache_dir: Path, store: FileStore, sha256: str, file_type: str) -> Path:
    """The cached SVG preview of a stored mesh, rendered now if it is not there yet."""
    target = cache_dir / f"{sha256}-r{RENDER_VERSION}.svg"
    if target.is_file():
        return target
    mesh = load_mesh(store.path_for(sha256), file_type=file_type)
    closed = bool(mesh.is_watertight and mesh.is_winding_consistent)
    preview = render_mesh_svg(
        mesh.vertices, mesh.faces, closed=closed, title=f"Preview of mesh {sha256[:12]}"
    )
    _write_atomically(target, preview.svg)
    return target


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".render-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
