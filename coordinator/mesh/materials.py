"""Densities of the materials peerfab can estimate part masses for."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.errors import InvalidInput


@dataclass(frozen=True)
class Material:
    """A material with its bulk density in g/cm3."""

    name: str
    density_g_cm3: float
    aliases: tuple[str, ...] = ()


# Densities are typical datasheet values at room temperature; a printed part is lighter than
# density x volume only by its infill, which the mass estimate leaves to the caller.
MATERIALS: tuple[Material, ...] = (
    # Filaments: NatureWorks Ingeo 4043D datasheet (1.24); Eastman/Prusament PETG TDS (1.27);
    # Prusament ASA TDS (1.07); generic ABS (Ultimaker TDS 1.04 -- 1.10); Ultimaker TPU 95A TDS (1.22).
    Material("pla", 1.24, ("polylactic acid",)),
    Material("petg", 1.27, ("pet-g", "pet")),
    Material("abs", 1.04),
    Material("asa", 1.07),
    Material("tpu", 1.21, ("tpu95a", "flex")),
    Material("pc", 1.20, ("polycarbonate",)),
    # Nylon PA12 (EOS PA 2200 for SLS, 0.93 sintered; solid PA12 1.01) and PA6 (1.14).
    Material("nylon", 1.01, ("pa12", "nylon pa12", "pa", "pa 12")),
    Material("pa6", 1.14, ("nylon pa6",)),
    # Photopolymer resins: Formlabs Standard resin 1.09 -- 1.2 cured; the middle value.
    Material("resin", 1.15, ("sla resin", "photopolymer", "standard resin")),
    # Wood panels: birch plywood 0.6 -- 0.7; MDF 0.7 -- 0.8 (EN 622-5 typical 0.75).
    Material("plywood", 0.60, ("birch plywood", "ply")),
    Material("mdf", 0.75),
    Material("hdpe", 0.95, ("pe-hd",)),
    Material("pom", 1.41, ("acetal", "delrin")),
    # Cast PMMA (Evonik Plexiglas datasheet 1.19); 1.18 is the common extruded figure.
    Material("acrylic", 1.18, ("pmma", "plexiglas", "perspex")),
    # Metals: Al 6061/6082 2.70; carbon steel S235/S355 7.85 (EN 10025); 304/316 stainless 8.0.
    Material("aluminium", 2.70, ("aluminum", "al", "al6061", "aluminium_6061", "aluminium_6082")),
    Material("steel", 7.85, ("steel_s235", "steel_s355", "mild steel", "s235", "s355", "carbon steel")),
    Material("stainless", 8.00, ("stainless steel", "stainless_steel", "ss304", "ss316", "inox")),
    Material("brass", 8.50, ("cuzn37",)),
    Material("copper", 8.96, ("cu",)),
    # FR4 glass-epoxy laminate: IPC-4101/21 typical 1.85.
    Material("fr4", 1.85, ("fr-4", "fr_4")),
    Material("carbon_fiber_pla", 1.30, ("pla-cf", "cf-pla")),
)


def _normalise(name: str) -> str:
    return " ".join(name.strip().lower().replace("-", "_").split()).replace("_", " ")


def _index() -> dict[str, Material]:
    table: dict[str, Material] = {}
    for material in MATERIALS:
        for key in (material.name, *material.aliases):
            table[_normalise(key)] = material
    return table


_BY_NAME = _index()


def known_materials() -> list[str]:
    """Canonical names of every known material, sorted."""
    return sorted(m.name for m in MATERIALS)


def find_material(name: str) -> Material | None:
    """The material named `name` (case-insensitive, aliases allowed), or None."""
    return _BY_NAME.get(_normalise(name))


def get_material(name: str) -> Material:
    """The material named `name`; InvalidInput naming the known ones when unknown."""
    material = find_material(name)
    if material is None:
        raise InvalidInput(f"unknown material {name!r}; known materials: {', '.join(known_materials())}")
    return material


def density_g_cm3(name: str) -> float:
    """Density in g/cm3 of the material named `name`."""
    return get_material(name).density_g_cm3
