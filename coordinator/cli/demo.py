"""`peerfab demo`: a whole peerfab on this machine, on the embedded defaults, nothing to install."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import click
import requests

from coordinator.db import session_scope
from coordinator.settings import load_settings


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the demo keeps its database and files (default: a new temporary folder).",
)
@click.option("--port", type=int, default=8400, show_default=True, help="HTTP port of the coordinator.")
@click.option("--exit-when-done", is_flag=True, help="Exit 0 once the demo has run to its end.")
def demo_command(data_dir: str | None, port: int, exit_when_done: bool) -> None:
    """Start a coordinator on SQLite with the example designs published, and print its URL."""
    from coordinator.process import CoordinatorProcess

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    folder = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="peerfab-demo-"))
    settings = load_settings(
        env={}, overrides={"storage": {"data_dir": str(folder)}, "server": {"port": port}}
    )
    process = CoordinatorProcess(settings).start()
    try:
        published = publish_examples(process)
        click.echo(f"peerfab demo: data in {folder}")
        for ref in published:
            click.echo(f"  published {ref}")
        click.echo(f"peerfab coordinator running at {process.url}")
        click.echo(f"  designs: {process.url}/api/v1/designs   API docs: {process.url}/api/v1/docs")
        _check_health(process.url)
        if exit_when_done:
            return
        click.echo("Ctrl-C to stop")
        process.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        process.stop()


def publish_examples(process: object) -> list[str]:
    """Publish every example design package through the registry service."""
    from coordinator.services.designs import get_design_by_id, publish_path
    from designs import example_paths

    rt = process.runtime  # type: ignore[attr-defined]
    refs = []
    for path in example_paths():
        with session_scope(rt.engine) as session:
            version, _ = publish_path(session, rt.store, path, rt.settings.limits, by="demo")
            refs.append(f"{get_design_by_id(session, version.design_id).slug}@{version.version}")
    return refs


def _check_health(url: str) -> None:
    response = requests.get(f"{url}/api/v1/health", timeout=10)
    response.raise_for_status()
