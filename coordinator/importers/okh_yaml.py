"""Import an Internet of Production OKH v1 `okh.yml` manifest, read strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from coordinator.importers.model import ImportedDesign
from coordinator.importers.naming import design_slug, design_version, version_label
from coordinator.importers.okh_assemble import assemble
from coordinator.importers.okh_meta import licenses, persons
from coordinator.importers.okh_parts import OkhParts
from coordinator.importers.package import DesignInfo
from coordinator.importers.project import Project, is_url
from protocol.errors import InvalidInput

REQUIRED = ("title", "description", "license", "licensor")


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping that names the same key twice."""


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses mappings with a repeated key instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping after checking that no key appears twice."""
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if not isinstance(key, list | dict) and key in seen:
                first = seen[key].start_mark.line + 1
                raise DuplicateKeyError(
                    context=f"key {key!r} first defined at line {first}",
                    problem=f"duplicate key {key!r} at line {key_node.start_mark.line + 1}",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse an OKH YAML manifest strictly; every error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506  # StrictLoader is a SafeLoader
    except DuplicateKeyError as exc:
        raise InvalidInput(f"{path}: {exc.problem} ({exc.context})") from exc
    except yaml.MarkedYAMLError as exc:
        raise InvalidInput(_yaml_error(path, text, exc)) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: invalid YAML: {exc}") from exc
    if data is None:
        raise InvalidInput(f"{path}: the manifest is empty (only comments or blank lines)")
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: the manifest must be a mapping of fields, not {type(data).__name__}")
    return data


def _yaml_error(path: Path, text: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return f"{path}: invalid YAML: {exc.problem}"
    lines = text.splitlines()
    source = lines[mark.line] if mark.line < len(lines) else ""
    pointer = " " * mark.column + "^"
    return (
        f"{path}, line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {exc.problem}\n"
        f"    {source}\n    {pointer}"
    )


def import_okh_v1(
    manifest: Path,
    bom_path: Path | None = None,
    *,
    slug: str | None = None,
    version: str | None = None,
) -> ImportedDesign:
    """An ImportedDesign from an okh.yml; parts come from its BOM when one is readable."""
    manifest = Path(manifest)
    data = load_yaml(manifest)
    _check_required(manifest, data)
    imported = ImportedDesign(manifest={}, files={f"imported/{manifest.name}": manifest})
    info = _design_info(data, str(manifest), slug, version, imported.warnings)
    links = [data.get(k) for k in ("project-link", "documentation-home", "archive-download", "repo")]
    project = Project.around(manifest, links)
    parts = OkhParts(project, manifest, [], imported)
    return assemble(manifest, data.get("bom"), bom_path, info, parts)


def _check_required(manifest: Path, data: dict[str, Any]) -> None:
    missing = [key for key in REQUIRED if not data.get(key)]
    if not (data.get("project-link") or data.get("documentation-home")):
        missing.append("project-link or documentation-home")
    if missing:
        raise InvalidInput(f"{manifest}: missing required field(s): {', '.join(missing)}")


def _design_info(
    data: dict[str, Any], where: str, slug: str | None, version: str | None, warnings: list[str]
) -> DesignInfo:
    name = str(data["title"]).strip()
    link = data.get("project-link") or data.get("documentation-home")
    semver = design_version(data.get("version"), version, where, warnings)
    return DesignInfo(
        name=name,
        slug=design_slug(name, slug, f"{where}: title {name!r}"),
        version=semver,
        version_label=version_label(data.get("version"), semver) if version is None else "",
        licenses=licenses(data["license"], where, warnings),
        authors=persons(data["licensor"], where, "licensor"),
        contributors=persons(data.get("contributors"), where, "contributors"),
        description=str(data["description"]).strip(),
        homepage=str(link) if isinstance(link, str) and is_url(link) else "",
    )
