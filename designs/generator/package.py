"""A design package under construction: manifest tables plus file contents, written reproducibly."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from manifold3d import Manifold

from designs.generator.shapes import stl_bytes


@dataclass
class Package:
    """One design version: its [design] table, its parts in order, and its files."""

    folder: str
    design: dict[str, Any]
    parts: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    readme: str = ""

    def fabricated(
        self, part_id: str, name: str, process: str, material: str, path: str, data: bytes, **hints: Any
    ) -> None:
        """Add a made part whose file is `data`, stored at files/`path`."""
        file_path = f"files/{path}"
        self.files[file_path] = data
        self.parts.append(
            {
                "id": part_id,
                "kind": "fabricated",
                "name": name,
                "process": process,
                "material": material,
                "file": file_path,
                **_hints(hints),
            }
        )

    def printed(self, part_id: str, name: str, solid: Manifold, material: str = "pla", **hints: Any) -> None:
        """Add an FDM-printed part from a solid."""
        hints.setdefault("nozzle_mm", 0.4)
        self.fabricated(part_id, name, "fdm_print", material, f"{part_id}.stl", stl_bytes(solid), **hints)

    def purchased(self, part_id: str, name: str, cost: float, **fields: Any) -> None:
        """Add a bought part; fields are supplier, mpn, manufacturer, currency, lead_time_days, unit, url."""
        self.parts.append(
            {"id": part_id, "kind": "purchased", "name": name, "unit-cost": cost, **_hints(fields)}
        )

    def assembly(
        self,
        part_id: str,
        name: str,
        children: list[tuple[str, float]],
        labour_h: float,
        at: str = "build-site",
    ) -> None:
        """Add an assembly of (child id, quantity) pairs."""
        self.parts.append(
            {
                "id": part_id,
                "kind": "assembly",
                "name": name,
                "labour-h": labour_h,
                "assembled-at": at,
                "children": [{"part": child, "quantity": qty} for child, qty in children],
            }
        )

    def part(self, part_id: str) -> dict[str, Any]:
        """The part table with this id."""
        return next(p for p in self.parts if p["id"] == part_id)

    def manifest(self) -> dict[str, Any]:
        """The design.toml content, with the sha256 of every file filled in."""
        parts = []
        for part in self.parts:
            entry = dict(part)
            if "file" in entry:
                entry["sha256"] = hashlib.sha256(self.files[entry["file"]]).hexdigest()
            parts.append(entry)
        return {"design": self.design, "part": parts}

    def write(self, root: Path) -> Path:
        """Write the package folder under `root`, replacing any earlier copy."""
        target = root / self.folder
        if target.exists():
            shutil.rmtree(target)
        (target / "files").mkdir(parents=True)
        (target / "design.toml").write_bytes(tomli_w.dumps(self.manifest()).encode("utf-8"))
        for path, data in sorted(self.files.items()):
            (target / path).write_bytes(data)
        if self.readme:
            (target / "README.md").write_text(self.readme, encoding="utf-8")
        return target


def _hints(values: dict[str, Any]) -> dict[str, Any]:
    """Python keyword names to manifest keys: lead_time_days -> lead-time-days."""
    return {key.replace("_", "-"): value for key, value in values.items() if value is not None}
