"""`peerfab fablab ...`: publish what a fablab can make in Open Know-Where, read what others publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import requests
import yaml

from coordinator.importers import okw
from protocol.errors import InvalidInput, PeerfabError

_url_option = click.option("--url", envvar="PEERFAB_URL", default="http://127.0.0.1:8400", show_default=True,
                           help="Coordinator URL.")  # fmt: skip


@click.group("fablab")
def fablab_group() -> None:
    """Fablab profiles in Open Know-Where (OKW)."""


@fablab_group.command("export-okw")
@click.argument("fablab", required=False)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="OKW file to write (.json; every fablab as a list when FABLAB is left out).")  # fmt: skip
@_url_option
def export_okw_command(fablab: str | None, out: Path, url: str) -> None:
    """Write a fablab (or every fablab) of a coordinator as an OKW Manufacturing Facility."""
    path = f"/api/v1/fablabs/{fablab}/okw" if fablab else "/api/v1/fablabs/okw"
    body = _request("GET", url, path)
    data = body if fablab else body["facilities"]
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    count = 1 if fablab else len(data)
    click.echo(f"wrote {out}: {count} facilit{'y' if count == 1 else 'ies'}")


@fablab_group.command("import-okw")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fablab", help="Fablab id (default: the record's x-peerfab id, else from its name).")
@click.option(
    "--token",
    envvar="PEERFAB_TOKEN",
    required=True,
    help="API token: an operator of the fablab, or an admin to bring in a lab no agent has connected from.",
)
@_url_option
def import_okw_command(source: Path, fablab: str | None, token: str, url: str) -> None:
    """Set fablab profiles from an OKW file (one facility or a list; JSON or YAML)."""
    records = read_records(source)
    if fablab and len(records) > 1:
        raise InvalidInput(f"{source}: --fablab names one lab, the file holds {len(records)}")
    for record in records:
        lab = fablab or okw.fablab_id(record)
        body = _request("PUT", url, f"/api/v1/fablabs/{lab}/okw", record, token)
        for warning in body.get("warnings", []):
            click.echo(f"warning: {warning}", err=True)
        machines = len(body["profile"].get("equipment") or [])
        click.echo(f"{lab}: profile set from {source.name} ({machines} machines)")


def read_records(source: Path) -> list[dict[str, Any]]:
    """The facilities of an OKW file: a JSON or YAML object, a list of them, or {"facilities": [...]}."""
    text = source.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text) if source.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(
            f"{source}: not valid {'JSON' if source.suffix == '.json' else 'YAML'}: {exc}"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("facilities"), list):
        data = data["facilities"]
    records = data if isinstance(data, list) else [data]
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise InvalidInput(f"{source}: facility {number} is not an object")
    return records


def _request(method: str, url: str, path: str, body: Any = None, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.request(method, url.rstrip("/") + path, json=body, headers=headers, timeout=60)
    except requests.RequestException as exc:
        raise PeerfabError(f"cannot reach the coordinator at {url}: {exc}") from exc
    try:
        data = response.json()
    except ValueError:
        data = {"message": response.text[:300]}
    if response.status_code >= 400:
        raise PeerfabError(f"{method} {path}: {response.status_code} {data.get('message', data)}")
    return data
