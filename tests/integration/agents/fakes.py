"""A hand-driven machine (the machine boundary is the one place fakes are allowed)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fablab_agents.machines import OnDone, OnProgress


class GatedMachine:
    """Reports half way at start, then finishes when the test opens the gate (or on cancel)."""

    instances: list[GatedMachine] = []

    def __init__(self, *_: Any) -> None:
        self.gate = threading.Event()
        self.started: list[Path] = []
        self.cancelled = threading.Event()
        GatedMachine.instances.append(self)

    def start(self, job_file: Path, on_progress: OnProgress, on_done: OnDone, **_hints: object) -> None:
        self.started.append(job_file)
        on_progress(0.5, 10.0)
        threading.Thread(target=self._finish, args=(on_done,), daemon=True).start()

    def _finish(self, on_done: OnDone) -> None:
        self.gate.wait(20)
        on_done("cancelled" if self.cancelled.is_set() else "done", "")

    def pause(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def cancel(self) -> None:
        self.cancelled.set()
        self.gate.set()
