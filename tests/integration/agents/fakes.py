"""A hand-driven machine (the machine boundary is the one place fakes are allowed)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fablab_agents.machines import DriverEvents


class GatedMachine:
    """Reports half way at start, then finishes when the test opens the gate (or on cancel)."""

    instances: list[GatedMachine] = []

    def __init__(self, *_: Any) -> None:
        self.gate = threading.Event()
        self.started: list[Path] = []
        self.cancelled = threading.Event()
        GatedMachine.instances.append(self)

    def start(self, job_file: Path, events: DriverEvents, **_hints: object) -> None:
        self.started.append(job_file)
        events.progress(0.5, 10.0)
        threading.Thread(target=self._finish, args=(events,), daemon=True).start()

    def _finish(self, events: DriverEvents) -> None:
        self.gate.wait(20)
        events.done("cancelled" if self.cancelled.is_set() else "done", "")

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def cancel(self) -> None:
        self.cancelled.set()
        self.gate.set()
