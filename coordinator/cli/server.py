"""`peerfab coordinator` and `peerfab db ...`."""

from __future__ import annotations

import logging

import click

from coordinator.cli.common import config_option, settings_from
from coordinator.db import make_engine, migrate


@click.command("coordinator")
@config_option
@click.option("--host", default=None, help="Listen address (default from config: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Listen port (default from config: 8400).")
def coordinator_command(config_path: str | None, host: str | None, port: int | None) -> None:
    """Run the coordinator: HTTP API, database migrations and the dispatcher."""
    from coordinator.heap import settle_after_startup
    from coordinator.process import CoordinatorProcess

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from(config_path)
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    process = CoordinatorProcess(settings).start()
    settle_after_startup()
    click.echo(f"peerfab coordinator on {process.url} (API {process.url}/api/v1, Ctrl-C to stop)")
    try:
        process.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        process.stop()


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@config_option
def upgrade_command(config_path: str | None) -> None:
    """Apply database migrations (the coordinator also does this on start)."""
    settings = settings_from(config_path)
    migrate(make_engine(settings.database_url))
    click.echo(f"database at {settings.database_url} is up to date")
