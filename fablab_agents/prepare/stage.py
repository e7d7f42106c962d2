"""The preparation stage: a job file in, the machine's own G-code out (or the reason it cannot be)."""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fablab_agents.config import MachineConfig
from fablab_agents.prepare.estimates import read_estimates
from fablab_agents.prepare.model import Action, Estimates, NeedsOperator, PreparationError, Prepared
from fablab_agents.prepare.routing import plan_file
from firmware_bridge.gcode import is_gcode_file

MAX_COPIES = 500


def prepare(
    source: Path,
    machine: MachineConfig,
    *,
    copies: int = 1,
    material: str | None = None,
    thickness_mm: float | None = None,
    out_dir: Path,
) -> Prepared:
    """Turn `source` into a file `machine` runs, written into `out_dir`; PreparationError says why not."""
    decided = plan_file(source.name, machine)
    if decided.action is Action.REJECT:
        raise PreparationError(decided.reason)
    if decided.action is Action.OPERATOR:
        raise NeedsOperator(f"{source.name} needs preparation by an operator: {decided.reason}")
    _check_source(source)
    if decided.action is Action.PASS:
        estimates = read_estimates(source) if is_gcode_file(source) else Estimates()
        return Prepared(path=source, action=Action.PASS, tool="none", estimates=estimates)
    _check_inputs(copies, thickness_mm)
    source = source.resolve()  # slicers run inside a scratch folder
    target = out_dir.resolve() / f"{source.stem}.gcode"
    with _staged(target) as (partial, workdir):
        if decided.action is Action.SLICE:
            from fablab_agents.prepare.slicing import SliceJob, slice_mesh

            prepared = slice_mesh(SliceJob(source, partial, machine, copies, material, workdir))
        else:
            from fablab_agents.prepare.cam import cut_drawing

            prepared = cut_drawing(
                source, machine, partial, copies=copies, material=material, thickness_mm=thickness_mm
            )
    return replace(prepared, path=target)


def job_inputs(params: Mapping[str, Any], requirements: Mapping[str, Any]) -> dict[str, Any]:
    """`copies`, `material` and `thickness_mm` for `prepare` from a job offer's params and requirements."""
    copies = params.get("copies", 1)
    material = params.get("material", requirements.get("material"))
    thickness = params.get("thickness_mm", requirements.get("thickness_mm"))
    if isinstance(copies, bool) or not isinstance(copies, int):
        raise PreparationError(f"job params: copies must be an integer, got {copies!r}")
    if material is not None and not isinstance(material, str):
        raise PreparationError(f"job params: material must be a string, got {material!r}")
    if thickness is not None and (isinstance(thickness, bool) or not isinstance(thickness, int | float)):
        raise PreparationError(f"job params: thickness_mm must be a number, got {thickness!r}")
    return {
        "copies": copies,
        "material": material,
        "thickness_mm": None if thickness is None else float(thickness),
    }


def _check_source(source: Path) -> None:
    if not source.is_file():
        raise PreparationError(f"{source}: no such file")
    if source.stat().st_size == 0:
        raise PreparationError(f"{source.name}: the file is empty")


def _check_inputs(copies: int, thickness_mm: float | None) -> None:
    if not 1 <= copies <= MAX_COPIES:
        raise PreparationError(f"copies must be between 1 and {MAX_COPIES}, got {copies}")
    if thickness_mm is not None and not (math.isfinite(thickness_mm) and thickness_mm > 0):
        raise PreparationError(f"thickness_mm must be a positive number, got {thickness_mm}")


@contextmanager
def _staged(target: Path) -> Iterator[tuple[Path, Path]]:
    """A partial file and a scratch folder beside `target`; the file is renamed into place only on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{target.stem}-", dir=target.parent))
    partial = workdir / target.name
    try:
        yield partial, workdir
        partial.replace(target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
