"""Design metadata (names, licences, people, sizes) read from OKH manifests of either version."""

from __future__ import annotations

from typing import Any

from coordinator.bom.licenses import is_placeholder, split_conjunction
from coordinator.importers.naming import design_slug, design_version, spdx_license, version_label
from coordinator.importers.package import DesignInfo
from coordinator.importers.project import is_url
from protocol.errors import InvalidInput

# Keys of a licence table, hardware first: the design's own licence leads the list.
_LICENSE_KEYS = ("spdx", "spdx-license", "hardware", "documentation", "software")
_DIMENSIONS = ("width", "depth", "height", "length", "diameter")


def design_info(
    data: dict[str, Any],
    where: str,
    slug: str | None,
    version: str | None,
    warnings: list[str],
) -> DesignInfo:
    """The [design] table of an OKH-LOSH manifest (and its `[peerfab]` table when peerfab wrote it)."""
    name = _text(data, "name", where)
    own: dict[str, Any] = data["peerfab"] if isinstance(data.get("peerfab"), dict) else {}
    authors = persons(data.get("licensor"), where, "licensor")
    for organization in _organizations(data.get("organization", data.get("organisation"))):
        if not any(organization in author for author in authors):
            authors.append(organization)
    repo = data.get("repo")
    semver = design_version(own.get("version") or data.get("version"), version, where, warnings)
    return DesignInfo(
        name=name,
        slug=design_slug(name, slug if slug is not None else own.get("slug"), f"{where}: name {name!r}"),
        version=semver,
        version_label=version_label(data.get("version"), semver) if version is None else "",
        licenses=licenses(data.get("license") or data.get("spdx-license"), where, warnings),
        authors=authors,
        contributors=persons(data.get("contributors"), where, "contributors"),
        description=str(data.get("function") or data.get("description") or name).strip(),
        homepage=repo if isinstance(repo, str) and is_url(repo) else "",
        lineage={k: str(v) for k, v in (own.get("lineage") or {}).items() if v},
        draft=str(own.get("draft") or ""),
        root_part=dict(own["root"]) if isinstance(own.get("root"), dict) else {},
    )


def _organizations(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip() and not is_placeholder(name):
            names.append(name.strip())
    return names


def licenses(value: object, where: str, warnings: list[str]) -> list[str]:
    """SPDX licences from a string, a list, or a table (spdx / hardware / documentation...).
    A top-level AND is split: every licence of the list applies, as in design.toml."""
    if isinstance(value, str):
        raw = [value]
    elif isinstance(value, list):
        raw = [v for v in value if isinstance(v, str)]
    elif isinstance(value, dict):
        raw = [value[k] for k in _LICENSE_KEYS if isinstance(value.get(k), str)]
    else:
        raw = []
    found: list[str] = []
    for text in raw:
        if not text.strip():
            continue
        spdx = spdx_license(text, f"{where}: field 'license'", warnings)
        for part in split_conjunction(spdx):
            if part not in found:
                found.append(part)
    if not found:
        raise InvalidInput(f"{where}: field 'license' holds no licence")
    return found


def persons(value: object, where: str, key: str) -> list[str]:
    """'Name <email>' strings from a string ('A; B' is two), a {name, affiliation, email} table or a list."""
    items = value if isinstance(value, list) else [value] if value else []
    people = []
    for item in items:
        if isinstance(item, str) and item.strip():
            people += [p.strip() for p in item.split(";") if p.strip()]
        elif isinstance(item, dict) and str(item.get("name") or "").strip():
            people.append(_person(item))
        else:
            raise InvalidInput(f"{where}: field {key!r} has an entry with no name: {item!r}")
    for person in people:
        if is_placeholder(person):
            raise InvalidInput(f"{where}: field {key!r} = {person!r} is a placeholder, not a person")
    return people


def _person(item: dict[str, Any]) -> str:
    """'Name (Affiliation) <email>' from an OKH person table."""
    text = str(item["name"]).strip()
    affiliation = str(item.get("affiliation") or "").strip()
    email = str(item.get("email") or "").strip()
    if affiliation:
        text += f" ({affiliation})"
    return f"{text} <{email}>" if email else text


def physical_notes(table: dict[str, Any], where: str, warnings: list[str]) -> str:
    """'mass 120 g; outer dimensions 250 x 500 x 500 mm' from mass and outer-dimensions."""
    notes = []
    mass = _number(table.get("mass"), f"{where}: mass", warnings)
    if mass is not None:
        notes.append(f"mass {mass:g} g")
    size = _dimensions(table, where, warnings)
    if size:
        notes.append(f"outer dimensions {size}")
    return "; ".join(notes)


def _dimensions(table: dict[str, Any], where: str, warnings: list[str]) -> str:
    value = table.get("outer-dimensions", table.get("outer-dimension"))
    unit = str(table.get("outer-dimension-dim") or "mm")
    if isinstance(value, str) and value.strip():
        return f"{value.strip()} {unit}"
    if not isinstance(value, dict):
        return ""
    unit = str(value.get("unit") or unit)
    if isinstance(value.get("openSCAD"), str):
        return f"{value['openSCAD'].strip()} {unit}"
    sizes = []
    for key in _DIMENSIONS:
        number = _number(value.get(key), f"{where}: outer-dimensions.{key}", warnings)
        if number is not None:
            sizes.append(f"{number:g}")
    return f"{' x '.join(sizes)} {unit}" if sizes else ""


def _number(value: object, where: str, warnings: list[str]) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        warnings.append(f"{where} = {value!r} is not a number; dropped")
        return None


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: field {key!r} must be a non-empty string")
    if is_placeholder(value):
        raise InvalidInput(f"{where}: field {key!r} = {value.strip()!r} is a placeholder")
    return value.strip()
