"""Who may publish a design: its maintainers; everyone else with the designer role forks it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from coordinator.cli import cli
from coordinator.db import migrate
from tests.integration.api.test_designs_api import upload
from tests.support.live import serve
from tests.support.packages import tar_gz, write_package


def publish(client: Any, token: str, folder: Path, **package: Any) -> Any:
    return upload(client, token, tar_gz(write_package(folder, **package)))


def test_only_maintainers_publish_and_latest_stays_theirs(client, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, mallory = token_for("designer", "alice"), token_for("designer", "mallory")
    assert publish(client, alice, tmp_path / "a1").status_code == 201
    hijack = publish(client, mallory, tmp_path / "m2", version="9.9.9", design_extra={"name": "Evil"})
    assert hijack.status_code == 403
    assert "maintainers" in hijack.json["message"] and "fork" in hijack.json["message"]
    latest = client.get("/api/v1/designs/test-machine/versions/latest").json
    assert latest["version"] == "1.0.0" and latest["name"] == "Test machine"
    # an identical re-publish by someone else is refused too: the check comes before any work
    assert publish(client, mallory, tmp_path / "a1-again").status_code == 403
    assert client.get("/api/v1/designs/test-machine").json["maintainers"] == ["alice"]


def test_a_maintainer_adds_another_who_may_then_publish(client, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, bob = token_for("designer", "alice"), token_for("designer", "bob")
    assert publish(client, alice, tmp_path / "a1").status_code == 201
    path = "/api/v1/designs/test-machine/maintainers"
    refused = client.post(path, json={"name": "bob"}, headers={"Authorization": f"Bearer {bob}"})
    assert refused.status_code == 403
    added = client.post(path, json={"name": "bob"}, headers={"Authorization": f"Bearer {alice}"})
    assert added.status_code == 200 and added.json["maintainers"] == ["alice", "bob"]
    assert publish(client, bob, tmp_path / "b2", version="1.1.0").status_code == 201
    assert client.get("/api/v1/designs/test-machine/versions/latest").json["version"] == "1.1.0"
    bob_header = {"Authorization": f"Bearer {bob}"}
    assert client.delete(f"{path}/alice", headers=bob_header).json["maintainers"] == ["bob"]
    last = client.delete(f"{path}/bob", headers=bob_header)
    assert last.status_code == 409 and "last maintainer" in last.json["message"]


def test_fork_in_one_call_names_the_original(client, token_for, runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, carol = token_for("designer", "alice"), token_for("designer", "carol")
    original = publish(client, alice, tmp_path / "a1").json
    headers = {"Authorization": f"Bearer {carol}"}
    response = client.post(
        "/api/v1/designs/test-machine/fork", json={"slug": "carols-machine"}, headers=headers
    )
    assert response.status_code == 201, response.json
    fork = response.json
    assert (fork["slug"], fork["version"]) == ("carols-machine", "1.0.0")
    assert fork["lineage"] == {"derivative_of": "test-machine@1.0.0"}
    assert client.get("/api/v1/designs/carols-machine").json["maintainers"] == ["carol"]
    # every file but the manifest is the original's blob; the manifest names the fork and its origin
    files = {f["path"]: f["sha256"] for f in fork["files"]}
    before = {f["path"]: f["sha256"] for f in original["files"]}
    assert files.keys() == before.keys() and files["design.toml"] != before["design.toml"]
    assert {k: v for k, v in files.items() if k != "design.toml"} == {
        k: v for k, v in before.items() if k != "design.toml"
    }
    manifest = tomllib.loads(runtime.store.path_for(files["design.toml"]).read_text())
    assert manifest["design"]["slug"] == "carols-machine"
    assert manifest["design"]["lineage"]["derivative-of"] == "test-machine@1.0.0"
    assert client.get("/api/v1/designs/carols-machine/versions/latest/explode").json["parts"]
    # the fork is carol's to publish, the original stays alice's
    assert publish(client, carol, tmp_path / "c2", slug="carols-machine", version="1.1.0").status_code == 201
    assert client.get("/api/v1/designs/test-machine").json["versions"] == ["1.0.0"]
    again = client.post("/api/v1/designs/test-machine/fork", json={"slug": "carols-machine"}, headers=headers)
    assert again.status_code == 409


def test_fork_needs_the_designer_role(client, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    publish(client, token_for("designer", "alice"), tmp_path / "a1")
    builder = {"Authorization": f"Bearer {token_for('builder')}"}
    response = client.post("/api/v1/designs/test-machine/fork", json={"slug": "mine"}, headers=builder)
    assert response.status_code == 403


def test_cli_forks_and_manages_maintainers(app, token_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    alice, dave = token_for("designer", "alice"), token_for("designer", "dave")
    runner = CliRunner()
    with serve(app) as url:
        pushed = runner.invoke(cli, ["design", "push", str(write_package(tmp_path / "a1")), "--url", url,
                                     "--token", alice])  # fmt: skip
        assert pushed.exit_code == 0, pushed.output
        refused = runner.invoke(cli, ["design", "push", str(write_package(tmp_path / "d2", version="2.0.0")),
                                      "--url", url, "--token", dave])  # fmt: skip
        assert refused.exit_code == 2 and "403" in refused.output and "fork" in refused.output
        forked = runner.invoke(cli, ["design", "fork", "test-machine", "daves-machine", "--url", url,
                                     "--token", dave])  # fmt: skip
        assert forked.exit_code == 0, forked.output
        assert "daves-machine@1.0.0 forked from test-machine@1.0.0" in forked.output
        added = runner.invoke(cli, ["design", "maintainers", "test-machine", "--add", "dave", "--url", url,
                                    "--token", alice])  # fmt: skip
        assert added.exit_code == 0 and added.output.split() == ["alice", "dave"]


def test_migration_makes_each_first_publisher_a_maintainer(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        migrate(engine, "0006")
        with engine.begin() as db:
            designs = "(1, 'press', 'Press', '2026-01-01'), (2, 'anon', 'Anon', '2026-01-01')"
            db.execute(text(f"INSERT INTO design (id, slug, name, created_at) VALUES {designs}"))
            for vid, design, number, by, day in [(1, 1, "1.0.0", "alice", 1), (2, 1, "1.1.0", "bob", 2),
                                                 (3, 2, "0.1.0", "", 1)]:  # fmt: skip
                db.execute(
                    text(
                        "INSERT INTO design_version (id, design_id, version, name, description, licenses,"
                        " authors, lineage, root, manifest, content_sha256, published_by, published_at)"
                        " VALUES (:id, :design, :number, 'x', '', '[]', '[]', '{}', 'root', '{}', 'c',"
                        " :by, :at)"
                    ),
                    {"id": vid, "design": design, "number": number, "by": by, "at": f"2026-01-0{day}"},
                )
        migrate(engine)
        with engine.connect() as db:
            rows = db.execute(text("SELECT design_id, name FROM design_maintainer ORDER BY design_id")).all()
        assert [tuple(r) for r in rows] == [(1, "alice")]  # an anonymous publisher maintains nothing
    finally:
        engine.dispose()
