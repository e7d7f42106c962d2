"""`peerfab design import-okh` and `import-bom`: published formats in, design packages out."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import requests

from coordinator.bom.archive import extract_archive
from coordinator.bom.licenses import check_spdx_expression
from coordinator.bom.package import DEFAULT_LIMITS, open_package
from coordinator.importers import (
    ImportedDesign,
    import_okh,
    package_purchased,
    write_package,
)
from coordinator.importers.bom_csv import FORMATS, read_bom
from coordinator.importers.okh_export import ExportSource, export_okh
from coordinator.importers.package import write_folder
from protocol.errors import InvalidInput, PeerfabError

_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Report a PeerfabError as one 'error:' paragraph and exit 2, wherever the command is mounted."""
    try:
        yield
    except PeerfabError as exc:
        click.echo(f"error: {exc.message}", err=True)
        raise click.exceptions.Exit(2) from exc


def _report(imported: ImportedDesign, out: Path) -> None:
    for warning in imported.warnings:
        click.echo(f"warning: {warning}", err=True)
    kinds: dict[str, int] = {}
    for part in imported.parts:
        kinds[part["kind"]] = kinds.get(part["kind"], 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    design = imported.manifest["design"]
    what = f"{summary} parts" if summary else "a draft (no parts)"
    click.echo(f"wrote {out}: {design['slug']}@{design['version']}, {what}")


@click.command("import-okh")
@click.argument("manifest", type=_existing_file)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Package folder to write.")
@click.option(
    "--bom",
    "bom",
    type=_existing_file,
    help="BOM CSV/TSV (default: the manifest's link or an sBoM next to it).",
)
@click.option("--slug", help="Design slug (default: from the name).")
@click.option("--version", "version", help="Semantic version (default: the manifest's).")
@click.option("--force", is_flag=True, help="Replace a non-empty --out folder.")
def import_okh_command(
    manifest: Path, out: Path, bom: Path | None, slug: str | None, version: str | None, force: bool
) -> None:
    """Turn an OKH manifest (okh.toml or okh.yml) into a design package."""
    with _user_errors():
        imported = import_okh(manifest, bom, slug=slug, version=version)
        write_package(imported, out, force=force)
        _report(imported, out)


@click.command("import-bom")
@click.argument("bom", type=_existing_file)
@click.option("--format", "fmt", default="auto", show_default=True, type=click.Choice(FORMATS),
              help="BOM layout; auto recognises the dialect by its headers.")  # fmt: skip
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Package folder to write.")
@click.option("--name", required=True, help="Design name, e.g. 'Teensy 3.2 clone'.")
@click.option("--license", "licenses", multiple=True, required=True, help="SPDX licence (repeatable).")
@click.option("--author", "authors", multiple=True, help="Author 'Name <email>' (repeatable).")
@click.option("--slug", help="Design slug (default: from --name).")
@click.option("--version", "version", help="Semantic version (default 0.1.0).")
@click.option("--description", default="", help="One-paragraph description.")
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="ROLE=HEADER",
    help="The header holding ROLE (quantity, name, mpn, sku:SUPPLIER, ignore, ...).",
)
@click.option("--force", is_flag=True, help="Replace a non-empty --out folder.")
def import_bom_command(
    bom: Path,
    fmt: str,
    out: Path,
    name: str,
    licenses: tuple[str, ...],
    authors: tuple[str, ...],
    slug: str | None,
    version: str | None,
    description: str,
    columns: tuple[str, ...],
    force: bool,
) -> None:
    """Turn a BOM (KiCad, KiBoM, JLCPCB, Eagle, Kitspace, Digi-Key, generic CSV) into a package of one
    assembly."""
    with _user_errors():
        warnings: list[str] = []
        check_licenses(licenses)
        parts = read_bom(bom, fmt, _column_mapping(columns), warnings=warnings)
        imported = package_purchased(
            parts,
            name=name,
            licenses=licenses,
            slug=slug,
            version=version,
            authors=authors,
            description=description,
            source=bom,
        )
        imported.warnings[:0] = warnings
        write_package(imported, out, force=force)
        _report(imported, out)


def check_licenses(licenses: tuple[str, ...]) -> None:
    """Refuse a --license that is not on the SPDX list before any file is read."""
    for text in licenses:
        try:
            check_spdx_expression(text)
        except ValueError as exc:
            raise InvalidInput(f"--license {text!r}: {exc}") from exc


def _column_mapping(columns: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in columns:
        field, sep, header = item.partition("=")
        if not sep or not field.strip() or not header.strip():
            raise InvalidInput(f"--column {item!r}: expected FIELD=HEADER, e.g. quantity=Qty")
        mapping[field.strip().lower()] = header.strip()
    return mapping


@click.command("export-okh")
@click.argument("source")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Folder to write.")
@click.option("--repo", default="", help="URL of the project's repository (default: the design's homepage).")
@click.option("--url", envvar="PEERFAB_URL", default="http://127.0.0.1:8400", show_default=True,
              help="Coordinator to fetch SLUG@VERSION from.")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace a non-empty --out folder.")
def export_okh_command(source: str, out: Path, repo: str, url: str, force: bool) -> None:
    """Write a design (PACKAGE folder or archive, or SLUG@VERSION on a coordinator) as an OKH-LOSH
    project: okh.toml, sBoM.csv, part manifests and the files."""
    with _user_errors():
        path = Path(source)
        if path.exists():
            with open_package(path) as package:
                if not package.ok:
                    raise InvalidInput(package.error_report())
                exported = ExportSource(package.raw, package.files())
                write_folder(out, lambda staging: export_okh(exported, staging, repo), force)
        elif "@" in source:
            write_folder(out, lambda staging: _fetch_export(url, source, staging), force)
        else:
            raise InvalidInput(f"{source}: no such package folder or archive, and not SLUG@VERSION")
        count = sum(1 for p in out.rglob("*") if p.is_file())
        click.echo(f"wrote {out}: okh.toml and {count - 1} more files")


def _fetch_export(url: str, ref: str, staging: Path) -> None:
    slug, _, version = ref.partition("@")
    endpoint = f"{url.rstrip('/')}/api/v1/designs/{slug}/versions/{version or 'latest'}/okh.zip"
    try:
        response = requests.get(endpoint, timeout=120)
    except requests.RequestException as exc:
        raise PeerfabError(f"cannot reach the coordinator at {url}: {exc}") from exc
    if response.status_code != 200:
        raise PeerfabError(f"{endpoint}: {response.status_code} {response.text[:300]}")
    with tempfile.TemporaryDirectory(prefix="peerfab-okh-") as tmp:
        archive = Path(tmp) / "okh.zip"
        archive.write_bytes(response.content)
        unpacked = Path(tmp) / "unpacked"
        unpacked.mkdir()
        extract_archive(archive, unpacked, DEFAULT_LIMITS, name=archive.name)
        (top,) = list(unpacked.iterdir()) or [unpacked]
        for item in top.iterdir():
            shutil.move(str(item), staging / item.name)
