"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from coordinator.settings import Settings, load_settings

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="PEERFAB_CONFIG",
    help="Coordinator config TOML (default: embedded defaults).",
)


def settings_from(config_path: str | None) -> Settings:
    return load_settings(config_path)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def lazy_command(target: str) -> Callable[[], click.Command]:
    """A loader for a command defined in another module ("module:attr")."""

    def load() -> click.Command:
        import importlib

        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    return load
