"""The example packages in designs/: well formed, complete, sound meshes, reproducible."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from coordinator.bom.manifest import PROCESSES
from coordinator.mesh.analysis import analyze_mesh
from coordinator.mesh.bounds import fits
from designs import example_paths
from designs.generate import generate

PACKAGES = example_paths()
IDS = [p.name for p in PACKAGES]
REQUIRED = {"fabricated": {"process", "material", "file"}, "assembly": {"children"}, "purchased": set()}


def _manifest(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / "design.toml").read_text(encoding="utf-8"))


def _parts(folder: Path) -> dict[str, dict[str, Any]]:
    return {part["id"]: part for part in _manifest(folder)["part"]}


def test_the_examples_are_all_there() -> None:
    slugs = {_manifest(p)["design"]["slug"] for p in PACKAGES}
    examples = {"reprap-printer", "ceb-press", "arduino-uno-compatible", "spool-holder"}
    examples.add("wikispeed-chassis-module")
    assert slugs == examples
    assert len(PACKAGES) == 6


@pytest.mark.parametrize("folder", PACKAGES, ids=IDS)
def test_manifest_is_well_formed(folder: Path) -> None:
    design = _manifest(folder)["design"]
    assert re.fullmatch(r"[a-z0-9-]{2,64}", design["slug"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", design["version"])
    assert design["licenses"] and design["authors"] and design["description"]
    parts = _manifest(folder)["part"]
    assert len({p["id"] for p in parts}) == len(parts), "duplicate part ids"
    for part in parts:
        assert REQUIRED[part["kind"]] <= set(part), part["id"]
        if part["kind"] == "fabricated":
            assert part["process"] in PROCESSES, part["id"]


@pytest.mark.parametrize("folder", PACKAGES, ids=IDS)
def test_bom_graph_is_a_tree_of_known_parts_from_root(folder: Path) -> None:
    parts = _parts(folder)
    root = _manifest(folder)["design"]["root"]
    assert parts[root]["kind"] == "assembly"
    reached, stack = set(), [root]
    while stack:
        part = parts[stack.pop()]
        reached.add(part["id"])
        for child in part.get("children", []):
            assert child["part"] in parts, f"{part['id']} -> {child['part']}"
            assert child["quantity"] > 0
            if parts[child["part"]].get("unit", "pcs") == "pcs":
                assert float(child["quantity"]).is_integer(), child
            stack.append(child["part"])
    assert reached == set(parts), f"unreachable: {set(parts) - reached}"


@pytest.mark.parametrize("folder", PACKAGES, ids=IDS)
def test_every_file_exists_and_matches_its_sha256(folder: Path) -> None:
    for part in _parts(folder).values():
        if "file" in part:
            data = (folder / part["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == part["sha256"], part["id"]


@pytest.mark.parametrize("folder", PACKAGES, ids=IDS)
def test_every_mesh_is_one_watertight_body_that_fits_a_250_bed(folder: Path) -> None:
    for part in _parts(folder).values():
        if part.get("file", "").endswith(".stl"):
            report = analyze_mesh(folder / part["file"], material=part["material"])
            assert report.watertight and report.bodies == 1 and not report.problems, part["id"]
            assert fits(report.min_box_mm, (250, 250, 250)), part["id"]


def test_the_printer_has_thirty_printed_parts_in_six_sub_assemblies() -> None:
    parts = _parts(Path(PACKAGES[IDS.index("reprap-printer")]))
    printed = [p for p in parts.values() if p.get("process") == "fdm_print"]
    assert len(printed) >= 30
    root_children = {c["part"] for c in parts["printer"]["children"]}
    assert root_children == {"frame", "x-axis", "y-axis", "z-axis", "extruder", "electronics"}


def test_the_brace_only_fits_a_250_bed_along_its_diagonal() -> None:
    folder = PACKAGES[IDS.index("reprap-printer")]
    report = analyze_mesh(folder / "files" / "frame-diagonal-brace.stl")
    assert report.min_box_mm[0] > 250
    assert fits(report.min_box_mm, (250, 250, 250))
    assert not fits(report.min_box_mm, (220, 220, 250))


def test_printer_revision_changes_parts_and_records_lineage() -> None:
    old = _parts(PACKAGES[IDS.index("reprap-printer")])
    new_folder = PACKAGES[IDS.index("reprap-printer-1.1.0")]
    new = _parts(new_folder)
    assert _manifest(new_folder)["design"]["lineage"]["derivative-of"] == "reprap-printer@1.0.0"
    assert set(new) - set(old) == {"y-belt-tensioner"}
    assert set(old) - set(new) == {"frame-bar-clamp"}
    assert new["x-end-motor"]["sha256"] != old["x-end-motor"]["sha256"]
    assert new["frame-vertex-top"]["sha256"] == old["frame-vertex-top"]["sha256"]


def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    for folder in generate(tmp_path):
        committed = Path(PACKAGES[IDS.index(folder.name)])
        fresh = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        stored = {p.relative_to(committed): p.read_bytes() for p in committed.rglob("*") if p.is_file()}
        assert fresh.keys() == stored.keys(), folder.name
        changed = [str(name) for name in fresh if fresh[name] != stored[name]]
        assert not changed, f"{folder.name}: {changed}"


def test_examples_stay_small() -> None:
    total = sum(p.stat().st_size for folder in PACKAGES for p in folder.rglob("*") if p.is_file())
    assert total < 5 * 1024 * 1024
