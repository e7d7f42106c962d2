"""Preparation: each machine turns a job's mesh or drawing into its own G-code, with its own profile.

`plan_file(name, machine)` tells cheaply what will happen (pass, slice, CAM, operator, reject);
`prepare(source, machine, ...)` does it. Both are imported lazily so that reading the agent config
(which needs only `options`) loads no slicer or geometry code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fablab_agents.prepare.model import (
    Action,
    Estimates,
    NeedsOperator,
    Plan,
    PreparationError,
    Prepared,
)

if TYPE_CHECKING:
    from pathlib import Path

    from fablab_agents.config import MachineConfig

__all__ = [
    "Action",
    "Estimates",
    "NeedsOperator",
    "Plan",
    "PreparationError",
    "Prepared",
    "job_inputs",
    "plan_file",
    "prepare",
]


def plan_file(file_name: str, machine: MachineConfig) -> Plan:
    """What `machine` will do with a file of this name: no I/O, safe before the download finishes."""
    from fablab_agents.prepare.routing import plan_file as plan

    return plan(file_name, machine)


def prepare(
    source: Path,
    machine: MachineConfig,
    *,
    copies: int = 1,
    material: str | None = None,
    thickness_mm: float | None = None,
    out_dir: Path,
) -> Prepared:
    """Turn `source` into G-code for `machine` in `out_dir`; PreparationError carries the tool's reason."""
    from fablab_agents.prepare.stage import prepare as run

    return run(source, machine, copies=copies, material=material, thickness_mm=thickness_mm, out_dir=out_dir)


def job_inputs(params: dict[str, Any], requirements: dict[str, Any]) -> dict[str, Any]:
    """`copies`, `material`, `thickness_mm` for `prepare` from a job offer."""
    from fablab_agents.prepare.stage import job_inputs as read

    return read(params, requirements)
