"""Fetch a job file over HTTP into the agent's data directory, and prove it is the file offered."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path, PurePosixPath

import requests

from protocol.payloads import FileRef

SUFFIX_RE = re.compile(r"^\.[a-z0-9]{1,8}$")

CHUNK = 64 * 1024


class DownloadError(Exception):
    """The file could not be fetched or is not the one offered; the message is the rejection reason."""


def fetch(
    ref: FileRef,
    folder: Path,
    *,
    max_bytes: int,
    timeout_s: float,
    token: str | None = None,
) -> Path:
    """Download `ref` into `folder/<sha256><suffix>`, streaming; a cached, verified copy is reused.

    Only the offered name's suffix is kept (it says what kind of file it is); the name itself
    never reaches the file system, so it cannot lead out of the folder.
    """
    if ref.size > max_bytes:
        raise DownloadError(f"file is {ref.size} bytes, above the agent's limit of {max_bytes}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{ref.sha256}{safe_suffix(ref.name)}"
    if target.is_file() and sha256_of(target) == ref.sha256:
        return target
    # each download writes its own partial file: two machines of one agent may fetch the same
    # part at once, and the second to finish then replaces the first's copy with the same bytes
    partial = folder / f"{ref.sha256}.{secrets.token_hex(4)}.part"
    try:
        digest = _stream(ref.url, partial, max_bytes=max_bytes, timeout_s=timeout_s, token=token)
        if digest != ref.sha256:
            raise DownloadError(f"sha256 mismatch: offered {ref.sha256}, downloaded {digest}")
        os.replace(partial, target)
    except OSError as exc:
        raise DownloadError(f"could not store the file in {folder}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stream(url: str, target: Path, *, max_bytes: int, timeout_s: float, token: str | None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    digest = hashlib.sha256()
    received = 0
    try:
        with requests.get(url, headers=headers, stream=True, timeout=timeout_s) as response:
            if response.status_code != 200:
                raise DownloadError(f"download failed: HTTP {response.status_code} from {url}")
            with target.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise DownloadError(f"download exceeds the agent's limit of {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
    except requests.RequestException as exc:
        raise DownloadError(f"download failed: {exc}") from exc
    return digest.hexdigest()


def safe_suffix(name: str) -> str:
    """'part.GCODE' -> '.gcode'; anything odd in a suffix drops it."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    return suffix if SUFFIX_RE.match(suffix) else ""
