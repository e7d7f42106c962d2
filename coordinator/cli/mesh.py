"""`peerfab mesh`: analyse mesh files from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from coordinator.mesh.analysis import MeshReport, analyze_mesh


@click.group("mesh")
def mesh_group() -> None:
    """Inspect mesh files (STL, OBJ, 3MF, PLY)."""


@mesh_group.command("analyze")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--material", default=None, help="Material for the mass estimate, e.g. PLA.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per file.")
def analyze_command(files: tuple[Path, ...], material: str | None, as_json: bool) -> None:
    """Report triangles, bodies, soundness, volume, size, mass and FDM print time."""
    reports = [(path, analyze_mesh(path, material=material)) for path in files]
    if as_json:
        click.echo(json.dumps([_as_json(path, report) for path, report in reports], indent=2))
    else:
        _print_table(reports)


def _as_json(path: Path, report: MeshReport) -> dict[str, Any]:
    return {"file": str(path), **report.to_dict()}


def _print_table(reports: list[tuple[Path, MeshReport]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(caption="? = volume of an open mesh, approximate")
    table.add_column("file", overflow="fold")
    for title in ("tris", "bodies", "closed", "cm3", "size mm", "g", "FDM time"):
        table.add_column(title, justify="right", no_wrap=True)
    problems: list[str] = []
    for path, report in reports:
        table.add_row(*_row(path, report))
        problems.extend(f"{path.name}: {problem}" for problem in report.problems)
    console = Console()
    console.print(table)
    for line in problems:
        console.print(f"[yellow]warning[/yellow] {line}", highlight=False)


def _row(path: Path, report: MeshReport) -> list[str]:
    volume = f"{report.volume_mm3 / 1000:.2f}" + ("" if report.volume_reliable else "?")
    return [
        path.name,
        str(report.triangles),
        str(report.bodies),
        "yes" if report.watertight else "[red]no[/red]",
        volume,
        "x".join(f"{v:.0f}" for v in report.extents_mm),
        "-" if report.mass_g is None else f"{report.mass_g:.1f}",
        _duration(report.est_print_time_s),
    ]


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
