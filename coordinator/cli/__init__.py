"""The `peerfab` command line: a thin door onto the service layer.

Sub-commands are imported lazily so that `peerfab mesh analyze` does not pay for
Flask, OR-Tools or the broker at start-up.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from protocol.errors import PeerfabError

# command name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "coordinator": "coordinator.cli.server:coordinator_command",
    "demo": "coordinator.cli.demo:demo_command",
    "design": "coordinator.cli.design:design_group",
    "fablab": "coordinator.cli.fablab:fablab_group",
    "mesh": "coordinator.cli.mesh:mesh_group",
    "token": "coordinator.cli.token:token_group",
    "db": "coordinator.cli.server:db_group",
    "plan": "coordinator.cli.plan:plan_command",
    "ledger": "coordinator.cli.ledger:ledger_group",
    "passport": "coordinator.cli.passport:passport_group",
    "bridge": "firmware_bridge.cli:bridge_group",
    "agent": "fablab_agents.cli:agent_group",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # an agent-only install (`pip install peerfab`) lacks the coordinator's libraries
            return _needs_coordinator(cmd_name, exc.name or "a library")
        command: click.Command = getattr(module, attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PeerfabError as exc:
            click.echo(f"error: {exc.message}", err=True)
            ctx.exit(2)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in OWN_PACKAGES:
                raise
            name = ctx.invoked_subcommand or "this command"
            click.echo(f"error: {_missing_message(name, exc.name or 'a library')}", err=True)
            ctx.exit(2)


OWN_PACKAGES = frozenset({"coordinator", "protocol", "fablab_agents", "firmware_bridge", "designs"})


def _missing_message(name: str, missing: str) -> str:
    return (
        f"'peerfab {name}' needs the coordinator's libraries ({missing} is missing): "
        "pip install 'peerfab[coordinator]'"
    )


def _needs_coordinator(name: str, missing: str) -> click.Command:
    """A stand-in for a command whose libraries are not installed: it says what to install."""

    def explain() -> None:
        raise PeerfabError(_missing_message(name, missing))

    return click.Command(name, callback=explain, help="(needs: pip install 'peerfab[coordinator]')")


@click.group(cls=LazyGroup)
@click.version_option(package_name="peerfab")
def cli() -> None:
    """peerfab: make open hardware together across a network of fablabs."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="peerfab")
