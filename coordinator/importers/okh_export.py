"""A design version written as an OKH-LOSH project: okh.toml, its sBoM, part manifests and the files.

What OKH-LOSH has a field for goes there (name, repo, version, license, licensor, function, bom; per
part: name, tsdc, material, manufacturing-process, export). The sBoM carries the usual POS, NAME, UNITS,
TYPE and REFERENCE and, in further columns, what a purchased part needs to be ordered (PART-ID, UNIT,
MPN, MANUFACTURER, SUPPLIER, URL, UNIT-COST, ... and one `SKU <supplier>` column per supplier).
The few design.toml fields OKH has no place for (the slug, lineage, a draft's reason) go to a
`[peerfab]` table, which OKH tools ignore; `import-okh` reads all of it back.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from coordinator.bom.manifest import DesignInfo
from coordinator.importers.project import is_url
from protocol.errors import InvalidInput

OKHV = "OKH-LOSHv1.0"
SBOM = "sBoM.csv"
PART_DIR = "parts"
# OH-TsDC of each process (the documentation criteria a part of that process follows).
TSDC = {
    "fdm_print": "3DP", "sla_print": "3DP", "sls_print": "3DP", "cnc_mill": "CNC", "cnc_router": "CNC",
    "cnc_lathe": "CNC", "laser_cut": "LAS", "plasma_cut": "MEC", "waterjet_cut": "MEC", "pcb_mill": "PCB",
    "pcb_fab": "PCB", "pcb_assembly": "PCB", "weld": "WEL", "sheet_bend": "MEC",
}  # fmt: skip
HINTS = ("nozzle-mm", "tolerance-mm", "thickness-mm", "layer-height-mm", "infill")
_COLUMNS = (
    "POS", "NAME", "UNITS", "TYPE", "REFERENCE", "PART-ID", "UNIT", "MPN", "MANUFACTURER", "SUPPLIER",
    "URL", "UNIT-COST", "CURRENCY", "LEAD-TIME-DAYS", "LABOUR-H", "ASSEMBLED-AT", "NOTES",
)  # fmt: skip


@dataclass(frozen=True)
class ExportSource:
    """A design version to export: its design.toml content and its files by package path."""

    manifest: Mapping[str, Any]
    files: Mapping[str, Path]


def export_zip(source: ExportSource, repo: str = "") -> bytes:
    """The OKH-LOSH project as a .zip, everything in one top-level folder named slug-version."""
    info = DesignInfo.model_validate(source.manifest["design"])
    top = f"{info.slug}-{info.version}"
    with tempfile.TemporaryDirectory(prefix="peerfab-okh-") as tmp:
        folder = Path(tmp) / top
        written = export_okh(source, folder, repo)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for relative in sorted(written):
                archive.write(folder / relative, f"{top}/{relative}")
    return buffer.getvalue()


def export_okh(source: ExportSource, out_dir: Path, repo: str = "") -> list[str]:
    """Write the OKH-LOSH project into out_dir (created, must be empty); return the paths written."""
    info = DesignInfo.model_validate(source.manifest["design"])
    repo_url = _repo(info, repo)
    parts = {p["id"]: p for p in source.manifest.get("part", [])}
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InvalidInput(f"{out_dir}: folder is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = _copy_files(source.files, out_dir)
    common = _common(info, repo_url)
    if parts:
        written += _write_parts(out_dir, parts, common)
        (out_dir / SBOM).write_text(sbom_text(info.root, parts), encoding="utf-8")
        written.append(SBOM)
    manifest = _module_manifest(info, common, parts, readme="README.md" in source.files)
    (out_dir / "okh.toml").write_text(tomli_w.dumps(manifest), encoding="utf-8")
    return ["okh.toml", *written]


def _repo(info: DesignInfo, repo: str) -> str:
    url = repo or info.homepage
    if not url or not is_url(url) or not url.startswith(("http://", "https://")):
        raise InvalidInput(
            f"{info.slug}@{info.version}: OKH needs the URL of the project's repository ('repo'); "
            "the design has no homepage, pass --repo URL"
        )
    return url


def _common(info: DesignInfo, repo: str) -> dict[str, Any]:
    if not info.authors:
        raise InvalidInput(f"{info.slug}@{info.version}: OKH needs a licensor; the design names no author")
    return {
        "okhv": OKHV,
        "repo": repo,
        "version": info.version_label or info.version,
        "license": license_expression(info.licenses),
        "licensor": "; ".join(info.authors),
    }


def license_expression(licenses: list[str]) -> str:
    """design.toml's list (all apply) as one SPDX expression: 'A AND (B OR C)'."""
    parts = [f"({text})" if " OR " in text or " AND " in text else text for text in licenses]
    return parts[0].strip("()") if len(parts) == 1 else " AND ".join(parts)


def _module_manifest(
    info: DesignInfo, common: dict[str, Any], parts: Mapping[str, dict[str, Any]], readme: bool
) -> dict[str, Any]:
    manifest: dict[str, Any] = {"okhv": common["okhv"], "name": info.name}
    manifest |= {k: v for k, v in common.items() if k != "okhv"}
    manifest["function"] = info.description or info.name
    if readme:
        manifest["readme"] = "README.md"
    if parts:
        manifest["bom"] = SBOM
    if info.contributors:
        manifest["contributors"] = list(info.contributors)
    own: dict[str, Any] = {"slug": info.slug}
    if info.version_label:
        own["version"] = info.version
    lineage = info.lineage.model_dump(by_alias=True, exclude_defaults=True)
    if lineage:
        own["lineage"] = lineage
    if info.draft:
        own["draft"] = info.draft
    if info.root in parts:
        root = parts[info.root]
        keys = ("id", "name", "labour-h", "assembled-at")
        own["root"] = {key: root[key] for key in keys if key in root}
    manifest["peerfab"] = own
    return manifest


def _write_parts(out_dir: Path, parts: Mapping[str, dict[str, Any]], common: dict[str, Any]) -> list[str]:
    written = []
    folder = out_dir / PART_DIR
    for part in parts.values():
        if part["kind"] != "fabricated":
            continue
        folder.mkdir(exist_ok=True)
        path = f"{PART_DIR}/okh-{part['id']}.toml"
        (out_dir / path).write_text(tomli_w.dumps(part_manifest(part, common)), encoding="utf-8")
        written.append(path)
    return written


def part_manifest(part: Mapping[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    """The OKH-LOSH manifest of one fabricated part, complete on its own (it repeats the module's
    licence and licensor, so a tool that reads it alone accepts it too)."""
    manifest: dict[str, Any] = {"okhv": common["okhv"], "name": part["name"]}
    manifest |= {k: v for k, v in common.items() if k != "okhv"}
    manifest |= {
        "function": part.get("notes") or part["name"],
        "tsdc": TSDC[part["process"]],
        "material": part["material"],
        "manufacturing-process": part["process"],
        "export": ["/" + part["file"]],
    }
    manifest |= {key: part[key] for key in HINTS if part.get(key) is not None}
    if part.get("notes"):
        manifest["notes"] = part["notes"]
    return manifest


def sbom_text(root: str, parts: Mapping[str, dict[str, Any]]) -> str:
    """The sBoM: every line of the tree under root, positions dotted by level (2.1 is in 2)."""
    suppliers = sorted({name for p in parts.values() for name in (p.get("skus") or {})})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*_COLUMNS, *(f"SKU {name}" for name in suppliers)])
    for pos, child_id, quantity in _walk(root, parts, ""):
        writer.writerow(_row(pos, parts[child_id], quantity, suppliers))
    return buffer.getvalue()


def _walk(
    assembly: str, parts: Mapping[str, dict[str, Any]], prefix: str
) -> Iterator[tuple[str, str, float]]:
    """The tree under `assembly` depth first, without recursion (a BOM may be deep)."""
    stack = [(prefix, iter(enumerate(parts[assembly].get("children", []), 1)))]
    while stack:
        here, children = stack[-1]
        step = next(children, None)
        if step is None:
            stack.pop()
            continue
        number, edge = step
        pos = f"{here}{number}"
        yield pos, edge["part"], edge["quantity"]
        if parts[edge["part"]]["kind"] == "assembly":
            stack.append((pos + ".", iter(enumerate(parts[edge["part"]].get("children", []), 1))))


def _row(pos: str, part: Mapping[str, Any], quantity: float, suppliers: list[str]) -> list[str]:
    kind = part["kind"]
    reference = f"/{PART_DIR}/okh-{part['id']}.toml" if kind == "fabricated" else ""
    cells = {
        "POS": pos, "NAME": part["name"], "UNITS": _number(quantity),
        "TYPE": "BUY" if kind == "purchased" else "POSH", "REFERENCE": reference, "PART-ID": part["id"],
        "UNIT": part.get("unit", "pcs") if kind == "purchased" else "", "MPN": part.get("mpn", ""),
        "MANUFACTURER": part.get("manufacturer", ""), "SUPPLIER": part.get("supplier", ""),
        "URL": part.get("url", ""), "UNIT-COST": _number(part.get("unit-cost")),
        "CURRENCY": part.get("currency", "EUR") if part.get("unit-cost") is not None else "",
        "LEAD-TIME-DAYS": _number(part.get("lead-time-days")), "LABOUR-H": _number(part.get("labour-h")),
        "ASSEMBLED-AT": part.get("assembled-at", ""),
        "NOTES": part.get("notes", "") if kind != "fabricated" else "",
    }  # fmt: skip
    skus = part.get("skus") or {}
    return [str(cells[c]) for c in _COLUMNS] + [skus.get(name, "") for name in suppliers]


def _number(value: object) -> str:
    if value is None or value == "":
        return ""
    number = float(value)  # type: ignore[arg-type]
    return str(int(number)) if number == int(number) else repr(number)


def _copy_files(files: Mapping[str, Path], out_dir: Path) -> list[str]:
    """Every file of the package but its design.toml, at the same path (parts link to them)."""
    written = []
    for relative, path in sorted(files.items()):
        if relative == "design.toml":
            continue
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(relative)
    return written
