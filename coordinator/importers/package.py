"""Build design manifests and write them out as design packages (design.toml + files/)."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from coordinator.bom.package import load_package
from coordinator.importers.model import ImportedDesign, PurchasedPart
from coordinator.importers.naming import IdAllocator, design_slug, design_version
from protocol.errors import InvalidInput


@dataclass
class DesignInfo:
    """The `[design]` table of a package."""

    name: str
    slug: str
    version: str
    licenses: list[str]
    authors: list[str] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    description: str = ""
    homepage: str = ""
    version_label: str = ""
    draft: str = ""
    lineage: dict[str, str] = field(default_factory=dict)
    # The root assembly's id, name, labour-h and assembled-at when the source names them.
    root_part: dict[str, Any] = field(default_factory=dict)

    def table(self, root: str) -> dict[str, Any]:
        """The TOML table, with empty optional fields left out."""
        table: dict[str, Any] = {
            "name": self.name,
            "slug": self.slug,
            "version": self.version,
            "licenses": self.licenses,
            "authors": self.authors,
            "contributors": self.contributors,
            "description": self.description,
        }
        optional = {
            "root": root, "homepage": self.homepage, "version-label": self.version_label,
            "draft": self.draft, "lineage": self.lineage,
        }  # fmt: skip
        table.update({key: value for key, value in optional.items() if value})
        return table


class PartsBuilder:
    """Collects parts with unique ids and the assembly edges between them."""

    def __init__(self) -> None:
        self.ids = IdAllocator()
        self.parts: dict[str, dict[str, Any]] = {}

    def add(self, base_id: str, part: dict[str, Any]) -> str:
        """Add a part under a fresh id made from base_id; return the id."""
        ident = self.ids.take(base_id)
        # Names are capped at 200 characters by the design format.
        table = {"id": ident, **part}
        table["name"] = str(part["name"])[:200]
        self.parts[ident] = table
        return ident

    def assembly(self, base_id: str, name: str) -> str:
        """Add an empty assembly; return its id."""
        return self.add(base_id, {"kind": "assembly", "name": name, "children": []})

    def link(self, assembly: str, child: str, quantity: int | float) -> None:
        """Put quantity of child in one unit of assembly, adding up repeated lines."""
        children: list[dict[str, Any]] = self.parts[assembly]["children"]
        for edge in children:
            if edge["part"] == child:
                edge["quantity"] += quantity
                return
        children.append({"part": child, "quantity": quantity})

    def tables(self, root: str) -> list[dict[str, Any]]:
        """All part tables, root first."""
        return [self.parts[root], *(p for i, p in self.parts.items() if i != root)]


def package_purchased(
    parts: Sequence[PurchasedPart],
    *,
    name: str,
    licenses: Sequence[str],
    slug: str | None = None,
    version: str | None = None,
    authors: Sequence[str] = (),
    description: str = "",
    source: Path | None = None,
) -> ImportedDesign:
    """A package of one assembly (a board, a kit) holding every purchased part once."""
    warnings: list[str] = []
    if not licenses:
        raise InvalidInput("a design needs at least one licence (pass --license)")
    info = DesignInfo(
        name=name,
        slug=design_slug(name, slug, "--name"),
        version=design_version(None, version, "--version", warnings) if version else "0.1.0",
        licenses=list(licenses),
        authors=list(authors),
        description=description or f"{name}: {len(parts)} purchased parts",
    )
    builder = PartsBuilder()
    root = builder.assembly(info.slug, name)
    for part in parts:
        table = part.to_part()
        del table["id"]
        builder.link(root, builder.add(part.id, table), part.quantity)
    imported = ImportedDesign(manifest={}, warnings=warnings)
    if source is not None:
        imported.files[f"imported/{source.name}"] = source
    imported.manifest = {"design": info.table(root), "part": builder.tables(root)}
    return imported


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_package(imported: ImportedDesign, out_dir: Path, force: bool = False) -> Path:
    """Write design.toml and copy the files; nothing is left behind if anything fails."""

    def fill(staging: Path) -> None:
        _fill(staging, imported)
        _check_written(staging, out_dir)

    return write_folder(out_dir, fill, force)


def write_folder(out_dir: Path, fill: Callable[[Path], object], force: bool = False) -> Path:
    """Fill a hidden staging folder beside out_dir, then move it into place; on failure nothing stays."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InvalidInput(f"{out_dir}: folder is not empty (pass --force to replace it)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # mkdir (unlike mkdtemp) honours the umask, so the package gets ordinary permissions.
    staging = out_dir.parent / f".{out_dir.name}.{secrets.token_hex(6)}.tmp"
    staging.mkdir()
    try:
        fill(staging)
        _swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _fill(staging: Path, imported: ImportedDesign) -> None:
    for package_path, source in imported.files.items():
        target = staging / package_path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(source, target)
        except OSError as exc:
            raise InvalidInput(f"{source}: cannot copy into the package ({exc.strerror})") from exc
    (staging / "design.toml").write_text(manifest_text(imported.manifest), encoding="utf-8")


def _check_written(staging: Path, out_dir: Path) -> None:
    """Refuse to leave a package behind that `peerfab design validate` would reject."""
    package = load_package(staging)
    if not package.ok:
        problems = "; ".join(p.message for p in package.errors)
        raise InvalidInput(f"{out_dir}: the package made from this input does not validate: {problems}")


def manifest_text(manifest: dict[str, Any]) -> str:
    """design.toml text written by the TOML library: [design] first, then every [[part]]."""
    document: dict[str, Any] = {"design": manifest["design"]}
    if manifest.get("part"):
        document["part"] = manifest["part"]
    return tomli_w.dumps(document)


def _swap_in(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    # The old folder is moved aside, not deleted, until the new one is in place.
    retired = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    os.replace(out_dir, retired)
    try:
        os.replace(staging, out_dir)
    except OSError:
        os.replace(retired, out_dir)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def package_files_path(relative: str, prefix: str = "files") -> str:
    """The '/'-separated path a manifest-relative file gets inside the package."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join([prefix, *parts])
