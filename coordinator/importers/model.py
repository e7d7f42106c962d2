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
    skus: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    unit_cost: float | None = None
    currency: str | None = None
    lead_time_days: float | None = None
    notes: str | None = None
    references: list[str] = field(default_factory=list)

    @property
    def sku(self) -> str | None:
        """The order code at the preferred supplier."""
        if self.supplier and self.supplier in self.skus:
            return self.skus[self.supplier]
        return next(iter(self.skus.values()), None)

    def to_part(self) -> dict[str, Any]:
        """The `[[part]]` table of design.toml for this part."""
        part: dict[str, Any] = {"id": self.id, "kind": "purchased", "name": self.name}
        for key in ("supplier", "mpn", "manufacturer", "url", "notes"):
            value = getattr(self, key)
            if value:
                part[key] = value
        if self.skus:
            part["skus"] = dict(self.skus)
        if self.unit_cost is not None:
            part["unit-cost"] = self.unit_cost
        if self.currency:
            part["currency"] = self.currency
        if self.lead_time_days is not None:
            part["lead-time-days"] = self.lead_time_days
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
        """The `[[part]]` tables (none for a draft)."""
        parts: list[dict[str, Any]] = self.manifest.get("part", [])
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
