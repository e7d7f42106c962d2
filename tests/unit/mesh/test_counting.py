"""Triangle counts from headers and one streaming pass agree with what trimesh loads, for every format."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest
import trimesh

from coordinator.mesh.counting import StlCounter, check_triangles
from protocol.errors import PayloadTooLarge

SPHERE = trimesh.creation.icosphere(subdivisions=3)  # 1,280 triangles


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def three_mf(triangles: int, prefix: str = "") -> bytes:
    tag = f"{prefix}:" if prefix else ""
    rows = f'<{tag}triangle v1="0" v2="1" v3="2"/>' * triangles
    body = f"<{tag}mesh><{tag}triangles>{rows}</{tag}triangles></{tag}mesh>"
    xml = f'<?xml version="1.0"?><{tag}model>{body}</{tag}model>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("3D/3dmodel.model", xml)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("binary.stl", SPHERE.export(file_type="stl")),
        ("ascii.stl", SPHERE.export(file_type="stl_ascii")),
        ("mesh.obj", SPHERE.export(file_type="obj")),
        ("mesh.ply", SPHERE.export(file_type="ply")),
    ],
)
def test_counts_match_the_loaded_mesh(tmp_path: Path, name: str, data: bytes | str) -> None:
    path = write(tmp_path, name, data)
    loaded = trimesh.load(path, force="mesh", process=False)
    assert check_triangles(path, 10**9, name, 10**9) == len(loaded.faces) == 1280


def test_3mf_elements_are_counted_with_and_without_a_namespace_prefix(tmp_path: Path) -> None:
    assert check_triangles(write(tmp_path, "a.3mf", three_mf(5000)), 10**9, "a", 10**9) == 5000
    assert check_triangles(write(tmp_path, "b.3mf", three_mf(5000, "m")), 10**9, "b", 10**9) == 5000


def test_a_binary_header_is_enough_to_refuse(tmp_path: Path) -> None:
    # 10 million triangles declared; only the header and the size are read, nothing else exists
    declared = 10_000_000
    counter = StlCounter("parts/huge.stl", 5_000_000, 84 + 50 * declared)
    with pytest.raises(PayloadTooLarge) as refused:
        counter.feed(b"solid binary but not ascii".ljust(80, b" ") + struct.pack("<I", declared))
    assert refused.value.details == {"limit": "limits.max_triangles", "allowed": 5_000_000, "found": declared}
    assert "10,000,000 triangles" in refused.value.message and "parts/huge.stl" in refused.value.message


def test_a_header_that_disagrees_with_the_size_is_not_trusted(tmp_path: Path) -> None:
    # trimesh reads such a file as ASCII: so do we (and find no facet in it)
    data = b"\0" * 80 + struct.pack("<I", 10**9) + b"\0" * 50
    assert check_triangles(write(tmp_path, "odd.stl", data), 10, "odd", 10**9) == 0


def test_ascii_is_counted_across_chunk_boundaries() -> None:
    text = SPHERE.export(file_type="stl_ascii").encode()
    counter = StlCounter("s", 10**9, len(text))
    for start in range(0, len(text), 7):  # every keyword cut somewhere
        counter.feed(text[start : start + 7])
    counter.close()
    assert counter.count == 1280


def test_ascii_over_the_limit_stops_the_stream() -> None:
    text = SPHERE.export(file_type="stl_ascii").encode()
    counter = StlCounter("s", 100, len(text))
    fed = 0
    with pytest.raises(PayloadTooLarge, match="at least"):
        for start in range(0, len(text), 1000):
            counter.feed(text[start : start + 1000])
            fed += 1000
    assert fed < len(text) / 5
