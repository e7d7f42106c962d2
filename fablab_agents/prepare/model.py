"""What preparation decides and produces: the action for a file, the prepared file, its estimates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from protocol.errors import InvalidInput


class Action(StrEnum):
    """What a machine does with a job file before running it."""

    PASS = "pass"  # already the machine's own file (G-code), or a driver that takes any file
    SLICE = "slice"  # a mesh, sliced with the machine's slicer and profile
    CAM = "cam"  # a 2D drawing, turned into cutting G-code from the machine's cut table
    OPERATOR = "operator"  # a person prepares it at the machine (PCB files, prepare = "operator")
    REJECT = "reject"  # this machine cannot make anything of the file


@dataclass(frozen=True)
class Plan:
    """The action for one file on one machine, with a reason a person can read."""

    action: Action
    reason: str


class PreparationError(InvalidInput):
    """The slicer or the CAM step refused the file; the message is its reason, naming the entity."""


class NeedsOperator(PreparationError):
    """The file must be prepared by a person at the machine."""


@dataclass(frozen=True)
class Estimates:
    """What the slicer or the CAM step expects the job to take; None where unknown."""

    time_s: float | None = None
    filament_mm: float | None = None
    filament_g: float | None = None
    cut_length_mm: float | None = None
    pierces: int | None = None


@dataclass(frozen=True)
class Prepared:
    """A file ready for the machine, with the tool and profile that made it."""

    path: Path
    action: Action
    tool: str
    profile: str | None = None
    estimates: Estimates = field(default_factory=Estimates)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "action": self.action.value,
            "tool": self.tool,
            "profile": self.profile,
            "estimates": asdict(self.estimates),
            "warnings": list(self.warnings),
        }
