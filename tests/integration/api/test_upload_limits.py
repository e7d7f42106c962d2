"""Every upload limit answers 4xx JSON naming the limit and the value, early, leaving nothing behind."""

from __future__ import annotations

import base64
import io
import os
import struct
from pathlib import Path
from typing import Any

import pytest
import trimesh
from sqlmodel import Session, func, select

from coordinator.ledger import passport
from coordinator.models.designs import Design, DesignVersion, Part, StoredFile
from tests.integration.api.test_designs_api import upload
from tests.support.packages import box_stl, default_parts, tar_gz, tar_members, write_package, zip_bytes


def count(runtime: Any, model: Any) -> int:
    with Session(runtime.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def assert_nothing_left(runtime: Any) -> None:
    """No row, no blob, no unpacked folder or upload copy in the data directory."""
    for model in (Design, DesignVersion, Part, StoredFile):
        assert count(runtime, model) == 0, model
    assert not any(p.is_file() for p in runtime.store.root.rglob("*"))
    data_dir = runtime.settings.storage.data_dir
    # the coordinator's own: the file store, the database, previews, the passport key made at its start
    own = {"files", "peerfab.db", "previews", passport.KEY_FILE}
    leftovers = [p.name for p in data_dir.iterdir() if p.name not in own]
    assert leftovers == []


@pytest.fixture
def never_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mesh over the limit must be refused from its counts: loading it is what costs minutes."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a mesh over the triangle limit was loaded")

    monkeypatch.setattr(trimesh, "load", refuse)


@pytest.mark.parametrize("encoding", ["binary", "ascii"])
def test_a_mesh_over_the_triangle_limit_is_refused_unloaded(  # type: ignore[no-untyped-def]
    client, token_for, runtime, tmp_path: Path, never_loaded, encoding: str
) -> None:
    runtime.settings.limits.max_triangles = 1000
    sphere = trimesh.creation.icosphere(subdivisions=4)  # 5,120 triangles
    stl = sphere.export(file_type="stl" if encoding == "binary" else "stl_ascii")
    stl = stl.encode() if isinstance(stl, str) else stl
    package = write_package(tmp_path / "pkg", files={"files/bracket.stl": stl})
    response = upload(client, token_for("designer"), tar_gz(package))
    assert response.status_code == 413, response.json
    assert response.json["details"]["limit"] == "limits.max_triangles"
    assert response.json["details"]["allowed"] == 1000 and response.json["details"]["found"] > 1000
    assert "files/bracket.stl" in response.json["message"]
    assert_nothing_left(runtime)


def test_a_binary_header_over_the_limit_is_refused_from_the_header(client, token_for, runtime) -> None:  # type: ignore[no-untyped-def]
    # The header's count and the member's size agree; its bytes are zeros, so the archive is small, and
    # the ratio limit is lifted so that the triangle limit is the one that speaks.
    runtime.settings.limits.max_ratio = 1e6
    runtime.settings.limits.max_triangles = 100_000
    declared = 200_000
    body = b"\0" * 80 + struct.pack("<I", declared) + b"\0" * (50 * declared)
    manifest = (write_package_text() + "\n").encode()
    archive = zip_bytes({"design.toml": manifest, "files/bracket.stl": body})
    response = upload(client, token_for("designer"), archive, name="big.zip")
    assert response.status_code == 413, response.json
    assert response.json["details"] == {
        "limit": "limits.max_triangles",
        "allowed": 100_000,
        "found": declared,
    }
    assert_nothing_left(runtime)


def write_package_text() -> str:
    import tomli_w

    design = {"name": "Big", "slug": "big", "version": "1.0.0", "licenses": ["MIT"], "root": "root"}
    return tomli_w.dumps({"design": design, "part": default_parts()})


def test_a_zip_bomb_is_refused_from_its_ratio(client, token_for, runtime) -> None:  # type: ignore[no-untyped-def]
    bomb = zip_bytes({"design.toml": b"", "files/fill.bin": b"\0" * 200_000_000})
    assert len(bomb) < 300_000
    response = upload(client, token_for("designer"), bomb, name="bomb.zip")
    assert response.status_code == 413
    assert response.json["details"]["limit"] == "limits.max_ratio"
    assert response.json["details"]["allowed"] == 50 and response.json["details"]["found"] > 500
    assert "zip bomb" in response.json["message"]
    assert_nothing_left(runtime)


def test_the_request_size_limit_names_itself(app, client, token_for) -> None:  # type: ignore[no-untyped-def]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = upload(client, token_for("designer"), b"\0" * 5000)
    assert response.status_code == 413
    assert response.json["details"]["limit"] == "limits.max_archive_mb"


def test_a_huge_description_is_refused_and_lists_stay_fast(
    client, token_for, runtime, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    huge = write_package(tmp_path / "huge", design_extra={"description": "x" * 50_000_000})
    assert upload(client, token, tar_gz(huge)).status_code == 413  # by its ratio: it compresses 1000:1
    noise = base64.b64encode(os.urandom(4_000_000)).decode()  # hardly compresses: the manifest's own limit
    large = write_package(tmp_path / "large", design_extra={"description": noise})
    response = upload(client, token, tar_gz(large))
    assert response.status_code == 413
    assert response.json["details"]["limit"] == "design.toml size"
    assert response.json["details"]["found"] > 5_000_000
    long = write_package(tmp_path / "long", design_extra={"description": "y" * 20_001})
    response = upload(client, token, tar_gz(long))
    assert (
        response.status_code == 400
        and "description: String should have at most 20000" in response.json["message"]
    )
    assert_nothing_left(runtime)


@pytest.mark.parametrize(
    ("where", "value", "problem"),
    [
        ("design", {"name": "Printer\u202eevil"}, "bidirectional control character U+202E"),
        ("design", {"name": "Printer\0"}, "control character U+0000"),
        ("design", {"authors": ["Ann\u2066"]}, "bidirectional control character U+2066"),
        ("part", {"name": "Bolt\u200f"}, "bidirectional control character U+200F"),
        ("part", {"mpn": "A\0B"}, "control character U+0000"),
        ("part", {"unit-cost": float("nan")}, "finite number"),
        ("part", {"unit-cost": float("inf")}, "finite number"),
    ],
)
def test_unprintable_or_non_finite_fields_are_refused(  # type: ignore[no-untyped-def]
    client, token_for, runtime, tmp_path: Path, where: str, value: dict[str, Any], problem: str
) -> None:
    parts = default_parts()
    if where == "part":
        parts[-1].update(value)  # the bolt
    design = value if where == "design" else {}
    response = upload(
        client, token_for("designer"), tar_gz(write_package(tmp_path, parts=parts, design_extra=design))
    )
    assert response.status_code == 400, response.json
    assert problem in response.json["message"]
    assert_nothing_left(runtime)


def test_deep_toml_and_nan_meshes_are_400_not_500(client, token_for, runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    deep = b"[design]\nx = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    response = upload(client, token, zip_bytes({"design.toml": deep}), name="deep.zip")
    assert response.status_code == 400 and "nests" in response.json["message"]
    nan_stl = (
        b"solid nan\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex nan 1 0\nvertex 1 0 0\n"
        b"endloop\nendfacet\nendsolid nan\n"
    )
    response = upload(
        client, token, tar_gz(write_package(tmp_path / "nan", files={"files/bracket.stl": nan_stl}))
    )
    assert response.status_code == 400 and "NaN or infinite coordinates" in response.json["message"]
    assert_nothing_left(runtime)


def test_error_messages_name_no_server_path(client, token_for, runtime) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    data_dir = str(runtime.settings.storage.data_dir.resolve())
    bad_toml = upload(client, token, zip_bytes({"design.toml": b"[design\n"}), name="pkg.zip")
    bad_utf8 = upload(client, token, tar_members({"design.toml": b"\xff\xfe"}), name="pkg.tar.gz")
    broken = upload(client, token, b"PK\x03\x04 not really", name="pkg.zip")
    for response in (bad_toml, bad_utf8, broken):
        assert response.status_code == 400
        message = response.json["message"]
        assert data_dir not in message and "/tmp" not in message and "peerfab-unpack" not in message
        assert message.startswith("pkg.")
    assert_nothing_left(runtime)


def test_an_unexpected_error_answers_a_fixed_text(app, client, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from coordinator.api.errors import INTERNAL
    from coordinator.services import designs

    def fail(*_: Any, **__: Any) -> None:
        raise OSError("[Errno 13] Permission denied: '/srv/peerfab/secret/peerfab.db'")

    monkeypatch.setattr(designs, "list_designs", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.config["TESTING"] = False
    response = client.get("/api/v1/designs")
    assert response.status_code == 500 and response.json == {
        "error": "InternalServerError",
        "message": INTERNAL,
    }


def test_list_routes_bound_their_pages(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/designs?offset=99999999999999999999").status_code == 422
    assert client.get("/api/v1/designs?limit=100000").status_code == 422
    assert client.get("/api/v1/designs?limit=0").status_code == 422
    page = client.get("/api/v1/designs?limit=5&offset=10").json
    assert page == {"designs": [], "total": 0, "limit": 5, "offset": 10}


def test_a_good_package_still_publishes_with_everything_on(client, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    response = upload(client, token_for("designer"), tar_gz(write_package(tmp_path)))
    assert response.status_code == 201
    bracket = next(p for p in response.json["parts"] if p["id"] == "bracket")
    assert bracket["mesh"]["triangles"] == len(trimesh.load(io.BytesIO(box_stl()), file_type="stl").faces)


def test_the_builds_list_is_bounded_too(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/builds?offset=99999999999999999999").status_code == 422
    assert client.get("/api/v1/builds?limit=100000").status_code == 422
    assert client.get("/api/v1/builds?limit=10&offset=5").json == {"builds": []}
