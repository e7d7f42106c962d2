"""Content-addressed file store: files/<aa>/<sha256>, written atomically, shared by every version."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from protocol.errors import InvalidInput, NotFound

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FileStore:
    """Blobs keyed by their sha256; a blob is written once and never changed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256):
            raise InvalidInput(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        path = self.path_for(sha256)
        if not path.is_file():
            raise NotFound(f"no file with sha256 {sha256}")
        return path.open("rb")

    def put_file(self, source: Path) -> tuple[str, bool]:
        """Store a copy of `source`; return (sha256, whether it was new)."""
        digest = sha256_file(source)
        target = self.path_for(digest)
        if target.is_file():
            return digest, False
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    out.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, True

    def remove(self, digests: Iterable[str]) -> None:
        """Delete blobs (used to undo the new blobs of a failed publish)."""
        for digest in digests:
            self.path_for(digest).unlink(missing_ok=True)
