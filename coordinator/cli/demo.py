"""`peerfab demo`: a whole peerfab on this machine, on the embedded defaults, nothing to install."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import click


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the demo keeps its database and files (default: a new temporary folder).",
)
@click.option("--port", type=int, default=8400, show_default=True, help="HTTP port (0 picks a free one).")
@click.option("--design", default="reprap-printer", show_default=True, help="Example design to build.")
@click.option("--exit-when-done", is_flag=True, help="Exit 0 when the build is complete (1 if it fails).")
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="With --exit-when-done: give up after this many seconds.")  # fmt: skip
def demo_command(data_dir: str | None, port: int, design: str, exit_when_done: bool, timeout: float) -> None:
    """Start a coordinator, an embedded broker and simulated fablabs, and build an example design."""
    from coordinator.demo import Demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    folder = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="peerfab-demo-"))
    demo = Demo(folder, port, design=design)
    try:
        demo.start(say=click.echo)
        url = demo.process.url
        click.echo(f"peerfab demo running; data in {folder}")
        click.echo(f"  dashboard:   {url}/dashboard/builds/{demo.build_id}")
        click.echo(f"  API:         {url}/api/v1/builds/{demo.build_id}   (docs: {url}/api/v1/docs)")
        for role, token in demo.tokens.items():
            click.echo(f"  {role + ' token:':<14} {token}   (sign in at {url}/dashboard/sign-in)")
        if exit_when_done:
            raise click.exceptions.Exit(0 if demo.wait_until_done(timeout, say=click.echo) else 1)
        click.echo("Ctrl-C to stop")
        demo.wait_until_done(float("inf"), say=click.echo)
        demo.process.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        demo.stop()
