"""`peerfab token ...`: API tokens with roles, made on the coordinator's own database."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlmodel import select

from coordinator.cli.common import config_option, data_dir_option, local_settings
from coordinator.db import session_scope
from coordinator.models.auth import ApiToken, Role
from coordinator.runtime import Runtime
from coordinator.services.auth import create_token, is_live, parse_duration, revoke_token


@click.group("token")
def token_group() -> None:
    """API tokens: create, list, revoke."""


@token_group.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--name", default="", help="Who or what the token is for; tokens of one name act as one person."
)
@click.option(
    "--fablab", "fablabs", multiple=True, metavar="ID",
    help="Operator and agent tokens: act on this fablab only (repeat for several; default: every fablab).",
)  # fmt: skip
@click.option("--expires-in", metavar="DURATION", help="e.g. 12h, 30d, 8w (default: never).")
@config_option
@data_dir_option
def create_command(
    role: str,
    name: str,
    fablabs: tuple[str, ...],
    expires_in: str | None,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    lifetime = parse_duration(expires_in) if expires_in else None
    rt = Runtime.open(local_settings(config_path, data_dir))
    with session_scope(rt.engine) as session:
        record, plain = create_token(session, role, name, fablabs=fablabs, expires_in=lifetime)
        summary = _describe(record)
    click.echo(plain)
    click.echo(f"token {summary} created; it is not shown again", err=True)


def _describe(record: ApiToken) -> str:
    scope = ", ".join(record.fablabs) if record.fablabs else "every fablab"
    expiry = f"expires {record.expires_at:%Y-%m-%d %H:%M} UTC" if record.expires_at else "never expires"
    return f"{record.id} ({record.name}, role {record.role}, {scope}, {expiry})"


@token_group.command("list")
@config_option
@data_dir_option
def list_command(config_path: str | None, data_dir: str | None) -> None:
    """List tokens (never their values)."""
    rt = Runtime.open(local_settings(config_path, data_dir))
    now = datetime.now(UTC)
    with session_scope(rt.engine) as session:
        for record in session.exec(select(ApiToken).order_by(ApiToken.id)):  # type: ignore[arg-type]
            state = "active" if is_live(record, now) else ("revoked" if record.revoked else "expired")
            scope = ",".join(record.fablabs) or "*"
            expiry = record.expires_at.strftime("%Y-%m-%dT%H:%MZ") if record.expires_at else "-"
            click.echo(f"{record.id}\t{record.role}\t{state}\t{record.name}\t{scope}\t{expiry}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@config_option
@data_dir_option
def revoke_command(token_id: int, config_path: str | None, data_dir: str | None) -> None:
    """Revoke a token by id."""
    rt = Runtime.open(local_settings(config_path, data_dir))
    with session_scope(rt.engine) as session:
        revoke_token(session, token_id)
    click.echo(f"token {token_id} revoked")
