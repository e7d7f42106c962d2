"""`peerfab ledger export`: the commons ledger as Valueflows JSON-LD, from the coordinator's database."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from coordinator.cli.common import config_option, data_dir_option, local_settings
from coordinator.db import session_scope
from coordinator.ledger import export
from coordinator.runtime import Runtime
from protocol.errors import InvalidInput


@click.group("ledger")
def ledger_group() -> None:
    """The commons ledger: who contributed what, where each part came from (docs/commons.md)."""


@ledger_group.command("export")
@click.option("--build", metavar="ID", help="Only the events of this build.")
@click.option("--design", metavar="SLUG", help="Only the events of this design.")
@click.option("--fablab", metavar="ID", help="Only the events at this fablab.")
@click.option("--person", metavar="NAME", help="Only the events this person gave or received.")
@click.option("--since", type=click.DateTime(), help="Events at or after this time (UTC).")
@click.option("--until", type=click.DateTime(), help="Events at or before this time (UTC).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write here (default: stdout).")
@config_option
@data_dir_option
def export_command(
    build: str | None, design: str | None, fablab: str | None, person: str | None,
    since: datetime | None, until: datetime | None, out: Path | None, config_path: str | None,
    data_dir: str | None,
) -> None:  # fmt: skip
    """Write the ledger's events as one Valueflows JSON-LD document."""
    if out is not None and not out.parent.is_dir():
        raise InvalidInput(f"--out {out}: folder {out.parent} does not exist")
    query = export.LedgerQuery(build=build, design=design, fablab=fablab, person=person, since=since,
                               until=until).check()  # fmt: skip
    rt = Runtime.open(local_settings(config_path, data_dir))
    with session_scope(rt.engine) as session:
        doc = export.export_all(session, query)
    text = json.dumps(doc, indent=2)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(f"{len(doc['@graph'])} events written to {out}", err=True)
