"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from coordinator.settings import Settings, load_settings
from protocol.errors import InvalidInput

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="PEERFAB_CONFIG",
    help="Coordinator config TOML (default: embedded defaults).",
)


def settings_from(config_path: str | None) -> Settings:
    return load_settings(config_path)


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="The coordinator's data folder (its database): the folder `peerfab demo` prints.",
)


def local_settings(config_path: str | None, data_dir: str | None) -> Settings:
    """Settings of a config file, with the database of a data folder (the demo's) when one is named."""
    settings = settings_from(config_path)
    if data_dir is not None:
        folder = Path(data_dir)
        if not (folder / "peerfab.db").exists() and settings.database.url is None:
            raise InvalidInput(f"{folder} holds no peerfab database (peerfab.db); is it the demo's folder?")
        settings.storage.data_dir = folder
    return settings


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
