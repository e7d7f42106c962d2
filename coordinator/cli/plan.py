"""`peerfab plan`: schedule a problem file and print the plan."""

from __future__ import annotations

import json
from pathlib import Path

import click

from coordinator.scheduling.model import Schedule
from protocol.errors import InvalidInput

FORMATS = {".json": "json", ".sm": "psplib", ".mm": "psplib", ".fjs": "fjsp"}


def _guess_format(path: Path) -> str:
    """The file format named by the extension."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(f"{path}: cannot tell the format from the extension; pass --format")
    return fmt


@click.command("plan")
@click.argument("problem", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "psplib", "fjsp"]), help="Problem file format.")
@click.option("--time-limit", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@click.option(
    "--policy",
    type=click.Choice(["cpsat", "lst", "fifo", "mts", "grpw", "sampling"]),
    default="cpsat",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def plan_command(problem: Path, fmt: str | None, time_limit: float, policy: str, as_json: bool) -> None:
    """Schedule PROBLEM (JSON, PSPLIB .sm/.mm or flexible job-shop .fjs) and print the plan."""
    from coordinator.scheduling.fjsp import read_fjsp
    from coordinator.scheduling.jsonformat import read_problem
    from coordinator.scheduling.psplib import read_psplib
    from coordinator.scheduling.runner import plan

    if not problem.is_file():
        raise InvalidInput(f"{problem}: no such file")
    fmt = fmt or _guess_format(problem)
    readers = {"psplib": read_psplib, "fjsp": read_fjsp, "json": read_problem}
    loaded = readers[fmt](problem)
    schedule = plan(loaded, policy=policy, time_limit=time_limit)
    if as_json:
        click.echo(json.dumps(schedule.to_dict()))
        return
    _print_table(loaded.name or problem.stem, schedule)


def _print_table(name: str, schedule: Schedule) -> None:
    """A readable summary and one row per task, by start time."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{name}[/bold]: makespan {schedule.makespan}, lower bound {schedule.lower_bound}, "
        f"{schedule.status} (gap {schedule.gap:.1%}, policy {schedule.policy})"
    )
    table = Table("task", "mode", "start", "end")
    for task in sorted(schedule.tasks, key=lambda t: (t.start, t.end, t.id)):
        table.add_row(task.id, str(task.mode + 1), str(task.start), str(task.end))
    console.print(table)
