"""Design packages on disk: a folder or an archive with design.toml, loaded and checked."""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coordinator.bom.archive import ArchiveLimits, extract_archive, package_root, remove_tree
from coordinator.bom.checks import CheckResult, Problem, check_manifest
from coordinator.bom.graph import Bom
from coordinator.bom.manifest import DesignInfo
from protocol.errors import InvalidInput

MANIFEST = "design.toml"
DEFAULT_LIMITS = ArchiveLimits(max_unpacked_bytes=1_000_000_000, max_members=5000)


@dataclass
class DesignPackage:
    """A loaded package: where it is, what the manifest says, and every problem found."""

    path: Path
    raw: dict
    check: CheckResult

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
        return f"{info.slug}@{info.version}" if info else str(self.path)

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
        lines = [f"{self.path}: {len(self.errors)} problem(s)"]
        lines += [f"  - {problem.message}" for problem in self.errors]
        return "\n".join(lines)


def load_package(folder: Path) -> DesignPackage:
    """Read and check the package in `folder`; problems are collected, not raised."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise InvalidInput(f"{folder}: no {MANIFEST} found")
    try:
        raw = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{manifest}: not UTF-8 text ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{manifest}: invalid TOML: {exc}") from exc
    return DesignPackage(path=folder, raw=raw, check=check_manifest(raw, folder))


@contextmanager
def open_package(
    source: Path, limits: ArchiveLimits = DEFAULT_LIMITS, name: str = ""
) -> Iterator[DesignPackage]:
    """Load a package from a folder or an archive; an archive is unpacked to a temporary folder."""
    source = Path(source)
    if source.is_dir():
        yield load_package(source)
        return
    if not source.is_file():
        raise InvalidInput(f"{source}: no such file or folder")
    workdir = Path(tempfile.mkdtemp(prefix="peerfab-unpack-"))
    try:
        extract_archive(source, workdir, limits, name=name or source.name)
        yield load_package(package_root(workdir))
    finally:
        remove_tree(workdir)
