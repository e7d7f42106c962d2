"""The design.toml manifest as pydantic models (docs/design-format.md is the prose of this file)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_snake

from coordinator.bom.licenses import check_spdx_expression, is_placeholder
from coordinator.bom.text import Code, Description, FileName, Label, MaterialName, Name, Notes, Unit, Url
from protocol.processes import FABRICATION_PROCESSES

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
PART_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)

PROCESSES = FABRICATION_PROCESSES  # a fabricated part names one (protocol/processes.py keeps the list)
DISCRETE_UNIT = "pcs"


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _Strict(BaseModel):
    # TOML can spell inf and nan; neither is a quantity, a price or a size, and neither is JSON.
    model_config = ConfigDict(
        extra="forbid", alias_generator=_kebab, populate_by_name=True, frozen=True, allow_inf_nan=False
    )


# Upper bounds keep every roll-up finite: a total is at most parts x quantity x units x price.
MAX_PRICE = 1e9
MAX_HOURS = 1e5
MAX_MM = 1e5


class Lineage(_Strict):
    derivative_of: Label = ""
    variant_of: Label = ""


class DesignInfo(_Strict):
    name: Name
    slug: str = Field(max_length=64)
    version: str = Field(max_length=64)
    # The version as the project writes it ("V2.0", "rev C") when `version` had to be normalised.
    version_label: str = Field("", max_length=64)
    licenses: list[Name] = Field(min_length=1, max_length=20)
    authors: list[Label] = Field(default_factory=list, max_length=200)
    contributors: list[Label] = Field(default_factory=list, max_length=1000)
    description: Description = ""
    root: str = Field("", max_length=128)
    homepage: Url = ""
    lineage: Lineage = Lineage()
    # A draft is documentation without a complete BOM: publishable, listed, never built.
    draft: str = Field("", max_length=2000)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError("use 2-64 lower-case letters, digits and '-'")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER_RE.match(value):
            raise ValueError(f"{value!r} is not a semantic version (MAJOR.MINOR.PATCH)")
        return value

    @field_validator("licenses")
    @classmethod
    def _spdx(cls, value: list[str]) -> list[str]:
        for expression in value:
            check_spdx_expression(expression)
        return value

    @field_validator("authors", "contributors")
    @classmethod
    def _people(cls, value: list[str]) -> list[str]:
        for person in value:
            if not person.strip() or is_placeholder(person):
                raise ValueError(f"{person!r} is a placeholder, not a person")
        return value

    @model_validator(mode="after")
    def _root_unless_draft(self) -> DesignInfo:
        if not self.root and not self.draft:
            raise ValueError("root is required (a design without a BOM is marked with draft = 'why')")
        return self

    @property
    def buildable(self) -> bool:
        """False for drafts: they are documentation until their BOM is complete."""
        return not self.draft


class _PartBase(_Strict):
    id: str = Field(max_length=128)
    name: Name
    notes: Notes = ""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not PART_ID_RE.match(value):
            raise ValueError("use letters, digits, '.', '-' and '_' (at most 128)")
        return value


class FabricatedPart(_PartBase):
    kind: Literal["fabricated"]
    process: Literal[PROCESSES]  # type: ignore[valid-type]
    material: MaterialName
    file: FileName
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    unit: Unit = DISCRETE_UNIT
    nozzle_mm: float | None = Field(None, gt=0, le=MAX_MM)
    tolerance_mm: float | None = Field(None, gt=0, le=MAX_MM)
    thickness_mm: float | None = Field(None, gt=0, le=MAX_MM)
    layer_height_mm: float | None = Field(None, gt=0, le=MAX_MM)
    infill: float | None = Field(None, ge=0, le=1)
    colour: Label = ""  # a colour the part must be made in ("" = any); matched against loaded spools

    @field_validator("material")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class PurchasedPart(_PartBase):
    kind: Literal["purchased"]
    supplier: Label = ""
    mpn: Code = ""
    manufacturer: Label = ""
    unit_cost: float | None = Field(None, ge=0, le=MAX_PRICE)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    lead_time_days: float | None = Field(None, ge=0, le=MAX_HOURS)
    url: Url = ""
    unit: Unit = DISCRETE_UNIT
    # Order codes by supplier ({"LCSC" = "C2296", "Digi-Key" = "490-1234-ND"}): every one a BOM named.
    skus: dict[Code, Url] = Field(default_factory=dict, max_length=50)  # a code, or the page to order from

    @field_validator("skus")
    @classmethod
    def _skus(cls, value: dict[str, str]) -> dict[str, str]:
        for supplier, sku in value.items():
            if not supplier.strip() or not sku.strip():
                raise ValueError(f"supplier {supplier!r} and its order code {sku!r} must both be given")
        return value


class Child(_Strict):
    part: str = Field(max_length=128)
    # Validated by the BOM checks (every problem reported at once), not here.
    quantity: float


class AssemblyPart(_PartBase):
    kind: Literal["assembly"]
    children: list[Child] = Field(min_length=1, max_length=10_000)
    labour_h: float = Field(0.0, ge=0, le=MAX_HOURS)
    assembled_at: Literal["build-site", "fablab"] = "build-site"
    unit: Literal["pcs"] = "pcs"


AnyPart = Annotated[FabricatedPart | PurchasedPart | AssemblyPart, Field(discriminator="kind")]

__all__ = [
    "AnyPart",
    "AssemblyPart",
    "Child",
    "DesignInfo",
    "FabricatedPart",
    "Lineage",
    "PurchasedPart",
    "check_spdx_expression",
    "to_snake",
]
