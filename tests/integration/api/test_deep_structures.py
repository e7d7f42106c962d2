"""Deep and wide BOMs are refused when published; stored ones from before the limits read as 4xx, never 500.

And no response of the API is ever JSON with NaN or Infinity in it: the app's JSON provider refuses them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.bom import graph
from tests.integration.api.test_designs_api import upload
from tests.support.packages import tar_gz, write_package

LEVELS = 1500


def chain(levels: int, quantity: int = 2) -> list[dict[str, Any]]:
    """root -> a1 -> a2 -> ... -> a<levels> -> bolt, `quantity` of each in the next."""
    parts: list[dict[str, Any]] = []
    names = ["root", *[f"a{i}" for i in range(1, levels + 1)]]
    for parent, child in zip(names, [*names[1:], "bolt"], strict=True):
        parts.append({"id": parent, "kind": "assembly", "name": parent,
                      "children": [{"part": child, "quantity": quantity}]})  # fmt: skip
    parts.append({"id": "bolt", "kind": "purchased", "name": "Bolt", "unit-cost": 0.1})
    return parts


def diamonds(levels: int) -> list[dict[str, Any]]:
    """Each level uses the next through two sub-assemblies: 2^levels rows as a tree from 3 x levels parts."""
    parts: list[dict[str, Any]] = []
    for i in range(levels):
        top = "root" if i == 0 else f"m{i}"
        below = f"m{i + 1}" if i + 1 < levels else "bolt"
        parts += [
            {"id": top, "kind": "assembly", "name": top,
             "children": [{"part": f"l{i}", "quantity": 1}, {"part": f"r{i}", "quantity": 1}]},
            *({"id": f"{side}{i}", "kind": "assembly", "name": f"{side}{i}",
               "children": [{"part": below, "quantity": 1}]} for side in "lr"),
        ]  # fmt: skip
    parts.append({"id": "bolt", "kind": "purchased", "name": "Bolt"})
    return parts


def package(tmp_path: Path, parts: list[dict[str, Any]], slug: str = "deep") -> bytes:
    return tar_gz(write_package(tmp_path / slug, slug=slug, parts=parts, files={}))


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        (chain(LEVELS), f"{LEVELS + 1} levels deep, more than 50"),
        (diamonds(20), "rows when shown as a tree"),
        (chain(10, quantity=100), "more than 1e+09"),
    ],
    ids=["deep", "wide", "multiplying"],
)
def test_deep_wide_or_multiplying_boms_are_refused_at_publish(  # type: ignore[no-untyped-def]
    client, token_for, tmp_path: Path, parts: list[dict[str, Any]], problem: str
) -> None:
    response = upload(client, token_for("designer"), package(tmp_path, parts))
    assert response.status_code == 400, response.json
    assert problem in response.json["message"]


@pytest.fixture
def legacy(client, token_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    """A 1,500-level design stored as the code before the limits stored it."""
    with monkeypatch.context() as before_the_limits:
        before_the_limits.setattr(graph, "MAX_DEPTH", 10**6)
        before_the_limits.setattr(graph, "MAX_TOTAL", float("inf"))
        response = upload(client, token_for("designer"), package(tmp_path, chain(LEVELS)))
    assert response.status_code == 201, response.json
    return "deep"


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_stored_deep_bom_reads_as_4xx_not_500(client, legacy: str) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/v1/designs/{legacy}/versions/latest"
    for path in (f"{base}/bom", f"{base}/explode?units=1", f"{base}/parts/bolt/where-used"):
        response = client.get(path)
        assert response.status_code == 422, (path, response.status_code)
        assert "levels" in strict_json(response.text)["message"] or "multiply" in response.json["message"]
    page = client.get(f"/dashboard/designs/{legacy}/1.0.0")
    assert page.status_code == 422 and b"1501 levels deep" in page.data


def test_the_json_provider_refuses_nan_and_infinity(app) -> None:  # type: ignore[no-untyped-def]
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="JSON compliant"):
            app.json.dumps({"value": bad})


def _get_routes(app: Any, values: dict[str, str]) -> Iterator[str]:
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith("/api/v1") or "static" in rule.rule:
            continue
        if all(arg in values for arg in rule.arguments):
            yield rule.rule.replace("<", "{").replace(">", "}").format(**values)


def test_no_api_read_answers_500_or_non_json(app, client, token_for, legacy: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    upload(client, token_for("designer"), tar_gz(write_package(tmp_path / "fine")))
    values = {"slug": legacy, "version": "latest", "part_id": "bolt", "sha256": "0" * 64,
              "build_id": "none", "job_id": "none", "fablab": "lab-a"}  # fmt: skip
    checked = 0
    for slug in (legacy, "test-machine"):
        for path in _get_routes(app, values | {"slug": slug}):
            response = client.get(path)
            assert response.status_code < 500, (path, response.status_code, response.text[:300])
            if response.is_json:
                strict_json(response.text)
            checked += 1
    assert checked > 20
