"""Preparation: each machine turns a job's mesh or drawing into its own G-code, with its own profile.

`plan_file(name, machine)` tells cheaply what will happen (pass, slice, CAM, operator, reject);
`prepare(source, machine, ...)` does it. Both are imported lazily so that reading the agent config
(which needs only `options`) loads no slicer or geometry code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fablab_agents.prepare.model import (
    Action,
    Estimates,
    NeedsOperator,
    Plan,
    PreparationError,
    Prepared,
)

if TYPE_CHECKING:  # the checker sees the real functions; at run time they load on first use
    from fablab_agents.prepare.routing import plan_file
    from fablab_agents.prepare.stage import job_inputs, prepare

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

_LAZY = {"plan_file": "routing", "prepare": "stage", "job_inputs": "stage"}


def __getattr__(name: str) -> Any:
    """`plan_file`, `prepare` and `job_inputs`, imported when first used."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
    return getattr(module, name)
