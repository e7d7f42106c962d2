"""`peerfab design ...`: validate a package, push it to a coordinator, import published formats."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
import requests
from rich.console import Console

from coordinator.bom.archive import archive_kind
from coordinator.bom.package import MANIFEST, open_package
from coordinator.cli.common import echo_json
from protocol.errors import InvalidInput, PeerfabError

# Importers live in their own module; they are attached below when present.
IMPORT_COMMANDS = {
    "import-okh": "coordinator.cli.design_import:import_okh_command",
    "import-bom": "coordinator.cli.design_import:import_bom_command",
    "export-okh": "coordinator.cli.design_import:export_okh_command",
}


class _DesignGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *IMPORT_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in IMPORT_COMMANDS:
            import importlib

            module_name, attr = IMPORT_COMMANDS[cmd_name].split(":")
            try:
                return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]
            except ModuleNotFoundError:
                return None
        return super().get_command(ctx, cmd_name)


@click.group("design", cls=_DesignGroup)
def design_group() -> None:
    """Design packages: validate, push, import."""


@design_group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
def validate_command(paths: tuple[str, ...], as_json: bool) -> None:
    """Check design packages (folders or archives); exit 2 if any has an error."""
    console = Console(stderr=False, highlight=False)
    reports, failed = [], False
    packages = [Path(raw) for raw in paths if not _skipped(Path(raw))]
    if not packages:
        raise InvalidInput(
            f"no design package among {', '.join(paths)} (a folder with design.toml, or an archive)"
        )
    for path in packages:
        report = _validate_one(path)
        failed |= not report["ok"]
        reports.append(report)
        if not as_json:
            _print_report(console, report)
    if as_json:
        echo_json(reports)
    if failed:
        raise click.exceptions.Exit(2)


def _skipped(path: Path) -> bool:
    """Folders without design.toml and files that are no archive (designs/* holds scripts too) are
    passed over with a note on stderr; a path that does not exist is still reported as a problem."""
    if path.is_dir() and not (path / MANIFEST).is_file():
        click.echo(f"note: {path}: not a design package (no {MANIFEST}); skipped", err=True)
        return True
    if path.is_file():
        try:
            archive_kind(path.name)
        except InvalidInput:
            click.echo(
                f"note: {path}: not a design package (no folder or .zip/.tar.gz archive); skipped", err=True
            )
            return True
    return False


def _validate_one(path: Path) -> dict:
    try:
        with open_package(path) as package:
            return {
                "path": str(path),
                "design": package.ref,
                "ok": package.ok,
                "parts": len(package.check.parts),
                "problems": [
                    {"severity": p.severity, "code": p.code, "message": p.message, "parts": list(p.parts)}
                    for p in package.problems
                ],
            }
    except PeerfabError as exc:
        problem = {"severity": "error", "code": "unreadable", "message": exc.message, "parts": []}
        return {"path": str(path), "design": None, "ok": False, "parts": 0, "problems": [problem]}


def _print_report(console: Console, report: dict) -> None:
    status = "[green]valid[/]" if report["ok"] else "[red]invalid[/]"
    console.print(f"{report['path']}: {report['design'] or ''} {status} ({report['parts']} parts)")
    for problem in report["problems"]:
        colour = "red" if problem["severity"] == "error" else "yellow"
        console.print(f"  [{colour}]{problem['severity']}[/]: {problem['message']}")


_url_option = click.option(
    "--url", envvar="PEERFAB_URL", default="http://127.0.0.1:8400", show_default=True, help="Coordinator URL."
)
_token_option = click.option(
    "--token", envvar="PEERFAB_TOKEN", required=True, help="API token with the designer role."
)


@design_group.command("push")
@click.argument("path", type=click.Path(exists=True))
@_url_option
@_token_option
def push_command(path: str, url: str, token: str) -> None:
    """Publish a package (folder or archive) to a coordinator (its maintainers only, for a known slug)."""
    source = Path(path)
    with open_package(source) as package:
        if not package.ok:
            raise InvalidInput(package.error_report())
        name, payload = f"{package.info.slug}-{package.info.version}.tar.gz", _tar_gz(package.path)
    response = _call("POST", url, "/designs", token, files={"archive": (name, payload, "application/gzip")})
    body = response.json()
    verb = "published" if response.status_code == 201 else "already published (identical)"
    click.echo(f"{body['slug']}@{body['version']} {verb}: {len(body['parts'])} parts")


@design_group.command("fork")
@click.argument("slug")
@click.argument("new_slug")
@click.option("--version", default="latest", show_default=True, help="The version to fork.")
@click.option("--name", help="A name for the fork (default: the original's).")
@_url_option
@_token_option
def fork_command(slug: str, new_slug: str, version: str, name: str | None, url: str, token: str) -> None:
    """Fork a design under a slug of your own; you maintain the fork, its lineage names the original."""
    payload = {"slug": new_slug, "version": version, **({"name": name} if name else {})}
    body = _call("POST", url, f"/designs/{slug}/fork", token, json=payload).json()
    click.echo(f"{body['slug']}@{body['version']} forked from {body['lineage'].get('derivative_of', slug)}")


@design_group.command("maintainers")
@click.argument("slug")
@click.option("--add", "add", multiple=True, metavar="NAME", help="Add a maintainer (a token name).")
@click.option("--remove", "remove", multiple=True, metavar="NAME", help="Remove a maintainer.")
@_url_option
@click.option("--token", envvar="PEERFAB_TOKEN", help="API token of a maintainer (to add or remove).")
def maintainers_command(
    slug: str, add: tuple[str, ...], remove: tuple[str, ...], url: str, token: str | None
) -> None:
    """Show who may publish a design's versions; maintainers add and remove others."""
    if (add or remove) and not token:
        raise InvalidInput("--token is needed to add or remove maintainers")
    for name in add:
        _call("POST", url, f"/designs/{slug}/maintainers", token, json={"name": name})
    for name in remove:
        _call("DELETE", url, f"/designs/{slug}/maintainers/{quote(name, safe='')}", token)
    body = _call("GET", url, f"/designs/{slug}/maintainers", token).json()
    click.echo("\n".join(body["maintainers"]) or "(admins only)")


def _call(method: str, url: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
    """One request to the coordinator's API; a refusal becomes an error naming status and reason."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.request(
            method, f"{url.rstrip('/')}/api/v1{path}", headers=headers, timeout=120, **kwargs
        )
    except requests.RequestException as exc:
        raise PeerfabError(f"cannot reach the coordinator at {url}: {exc}") from exc
    if response.status_code >= 400:
        raise PeerfabError(f"the coordinator refused ({response.status_code}): {_json_or_text(response)}")
    return response


def _tar_gz(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file() and not item.is_symlink():
                archive.add(item, arcname=item.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


def _json_or_text(response: requests.Response) -> dict | str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "message" in body and response.status_code >= 400:
        return str(body["message"])
    return body  # type: ignore[no-any-return]
