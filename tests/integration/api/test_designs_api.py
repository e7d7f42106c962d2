"""The design registry through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from sqlmodel import Session, func, select

from coordinator.models.designs import Design, DesignVersion, Part, StoredFile
from tests.support.packages import box_stl, default_parts, tar_gz, write_package, zip_bytes


def upload(client, token: str | None, data: bytes, name: str = "pkg.tar.gz"):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        "/api/v1/designs",
        data={"archive": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with Session(runtime.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_upload_list_get_explode(client, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    response = upload(client, token, tar_gz(write_package(tmp_path / "v1")))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["slug"] == "test-machine" and body["version"] == "1.0.0"
    bracket = next(p for p in body["parts"] if p["id"] == "bracket")
    assert bracket["file_sha256"] == hashlib.sha256(box_stl()).hexdigest()
    assert bracket["mesh"]["triangles"] == 12 and bracket["mesh"]["watertight"] is True

    listing = client.get("/api/v1/designs").json["designs"]
    assert listing == [
        {"slug": "test-machine", "name": "Test machine", "latest": "1.0.0", "versions": ["1.0.0"]}
    ]

    exploded = client.get("/api/v1/designs/test-machine/versions/1.0.0/explode?units=5").json
    assert {p["id"]: p["quantity"] for p in exploded["parts"]} == {
        "bolt": 60.0,
        "bracket": 20.0,
        "rail": 10.0,
    }
    assert exploded["cost"]["purchased_cost"] == {"EUR": 128.0}

    tree = client.get("/api/v1/designs/test-machine/versions/latest/bom").json["tree"]
    assert tree["id"] == "root" and {c["id"] for c in tree["children"]} == {"frame", "bolt"}

    download = client.get(f"/api/v1/files/{bracket['file_sha256']}")
    assert download.status_code == 200 and download.data == box_stl()


def test_diff_two_versions(client, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    assert upload(client, token, tar_gz(write_package(tmp_path / "v1"))).status_code == 201
    parts = default_parts()
    parts[0]["children"][0]["quantity"] = 6
    files = {"files/bracket.stl": box_stl((25, 10, 5))}
    v2 = write_package(tmp_path / "v2", version="1.1.0", parts=parts, files=files)
    assert upload(client, token, tar_gz(v2)).status_code == 201
    diff = client.get("/api/v1/designs/test-machine/diff?from=1.0.0&to=1.1.0").json
    assert diff["added"] == [] and diff["removed"] == []
    assert {q["id"]: (q["old"], q["new"]) for q in diff["quantities_per_unit"]} == {"bracket": (4.0, 6.0)}
    latest = client.get("/api/v1/designs/test-machine").json
    assert latest["version"] == "1.1.0" and latest["versions"] == ["1.1.0", "1.0.0"]


def test_files_are_deduplicated_across_versions(client, token_for, runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    upload(client, token, tar_gz(write_package(tmp_path / "v1")))
    stored_before = count(runtime, StoredFile)
    upload(client, token, tar_gz(write_package(tmp_path / "v2", version="1.0.1")))
    # only the manifest differs (its version line); the mesh is stored once
    assert count(runtime, StoredFile) == stored_before + 1


def test_published_versions_are_immutable(client, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    data = tar_gz(write_package(tmp_path / "v1"))
    assert upload(client, token, data).status_code == 201
    assert upload(client, token, data).status_code == 200  # identical: a no-op
    changed = write_package(tmp_path / "v1b", files={"files/bracket.stl": box_stl((1, 2, 3))})
    response = upload(client, token, tar_gz(changed))
    assert response.status_code == 409
    assert "immutable" in response.json["message"]


def test_roles_are_enforced(client, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tar_gz(write_package(tmp_path / "v1"))
    assert upload(client, None, data).status_code == 401
    assert upload(client, "pf_not-a-token", data).status_code == 401
    assert upload(client, token_for("builder"), data).status_code == 403
    assert upload(client, token_for("admin"), data).status_code == 201


def test_rejected_upload_leaves_nothing_behind(client, token_for, runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    parts = default_parts()
    parts[0]["children"].append({"part": "ghost", "quantity": 1})
    response = upload(client, token, tar_gz(write_package(tmp_path / "bad", parts=parts)))
    assert response.status_code == 400
    assert "ghost" in response.json["message"]
    for model in (Design, DesignVersion, Part, StoredFile):
        assert count(runtime, model) == 0
    assert not any(p.is_file() for p in runtime.store.root.rglob("*"))


def test_triangle_limit_rejects_and_rolls_back(client, token_for, runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runtime.settings.limits.max_triangles = 10
    response = upload(client, token_for("designer"), tar_gz(write_package(tmp_path / "v1")))
    assert response.status_code == 413
    assert "12 triangles" in response.json["message"]
    assert count(runtime, DesignVersion) == 0
    assert not any(p.is_file() for p in runtime.store.root.rglob("*"))


def test_unsafe_archives_are_4xx_json(client, token_for, runtime) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer")
    runtime.settings.limits.max_unpacked_mb = 1
    traversal = upload(client, token, zip_bytes({"../evil.toml": b"x"}), name="evil.zip")
    assert traversal.status_code == 400 and "outside the package" in traversal.json["message"]
    bomb = upload(client, token, zip_bytes({"design.toml": b"\0" * 5_000_000}), name="bomb.zip")
    assert bomb.status_code == 413
    wrong = upload(client, token, b"hello", name="notes.txt")
    assert wrong.status_code == 400 and "zip" in wrong.json["message"]


def test_archive_size_limit(app, client, token_for) -> None:  # type: ignore[no-untyped-def]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = upload(client, token_for("designer"), b"\0" * 5000)
    assert response.status_code == 413 and response.is_json


def test_unknown_things_are_404_json(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/designs/none").status_code == 404
    assert client.get("/api/v1/files/" + "0" * 64).json["error"] == "NotFound"
    assert client.get("/api/v1/files/not-a-hash").status_code == 400


def test_openapi_document_lists_the_routes(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/designs/{slug}/versions/{version}/explode" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/designs"]
    assert spec["paths"]["/api/v1/designs"]["post"]["security"]
