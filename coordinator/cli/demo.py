"""`peerfab demo`: a whole peerfab on this machine, on the embedded defaults, nothing to install."""

from __future__ import annotations

import errno
import logging
import shutil
import socket
import tempfile
from pathlib import Path

import click

from protocol.errors import InvalidInput


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
@click.option("--keep-data", is_flag=True, help="Keep the temporary data folder when the demo stops.")
def demo_command(
    data_dir: str | None, port: int, design: str, exit_when_done: bool, timeout: float, keep_data: bool
) -> None:
    """Start a coordinator, an embedded broker and simulated fablabs, and build an example design."""
    from coordinator.demo import Demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    check_port(port)
    folder = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="peerfab-demo-"))
    demo = Demo(folder, port, design=design)
    try:
        demo.start(say=click.echo)
        _tell(demo, folder)
        if exit_when_done:
            raise click.exceptions.Exit(0 if demo.wait_until_done(timeout, say=click.echo) else 1)
        click.echo("Ctrl-C to stop")
        demo.wait_until_done(float("inf"), say=click.echo)
        demo.process.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        demo.stop()
        if data_dir is None and not keep_data:
            shutil.rmtree(folder, ignore_errors=True)  # a temporary folder the demo made: gone with it
        elif data_dir is None:
            click.echo(f"demo data kept in {folder}")


def check_port(port: int, host: str = "127.0.0.1") -> None:
    """Refuse a busy port in one line, before anything starts."""
    if port == 0:
        return
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise InvalidInput(
                    f"port {port} is in use (another peerfab demo?); choose another with --port (0: any)"
                ) from exc
            raise


def _tell(demo: object, folder: Path) -> None:
    url = demo.process.url  # type: ignore[attr-defined]
    build_id = demo.build_id  # type: ignore[attr-defined]
    click.echo(f"peerfab demo running; data in {folder}")
    click.echo(f"  dashboard:   {url}/dashboard/builds/{build_id}")
    click.echo(f"  API:         {url}/api/v1/builds/{build_id}   (docs: {url}/api/v1/docs)")
    for role, token in demo.tokens.items():  # type: ignore[attr-defined]
        click.echo(f"  {role + ' token:':<14} {token}   (sign in at {url}/dashboard/sign-in)")
    click.echo(f"  more tokens: peerfab token create --role operator --data-dir {folder}")
    if url != "http://127.0.0.1:8400":
        click.echo(f"  commands that talk to it: add --url {url} (or set PEERFAB_URL={url})")
