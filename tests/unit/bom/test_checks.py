from __future__ import annotations

from pathlib import Path

from coordinator.bom.package import load_package
from tests.support.packages import default_parts, write_package


def codes(folder: Path) -> dict[str, list[tuple[str, ...]]]:
    result: dict[str, list[tuple[str, ...]]] = {}
    for problem in load_package(folder).problems:
        result.setdefault(problem.code, []).append(problem.parts)
    return result


def test_valid_package_has_no_problem(tmp_path: Path) -> None:
    package = load_package(write_package(tmp_path))
    assert package.ok, package.error_report()
    assert package.info.slug == "test-machine"
    assert set(package.check.parts) == {"root", "frame", "bracket", "rail", "bolt"}


def test_cycle_is_reported_as_a_path(tmp_path: Path) -> None:
    parts = default_parts()
    parts.append(
        {"id": "sub", "kind": "assembly", "name": "Sub", "children": [{"part": "frame", "quantity": 1}]}
    )
    parts[0]["children"].append({"part": "sub", "quantity": 1})
    package = load_package(write_package(tmp_path, parts=parts))
    cycles = [p for p in package.errors if p.code == "cycle"]
    assert len(cycles) == 1
    assert set(cycles[0].parts) == {"frame", "sub"}
    assert "frame -> sub -> frame" in cycles[0].message or "sub -> frame -> sub" in cycles[0].message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    parts = default_parts()
    parts[0]["children"] += [
        {"part": "ghost", "quantity": 1},
        {"part": "rail", "quantity": -1},
    ]
    parts[1]["children"].append({"part": "bolt", "quantity": 2.5})
    parts.append({"id": "bolt", "kind": "purchased", "name": "duplicate"})
    parts.append({"id": "lonely", "kind": "fabricated", "name": "No file", "process": "fdm_print",
                  "material": "pla", "file": "files/missing.stl"})  # fmt: skip
    parts.append({"id": "nofile", "kind": "fabricated", "name": "No file field", "process": "laser_cut",
                  "material": "mdf"})  # fmt: skip
    found = codes(write_package(tmp_path, parts=parts))
    assert ("frame", "ghost") in found["dangling-reference"]
    assert ("frame", "rail") in found["bad-quantity"]
    assert ("root", "bolt") in found["bad-quantity"]
    assert ("bolt",) in found["duplicate-id"]
    assert ("lonely",) in found["missing-file"]
    assert ("nofile",) in found["invalid-part"]
    assert ("lonely",) in found["unreachable"]


def test_fractional_quantity_is_fine_for_a_part_measured_in_metres(tmp_path: Path) -> None:
    parts = default_parts()
    parts.append({"id": "cable", "kind": "purchased", "name": "Cable", "unit": "m"})
    parts[1]["children"].append({"part": "cable", "quantity": 1.5})
    assert load_package(write_package(tmp_path, parts=parts)).ok


def test_sha256_mismatch_and_escaping_paths(tmp_path: Path) -> None:
    parts = default_parts()
    parts[2]["sha256"] = "0" * 64
    parts.append({"id": "evil", "kind": "fabricated", "name": "Evil", "process": "fdm_print",
                  "material": "pla", "file": "../outside.stl"})  # fmt: skip
    parts[1]["children"].append({"part": "evil", "quantity": 1})
    found = codes(write_package(tmp_path / "pkg", parts=parts))
    assert ("bracket",) in found["sha256-mismatch"]
    assert ("evil",) in found["bad-path"]


def test_unknown_fields_bad_version_and_licence_are_named(tmp_path: Path) -> None:
    parts = default_parts()
    parts[3]["colour"] = "red"
    folder = write_package(
        tmp_path, parts=parts, version="1.0", design_extra={"licenses": ["MIT OR"], "maintainer": "x"}
    )
    messages = "\n".join(p.message for p in load_package(folder).errors)
    assert "colour: unknown field" in messages
    assert "maintainer: unknown field" in messages
    assert "'1.0' is not a semantic version" in messages
    assert "SPDX" in messages


def test_root_must_be_an_assembly(tmp_path: Path) -> None:
    found = codes(write_package(tmp_path, root="bolt"))
    assert ("bolt",) in found["bad-root"]
