"""Safe extraction of uploaded design archives (.zip, .tar.gz): limits checked before and while reading.

Every size rule is checked on what the headers declare before a member is written, and again on the
bytes actually produced while it is written, so no byte is ever written past a limit: a member that
would cross one is refused before its first byte (or at the chunk that crosses it, if its header lied).
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

from coordinator.bom.text import check_name
from coordinator.limits import too_large
from protocol.errors import InvalidInput

CHUNK = 1 << 20
MB = 1_000_000


class MemberWatcher(Protocol):
    """Sees a member's bytes as they are unpacked, and raises to stop the extraction."""

    def feed(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


# name and declared size of a member -> a watcher for it, or None
WatcherFactory = Callable[[str, int], MemberWatcher | None]


@dataclass(frozen=True)
class ArchiveLimits:
    max_unpacked_bytes: int
    max_members: int
    # Unpacked bytes per archive byte. Real design files compress up to about 18:1 (ASCII STL, SVG);
    # a zip bomb reaches 1000:1. Below `ratio_grace_bytes` in total the ratio is not applied, so a
    # small, very regular file (a blank bitmap) still passes.
    max_ratio: float = 50.0
    ratio_grace_bytes: int = 10 * MB


def archive_kind(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".zip"):
        return "zip"
    if lower.endswith((".tar.gz", ".tgz", ".tar")):
        return "tar"
    raise InvalidInput(f"{name}: not a design archive (use .zip or .tar.gz)")


def extract_archive(
    source: Path, target: Path, limits: ArchiveLimits, name: str = "", watch: WatcherFactory | None = None
) -> None:
    """Extract `source` into the empty folder `target`, refusing anything unsafe or too large."""
    label = name or source.name
    kind = archive_kind(label)
    budget = _Budget(limits, label, source.stat().st_size)
    extractor = _Extractor(target, budget, label, watch)
    try:
        if kind == "zip":
            extractor.zip(source)
        else:
            extractor.tar(source)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise InvalidInput(f"{label}: not a readable {kind} archive ({type(exc).__name__})") from exc


class _Budget:
    """Members, total unpacked bytes and the unpacked-to-packed ratio of one archive."""

    def __init__(self, limits: ArchiveLimits, label: str, archive_bytes: int) -> None:
        self.limits, self.label = limits, label
        self.bytes, self.members = 0, 0
        self.allowed = min(
            limits.max_unpacked_bytes,
            max(limits.ratio_grace_bytes, int(limits.max_ratio * max(archive_bytes, 1))),
        )
        self.ratio_bound = self.allowed < limits.max_unpacked_bytes
        self.archive_bytes = archive_bytes

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise too_large(
                f"{self.label}: more than {self.limits.max_members} members",
                "limits.max_members", self.limits.max_members, self.members,
            )  # fmt: skip

    def expect(self, declared: int) -> None:
        """Refuse a member whose declared size would cross a limit, before writing any of it."""
        self._check(self.bytes + declared)

    def spend(self, count: int) -> None:
        self._check(self.bytes + count)
        self.bytes += count

    def _check(self, total: int) -> None:
        if total <= self.allowed:
            return
        if self.ratio_bound:
            ratio = total / max(self.archive_bytes, 1)
            raise too_large(
                f"{self.label}: unpacks to more than {self.limits.max_ratio:g} times its "
                f"{self.archive_bytes:,} bytes (at least {ratio:.0f} times): refused as a zip bomb",
                "limits.max_ratio", self.limits.max_ratio, round(ratio, 1),
            )  # fmt: skip
        mb = self.limits.max_unpacked_bytes / MB
        raise too_large(
            f"{self.label}: unpacks to more than {mb:g} MB (at least {total / MB:.1f} MB)",
            "limits.max_unpacked_mb", mb, round(total / MB, 1),
        )  # fmt: skip


def safe_member_path(target: Path, member: str, label: str) -> Path:
    """The path a member would be written to, refusing absolute paths, '..' and unprintable names."""
    check_name(member, f"{label}: member name")
    posix = PurePosixPath(member.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or member.startswith(("/", "\\")) or ":" in posix.parts[0]:
        raise InvalidInput(f"{label}: member {member!r} would be written outside the package")
    path = (target / posix).resolve()
    if not path.is_relative_to(target.resolve()):
        raise InvalidInput(f"{label}: member {member!r} would be written outside the package")
    return path


class _Extractor:
    def __init__(self, target: Path, budget: _Budget, label: str, watch: WatcherFactory | None) -> None:
        self.target, self.budget, self.label, self.watch = target, budget, label, watch
        self.seen: dict[str, str] = {}

    def place(self, member: str, folder: bool = False) -> Path:
        """Where a member goes; two files for one path (in any letter case) are refused.

        With two, which one wins depends on the tool that unpacks: a reviewer's could show one
        design.toml and the coordinator publish the other. A folder may be listed more than once.
        """
        path = safe_member_path(self.target, member, self.label)
        if folder:
            return path
        key = path.relative_to(self.target.resolve()).as_posix().casefold()
        if key in self.seen:
            raise InvalidInput(
                f"{self.label}: {member!r} appears twice in the archive (as {self.seen[key]!r} too); "
                "an archive may hold each path once"
            )
        self.seen[key] = member
        return path

    def zip(self, source: Path) -> None:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            self._precheck_zip(infos)
            for info in infos:
                self.budget.member()
                path = self.place(info.filename, info.is_dir())
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise InvalidInput(f"{self.label}: member {info.filename!r} is a symbolic link")
                if info.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                self.budget.expect(info.file_size)
                with archive.open(info) as src:
                    self.copy(src, path, info.filename, info.file_size)

    def _precheck_zip(self, infos: list[zipfile.ZipInfo]) -> None:
        """The central directory's sizes, checked before anything is written."""
        if len(infos) > self.budget.limits.max_members:
            limit = self.budget.limits.max_members
            raise too_large(
                f"{self.label}: more than {limit} members", "limits.max_members", limit, len(infos)
            )
        self.budget.expect(sum(info.file_size for info in infos))

    def tar(self, source: Path) -> None:
        with tarfile.open(source, "r:*") as archive:
            for member in archive:
                self.budget.member()
                path = self.place(member.name, member.isdir())
                if member.issym() or member.islnk():
                    raise InvalidInput(f"{self.label}: member {member.name!r} is a link")
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    self.budget.expect(member.size)
                    src = archive.extractfile(member)
                    assert src is not None
                    with src:
                        self.copy(src, path, member.name, member.size)
                else:
                    raise InvalidInput(f"{self.label}: member {member.name!r} is not a regular file")

    def copy(self, src: IO[bytes], dest: Path, name: str, declared: int) -> None:
        """Write one member, spending the budget (and showing the watcher) before each chunk."""
        watcher = self.watch(name, declared) if self.watch else None
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as out:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                self.budget.spend(len(chunk))
                if watcher is not None:
                    watcher.feed(chunk)
                out.write(chunk)
        if watcher is not None:
            watcher.close()


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
