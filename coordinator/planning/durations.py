"""How long a task takes on a machine, and which figure says so: the one rule the planner's modes and
the dispatcher's offers share.

In order: the machine's own estimate (its slicer's or CAM's, once it prepared the job's file); the
build breakdown's minutes divided by the machine's measured speed factor (enough done runs); divided
by its declared speed factor; the breakdown's minutes as they are (a machine at speed 1). A machine's
own estimate is not carried over to other machines: another machine prepares the file again with its
own profile (nozzle, layer height, speeds, firmware), and its figure is only known once it has.

Pure: plain figures in, a Duration out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

NO_MEASURES: Mapping[str, float] = MappingProxyType({})


class Source(StrEnum):
    """Which figure a duration came from (shown with every planned task)."""

    SLICER = "slicer"
    MEASURED = "measured speed"
    DECLARED = "declared speed"
    MESH = "mesh estimate"


@dataclass(frozen=True)
class MachineEstimate:
    """A machine's own estimate of a job, from its preparation of the file."""

    machine: str  # "fablab/machine" that prepared the file
    seconds: float


@dataclass(frozen=True)
class Duration:
    minutes: float
    source: Source


def duration(
    minutes: float,
    machine: str,
    declared_speed: float,
    measured: Mapping[str, float] = NO_MEASURES,
    own: MachineEstimate | None = None,
) -> Duration:
    """Minutes `machine` takes for a task the breakdown puts at `minutes` (at speed 1), and why."""
    if own is not None and own.machine == machine and own.seconds > 0:
        return Duration(own.seconds / 60.0, Source.SLICER)
    speed = measured.get(machine)
    if speed is not None and speed > 0:
        return Duration(minutes / speed, Source.MEASURED)
    if declared_speed > 0 and declared_speed != 1.0:
        return Duration(minutes / declared_speed, Source.DECLARED)
    return Duration(minutes, Source.MESH)
