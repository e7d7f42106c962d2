"""The file a machine runs for a job: downloaded, proven to be the one offered, prepared for the machine
(sliced, CAM) and checked against its limits. Nothing reaches the machine before all of that passed.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from fablab_agents.config import AgentConfig, MachineConfig
from fablab_agents.downloads import fetch
from fablab_agents.machines import check_file
from fablab_agents.prepare import PreparationError, Prepared, job_inputs, prepare
from protocol import payloads as p

MAX_PROBLEMS_IN_REASON = 5
MAX_NAME = 100
UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Refused(Exception):
    """An offer this machine will not run; the message is the reason sent to the coordinator."""


@dataclass(frozen=True)
class Ready:
    """A file the machine can run, with what its preparation expects and said along the way."""

    path: Path
    estimates: p.Estimates | None = None
    warnings: tuple[str, ...] = ()


class JobFiles:
    """One machine's files: downloads in `files/`, its prepared G-code in `files/prepared/<machine>/`."""

    def __init__(self, agent: AgentConfig, machine: MachineConfig, files_dir: Path) -> None:
        self.agent, self.machine, self.files_dir = agent, machine, files_dir

    def for_offer(self, offer: p.JobOffer) -> Ready:
        """The machine's file for an offer; raises NeedsOperator when a person must prepare it."""
        if offer.file is None:
            raise Refused("the offer names no file")
        source = self._as_named(self._download(offer.file), offer.file.name)
        inputs = job_inputs(offer.params, offer.requirements)
        prepared = prepare(source, self.machine, out_dir=self._prepared_dir(), **inputs)
        return self._checked(prepared.path, _estimates(prepared), prepared.warnings)

    def for_prepared(self, command: p.JobPrepared) -> Ready:
        """The machine file an operator prepared: downloaded and checked like any other."""
        path = self._as_named(self._download(command.file), command.file.name)
        return self._checked(path, None, ())

    def _download(self, ref: p.FileRef) -> Path:
        return fetch(
            ref,
            self.files_dir,
            max_bytes=int(self.agent.download_max_mb * 1024 * 1024),
            timeout_s=self.agent.download_timeout_s,
            token=self.agent.token,
        )

    def _as_named(self, download: Path, name: str) -> Path:
        """The verified download under the job's own file name, so that the machine's host (OctoPrint's
        file list, a printer's screen) and the prepared G-code show `bracket.gcode`, not a hash."""
        folder = self.files_dir / "named" / self.machine.id
        if folder.exists():
            shutil.rmtree(folder)  # one job at a time per machine
        folder.mkdir(parents=True)
        named = folder / safe_file_name(name, download.suffix)
        try:
            os.link(download, named)
        except OSError:
            shutil.copyfile(download, named)
        return named

    def _prepared_dir(self) -> Path:
        # one job at a time per machine: its prepared file replaces the previous one
        folder = self.files_dir / "prepared" / self.machine.id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _checked(self, path: Path, estimates: p.Estimates | None, warnings: tuple[str, ...]) -> Ready:
        problems = check_file(path, self.machine)
        if problems:
            shown = "; ".join(problems[:MAX_PROBLEMS_IN_REASON])
            more = len(problems) - MAX_PROBLEMS_IN_REASON
            raise Refused(f"G-code safety check failed: {shown}" + (f"; and {more} more" if more > 0 else ""))
        return Ready(path, estimates, warnings)


def _estimates(prepared: Prepared) -> p.Estimates | None:
    """What the slicer or CAM step expects, in the protocol's terms (None when it passed the file through)."""
    found = prepared.estimates
    if prepared.tool == "none" and found.time_s is None and found.filament_g is None:
        return None
    source = prepared.tool if prepared.profile is None else f"{prepared.tool}, {prepared.profile}"
    return p.Estimates(duration_s=found.time_s, filament_mm=found.filament_mm, filament_g=found.filament_g,
                       source=source[:200])  # fmt: skip


def safe_file_name(name: str, suffix: str) -> str:
    """A job's file name fit for a local file and a host's file list: no folders, no odd characters,
    the downloaded file's extension kept."""
    stem = UNSAFE_IN_NAME.sub("_", Path(name.replace("\\", "/")).stem).strip("._") or "job"
    return stem[: MAX_NAME - len(suffix)] + suffix


__all__ = ["JobFiles", "PreparationError", "Ready", "Refused", "safe_file_name"]
