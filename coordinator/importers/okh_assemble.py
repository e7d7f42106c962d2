"""The steps both OKH versions share: find the BOMs, read them into the parts, or make a draft."""

from __future__ import annotations

from pathlib import Path

from coordinator.importers.model import ImportedDesign
from coordinator.importers.naming import name_id
from coordinator.importers.okh_bom import BomImport, BomSearch, find_boms, missing_bom_error, read_bom
from coordinator.importers.okh_parts import OkhParts
from coordinator.importers.package import DesignInfo, package_files_path


def assemble(
    manifest: Path, bom_link: object, bom_path: Path | None, info: DesignInfo, parts: OkhParts
) -> ImportedDesign:
    """Fill the import with the BOM's parts; a manifest without any becomes a draft."""
    imported, project = parts.imported, parts.project
    root = _root(parts, info)
    search = find_boms(project, manifest, bom_link, bom_path)
    if search.missing and not search.files and not parts.sources and project.is_clone:
        raise missing_bom_error(manifest, search)
    reader = BomImport(parts.builder, parts.match, imported.warnings)
    for bom_file in search.files:
        relative = (
            bom_file.resolve().relative_to(project.root).as_posix()
            if _inside(bom_file, project.root)
            else bom_file.name
        )
        imported.files[package_files_path(relative, "imported")] = bom_file
        target = root
        if len(search.files) > 1:
            # OKH 2.4 lists one BOM per module of the project: each becomes an assembly of the root.
            target = parts.builder.assembly(name_id(bom_file.stem), bom_file.stem)
            parts.builder.link(root, target, 1)
        reader.add_all(read_bom(bom_file), target)
    parts.link_unused(root, bool(search.files))
    if search.notes and (parts.sources or search.files or not _draft(parts, root)):
        imported.warnings += [f"{manifest}: {note}" for note in search.notes]
    if _draft(parts, root):
        info.draft = info.draft or draft_reason(search)
        imported.warnings.append(f"{manifest}: imported as a draft: {info.draft}")
        imported.manifest = {"design": info.table(""), "part": []}
    else:
        imported.manifest = {"design": info.table(root), "part": parts.builder.tables(root)}
    return imported


def _root(parts: OkhParts, info: DesignInfo) -> str:
    """The root assembly: the design itself, as peerfab named it when it wrote the manifest."""
    own = info.root_part
    root = parts.builder.assembly(str(own.get("id") or info.slug), str(own.get("name") or info.name))
    for key in ("labour-h", "assembled-at"):
        if key in own:
            parts.builder.parts[root][key] = own[key]
    return root


def _draft(parts: OkhParts, root: str) -> bool:
    return not parts.builder.parts[root]["children"]


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


def draft_reason(search: BomSearch) -> str:
    """What a designer must add to make the design buildable."""
    return (
        f"no bill of materials could be read ({search.why_none}); add a CSV BOM "
        "(peerfab design import-okh ... --bom FILE) to make it buildable"
    )
