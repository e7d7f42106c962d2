"""Importers of published open-hardware formats (OKH manifests, KiCad and Kitspace BOMs)."""

from __future__ import annotations

from pathlib import Path

from coordinator.importers.bom_csv import read_csv_bom, read_kicad_bom, read_kitspace_bom
from coordinator.importers.model import ImportedDesign, PurchasedPart
from coordinator.importers.okh_toml import import_losh
from coordinator.importers.okh_yaml import import_okh_v1, load_yaml
from coordinator.importers.package import package_purchased, write_package
from protocol.errors import InvalidInput

__all__ = [
    "ImportedDesign",
    "PurchasedPart",
    "import_okh",
    "load_yaml",
    "package_purchased",
    "read_csv_bom",
    "read_kicad_bom",
    "read_kitspace_bom",
    "write_package",
]


def import_okh(
    manifest_path: Path,
    bom_path: Path | None = None,
    *,
    slug: str | None = None,
    version: str | None = None,
) -> ImportedDesign:
    """Import an OKH manifest: okh.toml (OKH-LOSH v1) or okh.yml (OKH v1), by its suffix."""
    manifest = Path(manifest_path)
    suffix = manifest.suffix.lower()
    if suffix == ".toml":
        return import_losh(manifest, bom_path, slug=slug, version=version)
    if suffix in (".yml", ".yaml"):
        return import_okh_v1(manifest, bom_path, slug=slug, version=version)
    raise InvalidInput(f"{manifest}: not an OKH manifest (expected okh.toml or okh.yml)")
