"""Links in an OKH manifest resolved to files of the project's clone.

OKH-LOSH: a path starting with '/' is relative to the repository root, any other path to the folder of
the manifest that names it. Both OKH versions also let a manifest link to its own repository by URL
(`https://github.com/owner/repo/blob/main/bom.csv`); such a link names the file beside the manifest
when the URL's repository is the project's own (its `repo`, `project-link` or `documentation-home`).
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

# owner/repo then the file path, per forge: GitHub, GitLab (and its '/-/' routes), Gitea/Forgejo.
_FORGE_FILE = (
    re.compile(r"^/(?P<repo>[^/]+/[^/]+)/(?:blob|tree|raw)/[^/]+/(?P<path>.+)$"),
    re.compile(r"^/(?P<repo>.+?)/-/(?:blob|tree|raw)/[^/]+/(?P<path>.+)$"),
    re.compile(r"^/(?P<repo>[^/]+/[^/]+)/(?:src|raw)/(?:branch|tag|commit)/[^/]+/(?P<path>.+)$"),
)
_RAW_GITHUB = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/[^/]+/(?P<path>.+)$")


def is_url(text: str) -> bool:
    """True for absolute links (https://..., ftp://...)."""
    return "://" in text and text.split("://", 1)[0].isalpha()


@dataclass(frozen=True)
class Resolved:
    """Where a link led: a local file, a URL elsewhere, or nothing, and a note for the user."""

    link: str
    path: Path | None = None
    url: str = ""
    note: str = ""

    @property
    def missing(self) -> bool:
        """A local path (or same-repository URL) that names no file."""
        return self.path is None and not self.url


@dataclass
class Project:
    """The clone a manifest sits in: its root folder and the repositories that are 'itself'."""

    root: Path
    identities: set[str] = field(default_factory=set)

    @classmethod
    def around(cls, manifest: Path, links: list[object]) -> Project:
        """The project of a manifest (its folder is the repository root, as OKH places it)."""
        root = manifest.resolve().parent
        project = cls(root)
        for link in [*links, *_git_remotes(root)]:
            if isinstance(link, str) and is_url(link):
                key = repo_key(link)
                if key:
                    project.identities.add(key)
        return project

    @property
    def is_clone(self) -> bool:
        """False when the manifest is alone in its folder: its links cannot be checked."""
        return sum(1 for _ in self.root.iterdir()) > 1

    def resolve(self, link: str, base: Path | None = None) -> Resolved:
        """A manifest link as a file of this project (base: the folder of the manifest naming it)."""
        text = link.strip()
        if is_url(text):
            relative = self._own_path(text)
            if relative is None:
                return Resolved(text, url=text)
            return self._local(text, relative, self.root, from_url=True)
        if text.startswith("/"):
            return self._local(text, text.lstrip("/"), self.root)
        return self._local(text, text, base or self.root)

    def _own_path(self, url: str) -> str | None:
        parts = urlsplit(url)
        host = parts.netloc.lower()
        patterns = (_RAW_GITHUB,) if host == "raw.githubusercontent.com" else _FORGE_FILE
        for pattern in patterns:
            match = pattern.match(parts.path)
            if match is None:
                continue
            key = _normal_key(
                "github.com" if host == "raw.githubusercontent.com" else host, match.group("repo")
            )
            if key in self.identities:
                return unquote(match.group("path")).strip("/")
        return None

    def _local(self, link: str, relative: str, base: Path, from_url: bool = False) -> Resolved:
        candidate = (base / relative).resolve()
        if not candidate.is_relative_to(self.root):
            return Resolved(link, note=f"{link!r} leaves the project folder")
        if candidate.is_file():
            note = f"{link!r} is this project's own file {_shown(candidate, self.root)}" if from_url else ""
            return Resolved(link, path=candidate, note=note)
        found = _case_insensitive(self.root, candidate)
        if found is not None:
            return Resolved(
                link, path=found, note=f"{link!r} read as {_shown(found, self.root)} (case differs)"
            )
        return Resolved(link, note=f"{link!r} names no file in {self.root}")


def repo_key(url: str) -> str | None:
    """'github.com/owner/repo' for a repository URL or a URL of a file in it."""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower()
    segments = [s for s in parts.path.split("/") if s]
    if host == "raw.githubusercontent.com":
        host = "github.com"
    if "-" in segments:
        segments = segments[: segments.index("-")]
    if host.endswith("github.com") or host in ("codeberg.org",) or len(segments) == 2:
        segments = segments[:2]
    if len(segments) < 2:
        return None
    return _normal_key(host, "/".join(segments))


def _normal_key(host: str, repo: str) -> str:
    repo = repo.lower().strip("/").removesuffix(".git")
    return f"{host.removeprefix('www.')}/{repo}"


def _git_remotes(root: Path) -> list[str]:
    config = root / ".git" / "config"
    if not config.is_file():
        return []
    parser = configparser.ConfigParser(strict=False)
    try:
        parser.read(config, encoding="utf-8")
    except configparser.Error:
        return []
    urls = [parser.get(s, "url", fallback="") for s in parser.sections() if s.startswith("remote")]
    return [_ssh_to_https(u) for u in urls if u]


def _ssh_to_https(url: str) -> str:
    match = re.match(r"^git@([^:]+):(.+)$", url)
    return f"https://{match.group(1)}/{match.group(2)}" if match else url


def _case_insensitive(root: Path, wanted: Path) -> Path | None:
    current = root
    for name in wanted.relative_to(root).parts:
        if not current.is_dir():
            return None
        matches = [p for p in current.iterdir() if p.name.casefold() == name.casefold()]
        if len(matches) != 1:
            return None
        current = matches[0]
    return current if current.is_file() else None


def _shown(path: Path, root: Path) -> str:
    return "/" + path.relative_to(root).as_posix()
