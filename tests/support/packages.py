"""Small design packages written by the tests themselves."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import tomli_w
import trimesh


def box_stl(size: tuple[float, float, float] = (20, 10, 5)) -> bytes:
    """A watertight binary STL box."""
    return trimesh.creation.box(extents=size).export(file_type="stl")  # type: ignore[no-any-return]


def default_parts() -> list[dict[str, Any]]:
    return [
        {"id": "frame", "kind": "assembly", "name": "Frame", "labour-h": 2.0,
         "children": [{"part": "bracket", "quantity": 4}, {"part": "bolt", "quantity": 8},
                      {"part": "rail", "quantity": 2}]},
        {"id": "root", "kind": "assembly", "name": "Machine",
         "children": [{"part": "frame", "quantity": 1}, {"part": "bolt", "quantity": 4}]},
        {"id": "bracket", "kind": "fabricated", "name": "Bracket", "process": "fdm_print",
         "material": "PLA", "file": "files/bracket.stl"},
        {"id": "rail", "kind": "purchased", "name": "Rail 300 mm", "supplier": "Misumi",
         "mpn": "SSE2B-300", "unit-cost": 12.5, "lead-time-days": 5},
        {"id": "bolt", "kind": "purchased", "name": "M3x10", "unit-cost": 0.05, "currency": "EUR"},
    ]  # fmt: skip


def write_package(
    folder: Path,
    *,
    slug: str = "test-machine",
    version: str = "1.0.0",
    parts: list[dict[str, Any]] | None = None,
    root: str = "root",
    files: dict[str, bytes] | None = None,
    design_extra: dict[str, Any] | None = None,
) -> Path:
    """Write design.toml and its files into `folder`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    design = {
        "name": "Test machine", "slug": slug, "version": version, "licenses": ["CERN-OHL-S-2.0"],
        "authors": ["Test Designer"], "description": "A small machine for tests.", "root": root,
        **(design_extra or {}),
    }  # fmt: skip
    manifest = {"design": design, "part": parts if parts is not None else default_parts()}
    (folder / "design.toml").write_text(tomli_w.dumps(manifest))
    for rel, data in (files if files is not None else {"files/bracket.stl": box_stl()}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def tar_gz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file():
                archive.add(item, arcname=item.relative_to(folder).as_posix())
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_members(members: dict[str, bytes]) -> bytes:
    """A .tar.gz of exactly these members (names as given, even unusual ones)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
