"""What each column of a BOM means: roles by header name, supplier order-code columns, known dialects.

A BOM export names its columns in its own way (KiCad, KiBoM, JLCPCB, Digi-Key, Mouser, Eagle, Kitspace,
the OKH-LOSH sBoM). Headers are compared after `normalize_header`; every dialect below was seen in a real
file (docs/importers.md names them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from coordinator.importers.tables import Table, normalize_header
from protocol.errors import InvalidInput

# Role -> header names, most specific first. A multi-word alias also matches a longer header it
# starts ("component name (august 12, 2019)").
ROLES: dict[str, tuple[str, ...]] = {
    "quantity": (
        "qty", "quantity", "quantity per pcb", "quantity per side", "qty per board", "count", "qnty",
        "units", "amount", "pcs", "menge", "anzahl", "stuck",
    ),
    "designators": (
        "designators", "designator", "references", "reference designators", "refdes", "ref des", "refs",
        "parts",
    ),
    "name": (
        "part name", "part name en", "component name", "name", "item", "designation", "title", "component",
        "description", "comment",
    ),
    "value": ("value", "val", "mpn value"),
    "package": ("footprint", "package", "case", "device"),
    "mpn": (
        "mpn", "mfg part no", "mfr part no", "manufacturer part number", "mfr part number", "manufacturer pn",
        "mfr pn", "mfg pn", "mf part no", "manufacturer partno", "manufacturer part no", "mfr no",
        "manufacturer part", "part number", "part code", "mpn value",
    ),
    "manufacturer": (
        "manufacturer", "part manufacturer", "mfr", "mfg", "mfr name", "brand", "manufacturer name",
    ),
    "supplier": ("supplier", "vendor", "distributor", "supplier name"),
    "sku": (
        "supplier part number", "supplier partno", "supplier part no", "supplier part", "supplier pn", "sku",
        "order code", "order number", "spn",
    ),
    "url": ("url", "link", "supplier url", "product url", "buy link", "product link", "datasheet url"),
    "unit": ("unit", "uom", "unit of measure"),
    "unit_cost": ("unit cost", "unit price", "price each"),
    "currency": ("currency",),
    "lead_time_days": ("lead time days", "lead time"),
    "notes": ("notes", "remarks", "note", "specifications", "specs"),
    "part_id": ("part id", "peerfab id"),
    "labour_h": ("labour h", "labor h", "labour hours"),
    "assembled_at": ("assembled at",),
}  # fmt: skip
ROLES["quantity"] += ("qty device", "qty per device", "quantity per device", "qty unit")
ROLES["name"] += ("part",)
# Headers whose column holds one supplier's order code, by the supplier's name.
SUPPLIER_HEADERS = {
    "digikey": "Digi-Key", "digi key": "Digi-Key", "digikey part number": "Digi-Key",
    "digi key part number": "Digi-Key", "digikey pn": "Digi-Key", "digikey part": "Digi-Key",
    "mouser": "Mouser", "mouser part number": "Mouser", "mouser no": "Mouser", "mouser part": "Mouser",
    "mouser pn": "Mouser", "mouser part no": "Mouser",
    "lcsc": "LCSC", "lcsc part": "LCSC", "lcsc part number": "LCSC", "lcsc pn": "LCSC", "jlcpcb part": "LCSC",
    "rs": "RS", "rs components": "RS", "rs part number": "RS", "rs stock no": "RS",
    "newark": "Newark", "farnell": "Farnell", "farnell part number": "Farnell", "tme": "TME",
    "arrow": "Arrow", "chip1stop": "Chip1stop", "koncar": "Koncar", "avneteu": "Avnet",
    "reichelt": "Reichelt",
    "reichelt de": "Reichelt", "conrad": "Conrad", "octopart": "Octopart", "adafruit": "Adafruit",
    "sparkfun": "SparkFun", "aliexpress": "AliExpress", "amazon": "Amazon", "qosina": "Qosina",
}  # fmt: skip
# Columns known to carry nothing a part needs (prices of a quantity, stock, datasheets).
INFORMATIONAL = re.compile(
    r"^(datasheet|dnp|dnf|fitted|stock|available|availability|total|extended|ext |price|cost|weight|"
    r"category|lib type|source|matches|warning|storage|order$|color|series|rohs|footprintlib|vertical|"
    r"side|lowcost|empty|id$|index|module|line item|coo$|pos$|position|type$|reference$|parent|"
    r"description de|part name de|supply type|doc ref|status|backorder|customer reference)"
)
_SUPPLIER_SUFFIX = re.compile(r"^(.+?) (part number|part no|partno|part|pn|sku|order code|order no|no)$")


@dataclass
class ColumnMap:
    """Where each role is in a table, the supplier order-code columns, and what was left unread."""

    roles: dict[str, int] = field(default_factory=dict)
    suppliers: list[tuple[int, str]] = field(default_factory=list)
    unread: list[int] = field(default_factory=list)
    dialect: str = "generic"

    def get(self, role: str) -> int | None:
        """The column of a role, None when the table has none."""
        return self.roles.get(role)


@dataclass(frozen=True)
class Dialect:
    """A BOM export recognised by headers it always has."""

    name: str
    requires: tuple[frozenset[str], ...]
    # Roles this exporter writes under its own header names (override the generic guess).
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # True when the quantity column means something else (an order quantity): count designators.
    count_designators: bool = False


def _any(*names: str) -> frozenset[str]:
    return frozenset(names)


DIALECTS = (
    Dialect(
        "jlcpcb-bom-tool",
        (_any("jlcpcb part"), _any("top designator")),
        {"designators": ("top designator", "bottom designator"), "name": ("comment",), "mpn": ("part",),
         "package": ("footprint",)},
        count_designators=True,
    ),
    Dialect("jlcpcb", (_any("lcsc part", "lcsc", "jlcpcb part"), _any("designator"), _any("comment")),
            {"name": ("comment",), "package": ("footprint",), "designators": ("designator",)}),
    Dialect("losh-sbom", (_any("pos"), _any("name"), _any("units"), _any("type", "reference"))),
    Dialect("kibom", (_any("quantity per pcb"), _any("references"))),
    Dialect("kicad-pcbnew", (_any("designator"), _any("designation"), _any("footprint")),
            {"name": ("designation",)}),
    Dialect("kicad", (_any("reference", "ref", "references"), _any("value"), _any("footprint")),
            {"designators": ("reference", "ref", "references")}),
    Dialect("eagle", (_any("part"), _any("value"), _any("device"), _any("package")),
            {"designators": ("part",), "package": ("package",)}),
    Dialect("digikey", (_any("digi key part number", "digikey part number"), _any("quantity", "qty"))),
    Dialect("mouser", (_any("mouser no", "mouser part number", "mouser part"), _any("mfr no", "qty"))),
    Dialect("kitspace", (_any("references"), _any("qty"))),
)  # fmt: skip


def known_headers() -> set[str]:
    """Every header name some role, supplier or dialect reads: a header row names several of them."""
    names = {alias for aliases in ROLES.values() for alias in aliases} | set(SUPPLIER_HEADERS)
    for dialect in DIALECTS:
        for group in dialect.requires:
            names |= group
    return names | {"pos", "type", "reference", "parent asm", "device"}


def detect_dialect(headers: Iterable[str]) -> Dialect | None:
    """The first dialect whose required headers are all present."""
    present = set(headers)
    for dialect in DIALECTS:
        if all(present & group for group in dialect.requires):
            return dialect
    return None


def map_columns(table: Table, overrides: Mapping[str, str] | None = None) -> ColumnMap:
    """Roles and supplier columns of a table; overrides ('role' or 'sku:Supplier' -> header) win."""
    headers = [normalize_header(h) for h in table.header]
    dialect = detect_dialect(headers)
    columns = ColumnMap(dialect=dialect.name if dialect else "generic")
    taken: set[int] = set()
    order = dict(dialect.roles) if dialect else {}
    for role, aliases in _generic_order().items():
        order.setdefault(role, aliases)
    for role, aliases in order.items():
        if role in columns.roles:
            continue
        index = _find(headers, aliases, taken)
        if index is not None:
            columns.roles[role] = index
            taken.add(index)
    if dialect is not None and "designators" in dialect.roles:
        _extra_designator_columns(headers, dialect, columns, taken)
    _supplier_columns(table, headers, columns, taken)
    _apply_overrides(table, headers, overrides or {}, columns, taken)
    columns.unread = [i for i, h in enumerate(headers) if i not in taken and h and not INFORMATIONAL.match(h)]
    return columns


def _generic_order() -> dict[str, tuple[str, ...]]:
    # MPN and supplier roles first: their multi-word names must not be taken as a part name.
    order = ("part_id", "quantity", "designators", "mpn", "sku", "supplier", "manufacturer", "unit_cost")
    return {role: ROLES[role] for role in order} | ROLES


def _find(headers: list[str], aliases: Iterable[str], taken: set[int]) -> int | None:
    for alias in aliases:
        for index, header in enumerate(headers):
            if index in taken:
                continue
            if header == alias or (" " in alias and header.startswith(alias + " ")):
                return index
    return None


def _extra_designator_columns(
    headers: list[str], dialect: Dialect, columns: ColumnMap, taken: set[int]
) -> None:
    # JLCPCB splits designators into top and bottom columns; both count.
    for alias in dialect.roles["designators"][1:]:
        index = _find(headers, (alias,), taken)
        if index is not None:
            columns.roles.setdefault("designators_2", index)
            taken.add(index)


def supplier_of_header(header: str) -> str | None:
    """The supplier whose order codes a column holds: 'LCSC Part #' -> 'LCSC', 'Mouse_r3' -> 'Mouser'."""
    squeezed = re.sub(r"\d+$", "", header.replace(" ", ""))
    for key, name in SUPPLIER_HEADERS.items():
        if header == key or squeezed == key.replace(" ", ""):
            return name
    if header.startswith("sku "):
        return header[4:].strip().title() or None
    match = _SUPPLIER_SUFFIX.match(header)
    if match and match.group(1) in SUPPLIER_HEADERS:
        return SUPPLIER_HEADERS[match.group(1)]
    return None


def _supplier_columns(table: Table, headers: list[str], columns: ColumnMap, taken: set[int]) -> None:
    for index, header in enumerate(headers):
        if index in taken:
            continue
        raw = table.header[index].strip()
        name = _sku_header_name(raw) or supplier_of_header(header)
        if name:
            columns.suppliers.append((index, name))
            taken.add(index)


def _sku_header_name(raw: str) -> str | None:
    """'SKU Digi-Key' (how peerfab writes an sBoM) keeps the supplier's spelling."""
    match = re.match(r"^SKU[ :]+(.+)$", raw, re.IGNORECASE)
    return match.group(1).strip() if match else None


def _apply_overrides(
    table: Table, headers: list[str], overrides: Mapping[str, str], columns: ColumnMap, taken: set[int]
) -> None:
    for role, header in overrides.items():
        index = _find(headers, (normalize_header(header),), set())
        if index is None:
            raise table.error(
                table.header_line, None, f"--column {role}={header}: no column named {header!r}"
            )
        if role.startswith("sku:"):
            columns.suppliers.append((index, role[4:].strip()))
        elif role == "ignore":
            pass
        elif role in ROLES:
            columns.roles[role] = index
        else:
            known = ", ".join([*sorted(ROLES), "sku:SUPPLIER", "ignore"])
            raise InvalidInput(f"--column {role}={header}: unknown role {role!r} (known: {known})")
        taken.add(index)
