from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.bom import graph
from coordinator.bom.package import load_package
from protocol.errors import InvalidInput, NotFound
from tests.support.packages import default_parts, write_package


@pytest.fixture
def bom(tmp_path: Path) -> graph.Bom:
    return load_package(write_package(tmp_path)).bom()


def test_explode_multiplies_down_the_tree_and_adds_across_paths(bom: graph.Bom) -> None:
    # bolts: 4 on the root + 8 per frame; brackets 4 per frame; rails 2 per frame
    assert graph.explode(bom, 3) == {"bolt": 36.0, "bracket": 12.0, "rail": 6.0}


def test_explode_refuses_non_positive_units(bom: graph.Bom) -> None:
    with pytest.raises(InvalidInput):
        graph.explode(bom, 0)


def test_where_used_names_each_assembly(bom: graph.Bom) -> None:
    used = graph.where_used(bom, "bolt")
    assert [(u["assembly"], u["quantity"]) for u in used] == [("frame", 8.0), ("root", 4.0)]
    with pytest.raises(NotFound):
        graph.where_used(bom, "nothing")


def test_cost_rollup_counts_purchased_parts_and_labour(bom: graph.Bom) -> None:
    cost = graph.cost_rollup(bom, 2)
    assert cost["purchased_cost"] == {"EUR": round(2 * (2 * 12.5 + 12 * 0.05), 2)}
    assert cost["labour_h"] == 4.0


def test_flatten_lists_each_part_once_with_its_level(bom: graph.Bom) -> None:
    rows = {row["id"]: row for row in graph.flatten(bom)}
    assert rows["root"]["level"] == 0 and rows["frame"]["level"] == 1
    assert rows["bolt"]["quantity"] == 12.0 and rows["bolt"]["level"] == 1


def test_diff_between_versions(tmp_path: Path, bom: graph.Bom) -> None:
    parts = default_parts()
    parts[0]["children"][0]["quantity"] = 6  # more brackets
    parts[3]["unit-cost"] = 11.0  # cheaper rail
    parts = [p for p in parts if p["id"] != "bolt"]
    for p in parts:
        if p["kind"] == "assembly":
            p["children"] = [c for c in p["children"] if c["part"] != "bolt"]
    parts.append({"id": "screw", "kind": "purchased", "name": "M3x12"})
    parts[1]["children"].append({"part": "screw", "quantity": 12})
    new = load_package(write_package(tmp_path / "v2", version="1.1.0", parts=parts)).bom()
    result = graph.diff(bom, new)
    assert result["added"] == ["screw"] and result["removed"] == ["bolt"]
    changed = {c["id"]: c["fields"] for c in result["changed"]}
    assert changed["rail"]["unit_cost"] == {"old": 12.5, "new": 11.0}
    quantities = {q["id"]: (q["old"], q["new"]) for q in result["quantities_per_unit"]}
    assert quantities["bracket"] == (4.0, 6.0) and quantities["screw"] == (0.0, 12.0)


def test_tree_nests_children_with_quantities(bom: graph.Bom) -> None:
    tree = graph.tree(bom)
    frame = next(c for c in tree["children"] if c["id"] == "frame")
    assert {c["id"]: c["quantity"] for c in frame["children"]} == {"bolt": 8.0, "bracket": 4.0, "rail": 2.0}
