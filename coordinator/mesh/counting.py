"""Triangle counts from a mesh file's header or one streaming pass over its bytes, before any loading.

Loading a mesh costs about 600 bytes of memory and 30 us per triangle; counting costs nothing of the
kind, so an oversized mesh is refused in the time it takes to read its header (binary STL, PLY) or
to stream its bytes once (ASCII STL, OBJ, 3MF), and never loaded.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from coordinator.limits import too_large
from protocol.errors import InvalidInput

CHUNK = 1 << 20
STL_HEADER = 84
STL_TRIANGLE = 50
_VERTEX = b"vertex"
# a 3MF <triangle .../> element, with or without a namespace prefix
_3MF_TRIANGLE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?triangle[\s/>]")
_OBJ_FACE = re.compile(rb"^f[ \t]+([^\n]*)", re.MULTILINE)
_PLY_FACES = re.compile(rb"^element[ \t]+face[ \t]+(\d+)[ \t]*\r?$", re.MULTILINE)
_PLY_END = b"end_header"


class TriangleCounter:
    """Counts triangles from bytes as they stream past, and refuses the mesh once over `limit`."""

    def __init__(self, label: str, limit: int) -> None:
        self.label, self.limit, self.count = label, limit, 0

    def feed(self, chunk: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """The end of the file: the count is final."""

    def add(self, triangles: int, exact: bool = False) -> None:
        """Count more triangles; `exact` when the file's header declares the whole count."""
        self.count += triangles
        if self.count > self.limit:
            many = f"{self.count:,}" if exact else f"at least {self.count:,}"
            raise too_large(
                f"{self.label} has {many} triangles, more than the limit of {self.limit:,}; "
                "simplify the mesh or split the part",
                "limits.max_triangles", self.limit, self.count,
            )  # fmt: skip


class StlCounter(TriangleCounter):
    """Binary STL: the header's count, trusted only when the size agrees; ASCII STL: 'vertex' / 3.

    These are trimesh's own rules for telling the two apart and for reading ASCII facets.
    """

    def __init__(self, label: str, limit: int, size: int) -> None:
        super().__init__(label, limit)
        self.size, self.head, self.vertices, self.tail = size, b"", 0, b""
        self.binary: bool | None = None

    def feed(self, chunk: bytes) -> None:
        if self.binary is None:
            self.head += chunk
            if len(self.head) < STL_HEADER and len(self.head) < self.size:
                return
            chunk, self.head = self.head, b""
            (declared,) = struct.unpack_from("<I", chunk.ljust(STL_HEADER, b"\0"), 80)
            self.binary = STL_HEADER + STL_TRIANGLE * declared == self.size
            if self.binary:
                self.add(declared, exact=True)
        if not self.binary:
            self._scan(chunk)

    def _scan(self, chunk: bytes) -> None:
        text = self.tail + chunk.lower()
        self.vertices += text.count(_VERTEX)
        # "vertex" has no prefix that is also its suffix, so a kept partial keyword is never one
        # already counted
        self.tail = text[-(len(_VERTEX) - 1) :]
        self.add(self.vertices // 3 - self.count)


class ObjCounter(TriangleCounter):
    """Wavefront OBJ: a face of k corners is k - 2 triangles."""

    def __init__(self, label: str, limit: int) -> None:
        super().__init__(label, limit)
        self.rest = b""

    def feed(self, chunk: bytes) -> None:
        text = self.rest + chunk
        cut = text.rfind(b"\n") + 1
        self.rest = text[cut:]
        self._faces(text[:cut])

    def close(self) -> None:
        self._faces(self.rest + b"\n")
        self.rest = b""

    def _faces(self, text: bytes) -> None:
        self.add(sum(max(len(corners.split()) - 2, 0) for corners in _OBJ_FACE.findall(text)))


class PlyCounter(TriangleCounter):
    """PLY: the face count of the header (ASCII or binary body alike)."""

    def __init__(self, label: str, limit: int) -> None:
        super().__init__(label, limit)
        self.header, self.done = b"", False

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        self.header += chunk
        end = self.header.find(_PLY_END)
        if end < 0 and len(self.header) < CHUNK:
            return
        self.done = True
        for faces in _PLY_FACES.findall(self.header[: end if end >= 0 else CHUNK]):
            self.add(int(faces), exact=True)


def stream_counter(name: str, size: int, limit: int, label: str | None = None) -> TriangleCounter | None:
    """A counter for a mesh file that can be counted as it streams; None for other files."""
    kind = PurePosixPath(name).suffix.lower()
    label = label or name
    if kind == ".stl":
        return StlCounter(label, limit, size)
    if kind == ".obj":
        return ObjCounter(label, limit)
    if kind == ".ply":
        return PlyCounter(label, limit)
    return None


def check_triangles(path: Path, limit: int, label: str, max_unpacked_bytes: int) -> int:
    """The triangle count of a mesh file on disk; refuse it (413) over `limit`, never loading it."""
    if path.suffix.lower() == ".3mf":
        return _count_3mf(path, limit, label, max_unpacked_bytes)
    counter = stream_counter(path.name, path.stat().st_size, limit, label)
    if counter is None:
        return 0
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            counter.feed(chunk)
    counter.close()
    return counter.count


def _count_3mf(path: Path, limit: int, label: str, max_unpacked_bytes: int) -> int:
    """3MF is a zip of XML: its models are streamed through the element count, bounded in size."""
    counter = TriangleCounter(label, limit)
    try:
        with zipfile.ZipFile(path) as package:
            models = [i for i in package.infolist() if i.filename.lower().endswith(".model")]
            declared = sum(i.file_size for i in models)
            if declared > max_unpacked_bytes:
                raise too_large(
                    f"{label}: its models unpack to {declared / 1e6:.1f} MB, more than "
                    f"{max_unpacked_bytes / 1e6:g} MB", "limits.max_unpacked_mb",
                    max_unpacked_bytes / 1e6, round(declared / 1e6, 1),
                )  # fmt: skip
            for info in models:
                with package.open(info) as model:
                    _scan_model(model, counter)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InvalidInput(f"{label}: not a readable 3MF package ({type(exc).__name__})") from exc
    return counter.count


def _scan_model(model: IO[bytes], counter: TriangleCounter) -> None:
    tail = b""
    for chunk in iter(lambda: model.read(CHUNK), b""):
        text = tail + chunk
        counter.add(len(_3MF_TRIANGLE.findall(text)))
        # keep what could start an element cut by the chunk boundary, but no element already counted
        start = max(len(text) - 64, 0)
        for match in _3MF_TRIANGLE.finditer(text, start):
            start = match.end()
        tail = text[start:]
