"""Import an OKH-LOSH v1 `okh.toml` manifest (and its BOM) as a design package."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from coordinator.importers.model import ImportedDesign
from coordinator.importers.okh_assemble import assemble
from coordinator.importers.okh_meta import design_info, physical_notes
from coordinator.importers.okh_parts import OkhParts
from coordinator.importers.project import Project
from protocol.errors import InvalidInput

REQUIRED = ("name", "license", "licensor")
# Names of the early OKH-LOSH drafts (LOSH-dummy-MOSH-D) still found in published manifests.
_ALIASES = {"license": "spdx-license"}


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: invalid TOML: {exc}") from exc


def import_losh(
    manifest: Path,
    bom_path: Path | None = None,
    *,
    slug: str | None = None,
    version: str | None = None,
) -> ImportedDesign:
    """An ImportedDesign from an okh.toml, its `[[part]]` tables, part manifests and BOMs."""
    manifest = Path(manifest)
    data = load_toml(manifest)
    if not data:
        raise InvalidInput(f"{manifest}: the manifest is empty (no fields)")
    missing = [key for key in REQUIRED if not data.get(key) and not data.get(_ALIASES.get(key, ""))]
    if missing:
        raise InvalidInput(f"{manifest}: missing required field(s): {', '.join(missing)}")
    imported = ImportedDesign(manifest={}, files={f"imported/{manifest.name}": manifest})
    info = design_info(data, str(manifest), slug, version, imported.warnings)
    info.description = _with_notes(info.description, physical_notes(data, str(manifest), imported.warnings))
    project = Project.around(manifest, [data.get("repo"), data.get("release")])
    parts = OkhParts.of(project, manifest, data, imported)
    # Early OKH-LOSH manifests (LOSH-dummy-MOSH-D) name the field `simplified-bom`.
    return assemble(manifest, data.get("bom", data.get("simplified-bom")), bom_path, info, parts)


def _with_notes(description: str, notes: str) -> str:
    return f"{description} ({notes})" if notes else description
