"""Lists answer a bounded page, and a file job for a process no machine runs is refused at once."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from coordinator.dashboard import build_pages
from coordinator.db import session_scope
from coordinator.models.jobs import Job
from coordinator.services import designs
from protocol.processes import MACHINE_PROCESSES
from tests.support.auth import bearer
from tests.support.network import add_machine
from tests.support.packages import write_package


@pytest.fixture
def three_labs(runtime):  # type: ignore[no-untyped-def]
    with session_scope(runtime.engine) as session:
        for lab in ("lab-a", "lab-b", "lab-c"):
            add_machine(session, lab, "prusa-1", "fdm_print", materials=("pla",))
            add_machine(session, lab, "bench", "assembly")
    return runtime


@pytest.mark.parametrize(
    ("path", "key", "total"),
    [
        ("/api/v1/machines", "machines", 6),
        ("/api/v1/fablabs", "fablabs", 3),
        ("/api/v1/fablabs/okw", "facilities", 3),
    ],
)
def test_network_lists_answer_a_page(client, three_labs, path: str, key: str, total: int) -> None:  # type: ignore[no-untyped-def]
    first = client.get(f"{path}?limit=2").json
    assert len(first[key]) == 2 and first["total"] == total and (first["limit"], first["offset"]) == (2, 0)
    rest = client.get(f"{path}?limit=2&offset=2").json[key]
    whole = client.get(path).json[key]
    assert first[key] + rest == whole[:4] and len(whole) == total
    assert client.get(f"{path}?offset={total}").json[key] == []


@pytest.mark.parametrize("path", ["/api/v1/machines", "/api/v1/fablabs", "/api/v1/fablabs/okw"])
@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "offset=-1", "offset=99999999999999999999", "limit=x"]
)
def test_network_lists_refuse_pages_out_of_bounds(client, path: str, query: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"{path}?{query}")
    assert response.status_code == 422, response.json
    assert query.split("=")[0] in response.json["details"]["query"]


def _upload(client, token: str, process: str):  # type: ignore[no-untyped-def]
    data = {"file": (io.BytesIO(b"G28\n"), "part.gcode"), "process": process}
    return client.post("/api/v1/jobs", data=data, headers=bearer(token), content_type="multipart/form-data")


def test_a_file_job_no_machine_can_run_is_refused_naming_the_known_processes(
    client, token_for, runtime
) -> None:  # type: ignore[no-untyped-def]
    response = _upload(client, token_for("builder"), "teleport")
    assert response.status_code == 400
    assert "'teleport'" in response.json["message"]
    assert all(process in response.json["message"] for process in MACHINE_PROCESSES)
    with session_scope(runtime.engine) as session:
        assert session.exec(select(Job)).all() == []
    assert _upload(client, token_for("builder"), "laser_cut").status_code == 201


def test_the_document_lists_the_known_processes_for_file_jobs(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/jobs"]["post"]["requestBody"]
    form = body["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["process"]["enum"] == list(MACHINE_PROCESSES)
    assert form["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "G-code, toolpath...",
    }
    assert "design" in body["content"]["application/json"]["schema"]["required"]


@pytest.mark.parametrize("offset", ["²", "-1", "1e3", "1000001", "x"])
@pytest.mark.parametrize("page", ["/dashboard/jobs", "/dashboard/builds"])
def test_dashboard_lists_refuse_offsets_out_of_bounds(client, page: str, offset: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(page, query_string={"offset": offset})
    assert response.status_code == 400
    assert "offset must be a whole number" in response.get_data(as_text=True)


def test_the_dashboard_builds_list_is_paged(client, token_for, runtime, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(build_pages, "PAGE_SIZE", 2)
    with session_scope(runtime.engine) as session:
        add_machine(session, "lab-a", "prusa-1", "fdm_print", materials=("pla",))
        add_machine(session, "lab-a", "bench", "assembly")
        designs.publish_path(session, runtime.store, write_package(tmp_path / "pkg"), runtime.settings.limits)
    made = [_start_build(client, token_for("builder")) for _ in range(3)]
    newest_first = list(reversed(made))
    first, second = _build_links(client, 0), _build_links(client, 2)
    assert first["rows"] == newest_first[:2] and second["rows"] == newest_first[2:]
    assert first["older"] and not first["newer"]
    assert second["newer"] and not second["older"]


def _start_build(client, token: str) -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/builds", json={"design": "test-machine", "site": "lab-a"}, headers=bearer(token)
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def _build_links(client, offset: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    html = client.get(f"/dashboard/builds?offset={offset}").get_data(as_text=True)
    rows = [chunk.split('"', 1)[0] for chunk in html.split('<tr data-build="')[1:]]
    return {"rows": rows, "older": "Older builds" in html, "newer": "Newer builds" in html}
