"""What the importers produce: purchased-part lists and design packages waiting to be written."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class PurchasedPart:
    """One line of a bill of materials that is bought rather than made."""

    id: str
    name: str
    quantity: int | float
    line: int
    unit: str = "pcs"
    mpn: str | None = None
    manufacturer: str | None = None
    supplier: str | None = None
    sku: str | None = None
    url: str | None = None
    references: list[str] = field(default_factory=list)

    def to_part(self) -> dict[str, Any]:
        """The `[[part]]` table of design.toml for this part."""
        part: dict[str, Any] = {"id": self.id, "kind": "purchased", "name": self.name}
        if self.supplier:
            part["supplier"] = f"{self.supplier} (SKU {self.sku})" if self.sku else self.supplier
        for key in ("mpn", "manufacturer", "url"):
            value = getattr(self, key)
            if value:
                part[key] = value
        if self.unit != "pcs":
            part["unit"] = self.unit
        return part


@dataclass
class ImportedDesign:
    """A design package in memory: the design.toml content and the files to copy into it."""

    manifest: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def parts(self) -> list[dict[str, Any]]:
        """The `[[part]]` tables."""
        parts: list[dict[str, Any]] = self.manifest["part"]
        return parts

    def part(self, part_id: str) -> dict[str, Any]:
        """The part with this id (KeyError if none)."""
        for part in self.parts:
            if part["id"] == part_id:
                return part
        raise KeyError(part_id)


def quantity_value(value: float) -> int | float:
    """An int for whole numbers so TOML shows 2, not 2.0."""
    if value == int(value):
        return int(value)
    return value
