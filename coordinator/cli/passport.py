"""`peerfab passport verify`: check a build's saved passport against the coordinator's key, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import requests

from protocol.errors import InvalidInput


@click.group("passport")
def passport_group() -> None:
    """Build passports: a build's provenance and ledger, signed by its coordinator (docs/commons.md)."""


@passport_group.command("verify")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--key", "key_file", type=click.Path(path_type=Path, dir_okay=False), metavar="PEM",
              help="The coordinator's public key, a PEM file (from GET /api/v1/passport-key).")  # fmt: skip
@click.option("--url", metavar="URL", help="The coordinator to ask for its key, e.g. http://127.0.0.1:8400.")
@click.option("--token", envvar="PEERFAB_TOKEN",
              help="An API token for --url, when the coordinator's reads are private.")  # fmt: skip
def verify_command(file: Path, key_file: Path | None, url: str | None, token: str | None) -> None:
    """Check that FILE is a passport signed by the key, unchanged since; exit 2 when it is not."""
    from coordinator.ledger import passport

    if (key_file is None) == (url is None):
        raise InvalidInput("give the coordinator's key: --key PEM or --url URL (one of them)")
    doc = _read_json(file)
    if key_file is not None:
        if not key_file.is_file():
            raise InvalidInput(f"--key {key_file}: no such file")
        key = passport.read_public_key(key_file.read_bytes(), f"--key {key_file}")
    else:
        key = passport.read_public_key(_fetch_key(str(url), token), f"--url {url}")
    passport.verify(doc, key)
    events = len((doc.get("ledger") or {}).get("@graph") or [])
    parts = len((doc.get("provenance") or {}).get("parts") or [])
    click.echo(f"valid: passport of build {doc.get('build')}, {parts} parts and {events} ledger events, "
               f"issued {doc.get('issued_at')}, signed by {doc['signature']['key_id']}")  # fmt: skip


def _read_json(file: Path) -> Any:
    if not file.is_file():
        raise InvalidInput(f"{file}: no such file")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{file}: not JSON ({exc})") from exc


def _fetch_key(url: str, token: str | None) -> bytes:
    """The PEM key a coordinator serves at /api/v1/passport-key."""
    address = url.rstrip("/")
    if not address.endswith("/passport-key"):
        address += "/api/v1/passport-key"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(address, headers=headers, timeout=10)
        response.raise_for_status()
        return str(response.json()["pem"]).encode()
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise InvalidInput(f"--url {url}: no passport key at {address} ({exc})") from exc
