"""Any part that validates is written to design.toml by the package writer and read back unchanged."""

from __future__ import annotations

import string
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator.bom.package import load_package
from coordinator.bom.text import BIDI_CONTROLS
from coordinator.importers import ImportedDesign, write_package
from coordinator.importers.package import manifest_text

ID_START = string.ascii_letters + string.digits
ID_REST = ID_START + "._-"
part_ids = st.builds(lambda a, b: a + b, st.sampled_from(ID_START), st.text(ID_REST, max_size=127))
# Names are free text: quotes, backslashes, newlines, brackets, '=' and any Unicode letter.
# printable one-line text: control and bidirectional control characters are refused in names
names = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="".join(BIDI_CONTROLS)),
    min_size=1,
    max_size=200,
).filter(str.strip)
codes = st.dictionaries(names.map(lambda n: n[:40]), names.map(lambda n: n[:40]), max_size=4)


@st.composite
def designs(draw: st.DrawFn) -> dict[str, Any]:
    """A root assembly holding purchased parts and one nested assembly, with generated ids and names."""
    ids = draw(st.lists(part_ids, min_size=3, max_size=8, unique=True))
    root, sub, *leaves = ids
    parts: list[dict[str, Any]] = []
    for leaf in leaves:
        part = {"id": leaf, "kind": "purchased", "name": draw(names)}
        skus = {k.strip() or "s": v.strip() or "c" for k, v in draw(codes).items()}
        if skus:
            part["skus"] = skus
        if draw(st.booleans()):
            part["notes"] = draw(names)
        parts.append(part)
    children = [{"part": leaf, "quantity": draw(st.integers(1, 10_000))} for leaf in leaves]
    sub_part = {"id": sub, "kind": "assembly", "name": draw(names), "children": children}
    root_part = {
        "id": root,
        "kind": "assembly",
        "name": draw(names),
        "children": [{"part": sub, "quantity": 1}],
    }
    design = {"name": draw(names), "slug": "generated", "version": "1.0.0", "licenses": ["MIT"], "root": root}
    return {"design": design, "part": [root_part, sub_part, *parts]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_any_valid_design_round_trips_through_design_toml(manifest: dict[str, Any]) -> None:
    assert tomllib.loads(manifest_text(manifest)) == manifest
    with tempfile.TemporaryDirectory() as tmp:
        out = write_package(ImportedDesign(manifest=manifest), Path(tmp) / "package")
        package = load_package(out)
        assert package.ok, package.error_report()
        assert package.raw == manifest
