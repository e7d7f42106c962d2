"""The extent of an STL mesh (binary or ASCII), read without a mesh library: enough to place copies."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from fablab_agents.prepare.model import PreparationError

_HEADER = 80
_FACET = 50  # normal, three vertices (12 floats) and an attribute word


@dataclass(frozen=True)
class Extent:
    """Smallest box around the mesh, in the file's units (millimetres for printing)."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]
    facets: int

    @property
    def size(self) -> tuple[float, float, float]:
        return (self.high[0] - self.low[0], self.high[1] - self.low[1], self.high[2] - self.low[2])


def stl_extent(path: Path) -> Extent:
    """Read the box of an STL file; an empty, truncated or non-STL file is a PreparationError."""
    data = path.read_bytes()
    if len(data) >= _HEADER + 4:
        count = struct.unpack_from("<I", data, _HEADER)[0]
        if count == 0 and len(data) == _HEADER + 4:
            raise PreparationError(f"{path.name}: a binary STL without a single facet")
        if count and len(data) == _HEADER + 4 + count * _FACET:
            return _binary(data, count)
    if data.lstrip()[:5].lower() == b"solid":
        return _ascii(data, path)
    raise PreparationError(
        f"{path.name}: not an STL mesh (neither binary STL of the right size nor ASCII STL)"
    )


def _binary(data: bytes, count: int) -> Extent:
    points: list[tuple[float, float, float]] = []
    for index in range(count):
        values = struct.unpack_from("<12f", data, _HEADER + 4 + index * _FACET)
        points.extend((values[i], values[i + 1], values[i + 2]) for i in (3, 6, 9))
    return _extent(points, count)


def _ascii(data: bytes, path: Path) -> Extent:
    points: list[tuple[float, float, float]] = []
    for line in data.decode("ascii", errors="replace").splitlines():
        words = line.split()
        if len(words) == 4 and words[0].lower() == "vertex":
            try:
                points.append((float(words[1]), float(words[2]), float(words[3])))
            except ValueError as exc:
                raise PreparationError(f"{path.name}: bad vertex line {line.strip()!r}") from exc
    if not points:
        raise PreparationError(f"{path.name}: an ASCII STL without a single facet")
    return _extent(points, len(points) // 3)


def _extent(points: list[tuple[float, float, float]], facets: int) -> Extent:
    low = tuple(min(p[i] for p in points) for i in range(3))
    high = tuple(max(p[i] for p in points) for i in range(3))
    return Extent((low[0], low[1], low[2]), (high[0], high[1], high[2]), facets)
