"""The OpenAPI document is the contract: every operation and status declares its body, and bodies match it."""

from __future__ import annotations

import io
from typing import Any

import jsonschema_rs
import pytest

from coordinator.api import fablab_schemas, ledger_schemas, schemas
from tests.support.seeded import Seeded, seed

SPEC = "/api/v1/openapi.json"
REF = "#/components/schemas/"
BINARY = {"type": "string", "format": "binary"}
ERROR_BODIES = {f"{REF}HTTPError", f"{REF}ValidationError"}


@pytest.fixture
def spec(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return dict(client.get(SPEC).json)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_every_operation_declares_a_body_for_every_status(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    assert len(operations) == 65
    for method, path, op in operations:
        where = f"{method.upper()} {path}"
        assert any(code.startswith("2") for code in op["responses"]), where
        for code, response in op["responses"].items():
            (media, content), *others = response["content"].items()
            assert not others, f"{where} {code}"
            if code.startswith("4"):
                assert media == "application/json" and content["schema"]["$ref"] in ERROR_BODIES, (
                    f"{where} {code}"
                )
            elif media == "application/json":
                assert _declares_a_shape(spec, content["schema"]), f"{where} {code}"
            else:
                assert content["schema"] == BINARY and media in {
                    "application/octet-stream",
                    "application/zip",
                }


def test_every_reference_in_the_document_resolves(spec: dict[str, Any]) -> None:
    refs = list(_refs(spec))
    assert len(refs) > 100
    missing = {ref for ref in refs if ref.removeprefix(REF) not in spec["components"]["schemas"]}
    assert not missing


def _refs(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            elif key == "mapping":
                yield from value.values()
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _declares_a_shape(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A component with properties (or typed values): APIFlask's fallback for a failed model is bare."""
    component = spec["components"]["schemas"][schema["$ref"].removeprefix(REF)]
    return "properties" in component or isinstance(component.get("additionalProperties"), dict)


def test_each_operation_declares_the_errors_it_can_answer(spec: dict[str, Any]) -> None:
    for method, path, op in _operations(spec):
        declared, where = set(op["responses"]), f"{method.upper()} {path}"
        if path != "/api/v1/health":
            assert "401" in declared, where  # a token is needed, or reads are private
        if "security" in op:
            assert "403" in declared, where
        if "{" in path:
            assert "404" in declared, where
        if "requestBody" in op:
            assert {"400", "413"} <= declared, where  # malformed JSON; over the request size limit
        if any(p["in"] == "query" for p in op.get("parameters", [])):
            assert "422" in declared, where


def test_components_are_the_schemas_of_the_models_that_write_the_bodies(spec: dict[str, Any]) -> None:
    """A body is `Model.model_dump()`; its component is that model's serialisation schema, key for key."""
    components = spec["components"]["schemas"]
    models = {
        name: model
        for module in (schemas, fablab_schemas, ledger_schemas)
        for name, model in vars(module).items()
        if name.endswith("Out") and hasattr(model, "model_json_schema")
    }
    checked = 0
    for name, model in models.items():
        short = name.removesuffix("Out")
        if short not in components:
            continue
        expected = model.model_json_schema(ref_template=REF + "{model}", mode="serialization")
        expected.pop("$defs", None)
        assert components[short] == schemas._rename_refs(
            expected, {n: n.removesuffix("Out") for n in models}
        ), name
        checked += 1
    assert checked >= 60
    for name in ("Version", "Job", "Build", "Machine"):
        assert set(components[name]["required"]) == set(components[name]["properties"]), name


@pytest.fixture
def seeded(runtime, client) -> Seeded:  # type: ignore[no-untyped-def]
    return seed(runtime, client)


def test_real_bodies_of_every_operation_match_the_document(
    client, spec: dict[str, Any], seeded: Seeded
) -> None:  # type: ignore[no-untyped-def]
    registry = jsonschema_rs.Registry([("urn:peerfab", spec)])
    values = {
        "slug": "reprap-printer", "version": "latest", "part_id": "frame", "job_id": seeded.job["id"],
        "build_id": seeded.build["id"], "task_id": seeded.build["tasks"][0]["task"],
        "fablab": "fablab-berlin", "machine_id": "bench-1", "sha256": seeded.job["file"]["sha256"],
        "name": "seed-admin", "spool_id": seeded.ids["spool_id"][0],
        "maintenance_id": seeded.ids["maintenance_id"][0], "sub_id": seeded.ids["sub_id"][0],
    }  # fmt: skip
    seen: set[tuple[str, str]] = set()
    for method, template, query, role, body, expected in TOUR:
        path = "/api/v1" + template.format(**values) + query
        response = _send(client, method, path, role, body, seeded)
        assert response.status_code == expected, (method, path, response.get_data(as_text=True)[:300])
        declared = spec["paths"][f"/api/v1{template}"][method]["responses"][str(response.status_code)]
        media = next(iter(declared["content"]))
        assert response.mimetype == media, (method, path)
        if media == "application/json":
            schema = {"$ref": "urn:peerfab" + declared["content"][media]["schema"]["$ref"]}
            validator = jsonschema_rs.validator_for(schema, registry=registry, validate_formats=True)
            errors = [e.message for e in validator.iter_errors(response.json)]
            assert not errors, (method, path, errors[:3])
        seen.add((method, f"/api/v1{template}"))
    assert seen == {(m, p) for m, p, _ in _operations(spec)}


# (method, path, query, role, body, status) for every operation, each on data that exists
TOUR: list[tuple[str, str, str, str, Any, int]] = [
    ("get", "/health", "", "", None, 200),
    ("get", "/designs", "", "", None, 200),
    ("get", "/designs/{slug}", "", "", None, 200),
    ("get", "/designs/{slug}/versions/{version}", "", "", None, 200),
    ("get", "/designs/{slug}/versions/{version}/okh.zip", "", "", None, 200),
    ("get", "/designs/{slug}/versions/{version}/bom", "", "", None, 200),
    ("get", "/designs/{slug}/versions/{version}/explode", "?units=3", "", None, 200),
    ("get", "/designs/{slug}/versions/{version}/parts/{part_id}/where-used", "", "", None, 200),
    ("get", "/designs/{slug}/diff", "?from=1.0.0&to=1.1.0", "", None, 200),
    ("post", "/designs", "", "designer", ("archive", "design.zip", b"not an archive"), 400),
    ("post", "/designs/{slug}/fork", "", "designer", {"slug": "my-printer"}, 201),
    ("get", "/designs/{slug}/maintainers", "", "", None, 200),
    ("post", "/designs/{slug}/maintainers", "", "admin", {"name": "seed-admin"}, 200),
    ("delete", "/designs/{slug}/maintainers/{name}", "", "admin", None, 200),
    ("get", "/files/{sha256}", "", "", None, 200),
    ("get", "/jobs", "", "", None, 200),
    ("get", "/jobs/{job_id}", "", "", None, 200),
    ("post", "/jobs", "", "builder", {"design": "reprap-printer", "part": "lcd-knob"}, 201),
    ("post", "/jobs/{job_id}/pause", "", "operator", None, 409),
    ("post", "/jobs/{job_id}/resume", "", "operator", None, 409),
    ("post", "/jobs/{job_id}/fail", "", "operator", {"reason": "warped"}, 409),
    ("post", "/jobs/{job_id}/machine-file", "", "operator", ("file", "board.nc", b"G21\nG1 X1 F100\n"), 409),
    ("post", "/jobs/{job_id}/cancel", "", "builder", None, 200),
    ("get", "/machines", "", "", None, 200),
    ("post", "/machines/{fablab}/{machine_id}/confirm-clear", "", "operator", None, 409),
    ("get", "/fablabs", "", "", None, 200),
    ("get", "/fablabs/okw", "", "", None, 200),
    ("get", "/fablabs/{fablab}/okw", "", "", None, 200),
    ("put", "/fablabs/{fablab}/okw", "", "operator", {"name": "Fab Lab Berlin", "equipment": []}, 200),
    ("put", "/fablabs/{fablab}/profile", "", "operator", {"name": "Fab Lab Berlin"}, 200),
    ("get", "/fablabs/{fablab}/profile", "", "", None, 200),
    ("get", "/builds", "", "", None, 200),
    ("get", "/builds/{build_id}", "", "", None, 200),
    ("post", "/builds/{build_id}/purchases/order", "", "builder", {}, 200),
    ("get", "/builds/{build_id}/provenance", "", "", None, 200),
    ("get", "/ledger", "", "", None, 200),
    ("get", "/contributions", "?by=fablab", "", None, 200),
    ("get", "/reciprocity", "", "", None, 200),
    ("get", "/builds/{build_id}/passport", "", "", None, 200),
    ("get", "/passport-key", "", "", None, 200),
    ("post", "/builds/{build_id}/purchases/receive", "", "builder", {}, 200),
    ("post", "/builds/{build_id}/tasks/{task_id}/retry", "", "builder", None, 409),
    ("post", "/builds", "", "builder", {"design": "ceb-press", "site": "fablab-berlin"}, 201),
    ("post", "/builds/{build_id}/cancel", "", "builder", None, 200),
    ("get", "/jobs/{job_id}/runs", "", "", None, 200),
    ("get", "/spools", "", "", None, 200),
    ("get", "/fablabs/{fablab}/spools", "", "", None, 200),
    ("post", "/fablabs/{fablab}/spools", "", "operator", {"material": "petg", "remaining_g": 800}, 201),
    ("patch", "/fablabs/{fablab}/spools/{spool_id}", "", "operator", {"remaining_g": 640.5}, 200),
    ("put", "/fablabs/{fablab}/machines/{machine_id}/spool", "", "operator", {"spool_id": None}, 409),
    ("get", "/fablabs/{fablab}/spool-source", "", "", None, 200),
    ("put", "/fablabs/{fablab}/spool-source", "", "operator", {"kind": "peerfab"}, 200),
    ("post", "/fablabs/{fablab}/spool-source/sync", "", "operator", None, 409),
    ("get", "/maintenance", "", "", None, 200),
    ("get", "/fablabs/{fablab}/maintenance", "", "", None, 200),
    (
        "post",
        "/fablabs/{fablab}/machines/{machine_id}/maintenance",
        "",
        "operator",
        {"name": "belts", "every_jobs": 50},
        201,
    ),
    (
        "post",
        "/fablabs/{fablab}/maintenance/{maintenance_id}/sign-off",
        "",
        "operator",
        {"note": "done"},
        200,
    ),
    ("get", "/statistics", "?by=fablab", "", None, 200),
    ("get", "/statistics/speed-factors", "", "", None, 200),
    ("get", "/notifications/kinds", "", "", None, 200),
    ("get", "/notifications/subscriptions", "", "operator", None, 200),
    (
        "post",
        "/notifications/subscriptions",
        "",
        "builder",
        {"kinds": ["build_done"], "channel": "webhook", "url": "http://127.0.0.1:9/b"},
        201,
    ),
    ("post", "/notifications/subscriptions/{sub_id}/test", "", "operator", None, 202),
    ("get", "/notifications/deliveries", "", "operator", None, 200),
    ("delete", "/notifications/subscriptions/{sub_id}", "", "operator", None, 200),
]


def _send(client, method: str, path: str, role: str, body: Any, seeded: Seeded):  # type: ignore[no-untyped-def]
    headers = seeded.auth(role) if role else {}
    if isinstance(body, tuple):  # a multipart upload: (field, file name, content)
        field, name, content = body
        data = {field: (io.BytesIO(content), name)}
        return client.post(path, data=data, headers=headers, content_type="multipart/form-data")
    return client.open(path, method=method.upper(), json=body, headers=headers)
