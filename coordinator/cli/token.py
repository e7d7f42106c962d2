"""`peerfab token ...`: API tokens with roles, made on the coordinator's own database."""

from __future__ import annotations

import click
from sqlmodel import select

from coordinator.cli.common import config_option, settings_from
from coordinator.db import session_scope
from coordinator.models.auth import ApiToken, Role
from coordinator.runtime import Runtime
from coordinator.services.auth import create_token, revoke_token


@click.group("token")
def token_group() -> None:
    """API tokens: create, list, revoke."""


@token_group.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default="", help="Who or what the token is for.")
@config_option
def create_command(role: str, name: str, config_path: str | None) -> None:
    """Create a token and print it once (only its hash is stored)."""
    rt = Runtime.open(settings_from(config_path))
    with session_scope(rt.engine) as session:
        record, plain = create_token(session, role, name)
    click.echo(plain)
    click.echo(
        f"token {record.id} ({record.name}, role {record.role}) created; it is not shown again", err=True
    )


@token_group.command("list")
@config_option
def list_command(config_path: str | None) -> None:
    """List tokens (never their values)."""
    rt = Runtime.open(settings_from(config_path))
    with session_scope(rt.engine) as session:
        for record in session.exec(select(ApiToken).order_by(ApiToken.id)):  # type: ignore[arg-type]
            state = "revoked" if record.revoked else "active"
            click.echo(f"{record.id}\t{record.role}\t{state}\t{record.name}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@config_option
def revoke_command(token_id: int, config_path: str | None) -> None:
    """Revoke a token by id."""
    rt = Runtime.open(settings_from(config_path))
    with session_scope(rt.engine) as session:
        revoke_token(session, token_id)
    click.echo(f"token {token_id} revoked")
