"""Design packages on disk: a folder or an archive with design.toml, loaded and checked."""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coordinator.bom.archive import ArchiveLimits, WatcherFactory, extract_archive, package_root, remove_tree
from coordinator.bom.checks import CheckResult, Problem, check_manifest
from coordinator.bom.graph import Bom
from coordinator.bom.manifest import DesignInfo
from coordinator.limits import too_large
from coordinator.mesh.counting import stream_counter
from protocol.errors import InvalidInput

MANIFEST = "design.toml"
DEFAULT_LIMITS = ArchiveLimits(max_unpacked_bytes=1_000_000_000, max_members=5000)
# A manifest of 10,000 parts is about 2 MB; nothing legitimate nests deeper than a few tables.
MAX_MANIFEST_BYTES = 4_000_000
MAX_NESTING = 16


@dataclass
class DesignPackage:
    """A loaded package: where it is, what the manifest says, and every problem found."""

    path: Path
    raw: dict
    check: CheckResult
    # what messages call the package: the folder given, or the archive's name (never a temporary path)
    label: str = ""

    @property
    def problems(self) -> list[Problem]:
        return self.check.problems

    @property
    def errors(self) -> list[Problem]:
        return self.check.errors

    @property
    def ok(self) -> bool:
        return not self.check.errors

    @property
    def info(self) -> DesignInfo:
        if self.check.info is None or not self.ok:
            raise InvalidInput(self.error_report())
        return self.check.info

    @property
    def ref(self) -> str:
        info = self.check.info
        return f"{info.slug}@{info.version}" if info else self.name

    @property
    def name(self) -> str:
        return self.label or str(self.path)

    def bom(self) -> Bom:
        """The BOM of a valid package."""
        return Bom.from_parts(self.info.root, self.check.parts)

    def files(self) -> dict[str, Path]:
        """Every regular file of the package by its relative POSIX path (design.toml included)."""
        base = self.path.resolve()
        return {
            p.relative_to(base).as_posix(): p
            for p in sorted(base.rglob("*"))
            if p.is_file() and not p.is_symlink()
        }

    def error_report(self) -> str:
        lines = [f"{self.name}: {len(self.errors)} problem(s)"]
        lines += [f"  - {problem.message}" for problem in self.errors]
        return "\n".join(lines)


def load_package(folder: Path, label: str = "") -> DesignPackage:
    """Read and check the package in `folder`; problems are collected, not raised."""
    folder = Path(folder)
    label = label or str(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise InvalidInput(f"{label}: no {MANIFEST} found")
    raw = read_manifest(manifest, f"{label}: {MANIFEST}")
    return DesignPackage(path=folder, raw=raw, check=check_manifest(raw, folder), label=label)


def read_manifest(path: Path, label: str) -> dict:
    """Parse design.toml after checking its size; its nesting is bounded too."""
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise too_large(
            f"{label} is {size:,} bytes, more than {MAX_MANIFEST_BYTES:,}",
            "design.toml size", MAX_MANIFEST_BYTES, size,
        )  # fmt: skip
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{label}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{label}: invalid TOML: {exc}") from exc
    except RecursionError as exc:
        raise InvalidInput(f"{label}: nests arrays or tables more than {MAX_NESTING} deep") from exc
    depth = nesting_depth(raw)
    if depth > MAX_NESTING:
        raise InvalidInput(f"{label}: nests arrays or tables {depth} deep, more than {MAX_NESTING}")
    return raw


def nesting_depth(value: object) -> int:
    """How deep tables and arrays nest in a parsed document (iteratively: any depth is safe)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            items = list(item.values())
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in items)
    return deepest


@contextmanager
def open_package(
    source: Path,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    name: str = "",
    max_triangles: int | None = None,
    workdir: Path | None = None,
) -> Iterator[DesignPackage]:
    """Load a package from a folder or an archive; an archive is unpacked to a temporary folder.

    With `max_triangles`, a mesh member over it stops the extraction as soon as its bytes show it.
    """
    source = Path(source)
    if source.is_dir():
        yield load_package(source)
        return
    if not source.is_file():
        raise InvalidInput(f"{source}: no such file or folder")
    label = name or source.name
    unpacked = Path(tempfile.mkdtemp(prefix="peerfab-unpack-", dir=workdir))
    try:
        extract_archive(source, unpacked, limits, name=label, watch=_mesh_watcher(max_triangles))
        yield load_package(package_root(unpacked), label=label)
    finally:
        remove_tree(unpacked)


def _mesh_watcher(max_triangles: int | None) -> WatcherFactory | None:
    if max_triangles is None:
        return None
    limit = max_triangles
    return lambda member, size: stream_counter(member, size, limit)
