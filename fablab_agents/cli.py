"""`peerfab agent ...`: run an agent, try a machine's preparation, confirm a cleared machine, credentials."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click
import requests

from fablab_agents import credentials
from fablab_agents.config import load_agent_config, with_simulated
from protocol.errors import InvalidInput, PeerfabError

DEFAULT_AGENT_URL = "http://127.0.0.1:8410"
HTTP_TIMEOUT_S = 5.0


@click.group("agent")
def agent_group() -> None:
    """The fablab agent: drive this lab's machines for the coordinator."""


@agent_group.command("run")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--simulate", type=click.IntRange(0, 500), default=0, help="Add N simulated printers.")
@click.option("--time-scale", type=click.FloatRange(min=1), default=600.0, show_default=True)
@click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Journal and files (default: next to the config)."
)
@click.option("--duration", type=click.FloatRange(min=0), help="Stop after this many seconds.")
@click.option("-v", "--verbose", is_flag=True, help="Log every connection and job step.")
def run_command(
    config_path: str,
    simulate: int,
    time_scale: float,
    data_dir: str | None,
    duration: float | None,
    verbose: bool,
) -> None:
    """Connect to the broker and serve jobs until interrupted (Ctrl-C or SIGTERM)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(name)s: %(message)s"
    )
    config = with_simulated(load_agent_config(Path(config_path)), simulate, time_scale)
    if not config.machines:
        raise InvalidInput(f"{config_path}: no [machine NAME] section and no --simulate: nothing to drive")
    folder = Path(data_dir) if data_dir else Path(config_path).resolve().parent / f"{config.id}-data"
    from fablab_agents.agent import Agent  # imported late: config errors need no drivers

    agent = Agent(config, folder)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    agent.start()
    click.echo(f"agent {config.fablab}/{config.id}: {len(config.machines)} machines, data in {folder}")
    click.echo(f"operator endpoint {agent.local_url}")
    try:
        stop.wait(duration)
    finally:
        agent.stop()


@agent_group.command("confirm-clear")
@click.argument("machine")
@click.option("--agent-url", default=DEFAULT_AGENT_URL, show_default=True, envvar="PEERFAB_AGENT_URL")
def confirm_clear_command(machine: str, agent_url: str) -> None:
    """Tell the agent the machine is cleared and may take the next job."""
    body = _post(f"{agent_url.rstrip('/')}/machines/{machine}/confirm-clear")
    click.echo(f"machine {body.get('machine', machine)} is {body.get('status', 'idle')}")


@agent_group.command("prepare")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--machine", "machine_id", required=True, help="The [machine NAME] whose profile is used.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--copies", type=click.IntRange(1, 500), default=1, show_default=True)
@click.option(
    "--material", help="Job material, e.g. pla or steel_s235 (picks the material profile or cut row)."
)
@click.option(
    "--thickness-mm", type=click.FloatRange(min=0, min_open=True), help="Sheet thickness for cutting."
)
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the G-code."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def prepare_command(
    config_path: str,
    machine_id: str,
    file: str,
    copies: int,
    material: str | None,
    thickness_mm: float | None,
    out_dir: str,
    as_json: bool,
) -> None:
    """Prepare FILE for one machine as the agent would (slice or CAM), check it, print the estimates."""
    from fablab_agents.machines import check_file
    from fablab_agents.prepare import PreparationError, prepare

    config = load_agent_config(Path(config_path))
    machine = config.machine(machine_id)
    if machine is None:
        known = ", ".join(m.id for m in config.machines) or "none"
        raise InvalidInput(f"{config_path}: no [machine {machine_id}] (machines: {known})")
    prepared = prepare(
        Path(file),
        machine,
        copies=copies,
        material=material,
        thickness_mm=thickness_mm,
        out_dir=Path(out_dir),
    )
    problems = check_file(prepared.path, machine)
    if as_json:
        click.echo(json.dumps({**prepared.to_dict(), "check": problems}, indent=2))
    else:
        _print_prepared(prepared)
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        raise PreparationError(f"{prepared.path.name} fails the G-code safety check of {machine.id}: {shown}")


def _print_prepared(prepared: Any) -> None:
    estimates = prepared.estimates
    rows = [
        ("file", str(prepared.path)),
        ("action", prepared.action.value),
        ("tool", prepared.tool),
        ("profile", prepared.profile),
        ("time", _duration(estimates.time_s)),
        ("filament", None if estimates.filament_mm is None else f"{estimates.filament_mm / 1000:.2f} m"),
        ("mass", None if estimates.filament_g is None else f"{estimates.filament_g:.1f} g"),
        (
            "cut length",
            None if estimates.cut_length_mm is None else f"{estimates.cut_length_mm / 1000:.2f} m",
        ),
        ("pierces", None if estimates.pierces is None else str(estimates.pierces)),
    ]
    for label, value in rows:
        if value is not None:
            click.echo(f"{label:<11} {value}")
    for warning in prepared.warnings:
        click.echo(f"warning: {warning}", err=True)


def _duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours}h {rest // 60:02d}m {rest % 60:02d}s ({seconds:g} s)"


@agent_group.group("credentials")
def credentials_group() -> None:
    """Broker users and topic ACLs (Mosquitto password and ACL files)."""


_files = [
    click.option("--passwd-file", required=True, type=click.Path(dir_okay=False)),
    click.option("--acl-file", required=True, type=click.Path(dir_okay=False)),
    click.option("--broker", default="127.0.0.1:1883", show_default=True, help="host:port for the URL."),
    click.option("--coordinator-user", default=credentials.COORDINATOR_USER, show_default=True),
]


def _with_files(function: Any) -> Any:
    for option in reversed(_files):
        function = option(function)
    return function


@credentials_group.command("add")
@click.option("--fablab", required=True)
@click.option("--agent", "agent_id", required=True)
@click.option("--password", help="Default: a new random password, printed once.")
@_with_files
def credentials_add_command(
    fablab: str,
    agent_id: str,
    password: str | None,
    passwd_file: str,
    acl_file: str,
    broker: str,
    coordinator_user: str,
) -> None:
    """Create or update an agent's broker user, confined to its own topics."""
    user = credentials.agent_username(fablab, agent_id)
    _store(user, password, passwd_file, acl_file, broker, coordinator_user)


@credentials_group.command("coordinator")
@click.option("--password", help="Default: a new random password, printed once.")
@_with_files
def credentials_coordinator_command(
    password: str | None, passwd_file: str, acl_file: str, broker: str, coordinator_user: str
) -> None:
    """Create or update the coordinator's broker user."""
    _store(coordinator_user, password, passwd_file, acl_file, broker, coordinator_user)


def _store(
    user: str, password: str | None, passwd_file: str, acl_file: str, broker: str, coordinator_user: str
) -> None:
    secret = password or credentials.new_password()
    credentials.set_password(Path(passwd_file), user, secret)
    credentials.write_acl(Path(acl_file), Path(passwd_file), coordinator_user)
    click.echo(f"user {user} written to {passwd_file}; ACL regenerated in {acl_file}", err=True)
    click.echo("reload the broker (e.g. kill -HUP) so it reads both files again", err=True)
    click.echo(credentials.mqtt_url(user, secret, broker))


def _post(url: str) -> dict[str, Any]:
    try:
        response = requests.post(url, timeout=HTTP_TIMEOUT_S)
    except requests.RequestException as exc:
        raise PeerfabError(f"cannot reach the agent at {url}: {exc}") from exc
    try:
        body: dict[str, Any] = response.json()
    except json.JSONDecodeError:
        body = {"error": response.text[:200]}
    if response.status_code != 200:
        raise PeerfabError(f"agent refused: {body.get('error', response.status_code)}")
    return body
