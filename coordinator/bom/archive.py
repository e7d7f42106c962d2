"""Safe extraction of uploaded design archives (.zip, .tar.gz): limits checked while reading."""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from protocol.errors import InvalidInput, PayloadTooLarge

CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    max_unpacked_bytes: int
    max_members: int


def archive_kind(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".tar.gz", ".tgz", ".tar")):
        return "tar"
    raise InvalidInput(f"{name}: not a design archive (use .zip or .tar.gz)")


def extract_archive(source: Path, target: Path, limits: ArchiveLimits, name: str = "") -> None:
    """Extract `source` into the empty folder `target`, refusing anything unsafe or too large."""
    label = name or source.name
    kind = archive_kind(label)
    budget = _Budget(limits, label)
    try:
        if kind == "zip":
            _extract_zip(source, target, budget, label)
        else:
            _extract_tar(source, target, budget, label)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidInput(f"{label}: not a readable {kind} archive: {exc}") from exc


class _Budget:
    def __init__(self, limits: ArchiveLimits, label: str) -> None:
        self.limits, self.label, self.bytes, self.members = limits, label, 0, 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise PayloadTooLarge(f"{self.label}: more than {self.limits.max_members} members")

    def spend(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.limits.max_unpacked_bytes:
            mb = self.limits.max_unpacked_bytes / 1e6
            raise PayloadTooLarge(f"{self.label}: unpacks to more than {mb:g} MB")


def safe_member_path(target: Path, member: str, label: str) -> Path:
    """The path a member would be written to, refusing absolute paths and '..'."""
    posix = PurePosixPath(member.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or member.startswith(("/", "\\")) or ":" in posix.parts[0]:
        raise InvalidInput(f"{label}: member {member!r} would be written outside the package")
    path = (target / posix).resolve()
    if not path.is_relative_to(target.resolve()):
        raise InvalidInput(f"{label}: member {member!r} would be written outside the package")
    return path


def _copy_limited(src: IO[bytes], dest: Path, budget: _Budget) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("wb") as out:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            budget.spend(len(chunk))
            out.write(chunk)


def _extract_zip(source: Path, target: Path, budget: _Budget, label: str) -> None:
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            budget.member()
            path = safe_member_path(target, info.filename, label)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InvalidInput(f"{label}: member {info.filename!r} is a symbolic link")
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            with archive.open(info) as src:
                _copy_limited(src, path, budget)


def _extract_tar(source: Path, target: Path, budget: _Budget, label: str) -> None:
    with tarfile.open(source, "r:*") as archive:
        for member in archive:
            budget.member()
            path = safe_member_path(target, member.name, label)
            if member.issym() or member.islnk():
                raise InvalidInput(f"{label}: member {member.name!r} is a link")
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                src = archive.extractfile(member)
                assert src is not None
                with src:
                    _copy_limited(src, path, budget)
            else:
                raise InvalidInput(f"{label}: member {member.name!r} is not a regular file")


def package_root(extracted: Path) -> Path:
    """design.toml at the top, or inside a single top-level folder."""
    if (extracted / "design.toml").is_file():
        return extracted
    entries = [p for p in extracted.iterdir() if p.name not in {"__MACOSX"}]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / "design.toml").is_file():
        return entries[0]
    raise InvalidInput("archive has no design.toml at its top or in a single top-level folder")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
