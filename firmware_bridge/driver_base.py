"""The driver interface: start a job file, pause, resume, cancel, re-attach, ask status.

Drivers are built by name from a config mapping (`{"driver": "marlin", "port": ...}`); each reads
its options with types and bounds in its constructor, and an option nobody reads is an error.
Callbacks run on the driver's own thread; every public method is safe from any thread.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from firmware_bridge import events as ev
from firmware_bridge.options import Options
from protocol.errors import Conflict

PROGRESS_INTERVAL = 0.25  # seconds between progress callbacks; the last one always goes out


class DriverState(StrEnum):
    """What a driver is doing."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class JobProgress:
    """Share of the job done, in bytes of the job file, with an estimate of the time left."""

    fraction: float
    bytes_done: int
    bytes_total: int
    eta_s: float | None


@dataclass(frozen=True)
class JobPaused:
    """The machine has stopped after a pause request."""


@dataclass(frozen=True)
class JobResumed:
    """The machine runs again after a pause."""


@dataclass(frozen=True)
class JobDone:
    """The job ended well, or was cancelled on request; with the filament the machine measured it extrude
    (mm), when it measures it."""

    cancelled: bool = False
    filament_mm: float | None = None


@dataclass(frozen=True)
class JobFailed:
    """The job ended with a machine failure."""

    reason: str


@dataclass(frozen=True)
class JobWarning:
    """Something the operator should know that does not stop the job (an unknown command)."""

    message: str


ProgressEvent = JobProgress | JobPaused | JobResumed | JobWarning
DoneEvent = JobDone | JobFailed
OnProgress = Callable[[ProgressEvent], None]
OnDone = Callable[[DoneEvent], None]


@dataclass(frozen=True)
class DriverStatus:
    """A snapshot for the agent's heartbeat."""

    state: DriverState
    progress: JobProgress | None = None
    reason: str | None = None


class Driver(ABC):
    """Base of every machine driver: runs one job at a time on its own thread."""

    name: ClassVar[str]
    # a machine that runs G-code only; the simulated one takes any file and pretends
    needs_gcode: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any], clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.RLock()
        self._state = DriverState.IDLE
        self._progress: JobProgress | None = None
        self._reason: str | None = None
        self._thread: threading.Thread | None = None
        self._on_progress: OnProgress = _ignore
        self._on_done: OnDone = _ignore
        self._run_started = 0.0
        self._paused_total = 0.0
        self._paused_at: float | None = None
        self._last_progress_at = -1e9
        self._estimated_s: float | None = None
        self._extruded_mm: float | None = None  # what the job's G-code extrudes, for drivers that run it
        reader = Options(options, f"{self.name} driver")
        self._read_options(reader)
        reader.finish()

    @abstractmethod
    def _read_options(self, options: Options) -> None:
        """Read this driver's options."""

    @abstractmethod
    def _prepare(self, job_file: Path) -> Callable[[], None]:
        """Check the job and connect; return the body of the job thread."""

    @abstractmethod
    def _control(self, action: str) -> None:
        """Forward pause, resume or cancel to the machine."""

    def start(
        self, job_file: Path, on_progress: OnProgress, on_done: OnDone, *, estimated_s: float | None = None
    ) -> None:
        """Start a job; bad input raises here, machine trouble arrives through on_done.

        `estimated_s` is the coordinator's estimate of the job at this machine's speed; real machines
        ignore it, the simulated one runs that long when the file is not G-code it can time itself.
        """
        with self._lock:
            self._refuse_if_busy()
            self._estimated_s = estimated_s
            body = self._prepare(job_file)
            self._launch(body, on_progress, on_done, DriverState.RUNNING)

    def reattach(self, job_name: str, on_progress: OnProgress, on_done: OnDone) -> bool:
        """Watch a job the machine is still running (or holds paused) after the agent restarted.

        `job_name` is the job file's name as passed to `start`. True when the machine is printing
        or paused on that file and the driver now reports it through the callbacks; False when the
        machine is idle or busy with another file, and always for machines streamed to directly
        (a serial firmware forgets the job when its host goes away).
        """
        return False

    def release(self) -> None:
        """The agent shuts down: a machine streamed to directly cannot go on without its host, so its job
        is cancelled. Drivers of hosts that print on their own (OctoPrint, Moonraker, PrusaLink) only stop
        watching, and `reattach` finds the job again after the restart."""
        self.cancel()

    def _refuse_if_busy(self) -> None:
        if self._state in (DriverState.RUNNING, DriverState.PAUSED):
            raise Conflict(f"{self.name} driver is busy with another job")

    def _launch(
        self, body: Callable[[], None], on_progress: OnProgress, on_done: OnDone, state: DriverState
    ) -> None:
        """Run `body` on the job thread with fresh callbacks and timers (call with the lock held)."""
        self._on_progress, self._on_done = on_progress, on_done
        self._state, self._progress, self._reason = state, None, None
        self._run_started, self._paused_total = self._clock(), 0.0
        self._paused_at = self._run_started if state is DriverState.PAUSED else None
        self._thread = threading.Thread(target=self._guard(body), name=self.name, daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Ask the machine to pause; JobPaused follows once it has."""
        self._control_if(DriverState.RUNNING, "pause")

    def resume(self) -> None:
        """Ask a paused machine to go on."""
        self._control_if(DriverState.PAUSED, "resume")

    def cancel(self) -> None:
        """Ask the machine to stop the job safely; JobDone(cancelled=True) follows."""
        with self._lock:
            if self._state in (DriverState.RUNNING, DriverState.PAUSED):
                self._control("cancel")

    def status(self) -> DriverStatus:
        """Return the current state and the last progress."""
        with self._lock:
            return DriverStatus(self._state, self._progress, self._reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job thread ends; True if it did within `timeout`."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _control_if(self, state: DriverState, action: str) -> None:
        with self._lock:
            if self._state is state:
                self._control(action)

    def _guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Exception as exc:  # the agent must hear about any crash of the job thread
                self._finish(JobFailed(f"{self.name} driver crashed: {exc}"))
            else:
                self._finish(JobFailed("the job stopped without an outcome"))

        return run

    def _emit(self, event: ev.Event) -> None:
        """Translate an engine event into the agent's callbacks."""
        if isinstance(event, ev.Progress):
            self._report_progress(event.bytes_done, event.bytes_total)
        elif isinstance(event, ev.Paused):
            self._set_paused(True)
            self._on_progress(JobPaused())
        elif isinstance(event, ev.Resumed):
            self._set_paused(False)
            self._on_progress(JobResumed())
        elif isinstance(event, ev.Finished):
            # a job run to its end extruded all its G-code does; a cancelled one, an unknown share
            extruded = None if event.cancelled else self._extruded_mm
            self._finish(JobDone(cancelled=event.cancelled, filament_mm=extruded))
        elif isinstance(event, ev.Failed):
            self._finish(JobFailed(event.reason))
        elif isinstance(event, ev.MachineWarning):
            self._on_progress(JobWarning(event.message))

    def _report_progress(self, done: int, total: int, force: bool = False) -> None:
        now = self._clock()
        fraction = done / total if total else 1.0
        progress = JobProgress(fraction, done, total, self._eta(now, fraction))
        with self._lock:
            self._progress = progress
        if force or fraction >= 1.0 or now - self._last_progress_at >= PROGRESS_INTERVAL:
            self._last_progress_at = now
            self._on_progress(progress)

    def _eta(self, now: float, fraction: float) -> float | None:
        running = now - self._run_started - self._paused_total
        if fraction <= 0 or running <= 0:
            return None
        return running * (1.0 - fraction) / fraction

    def _set_paused(self, paused: bool) -> None:
        with self._lock:
            now = self._clock()
            if paused and self._paused_at is None:
                self._paused_at, self._state = now, DriverState.PAUSED
            elif not paused and self._paused_at is not None:
                self._paused_total += now - self._paused_at
                self._paused_at, self._state = None, DriverState.RUNNING

    def _finish(self, outcome: DoneEvent) -> None:
        with self._lock:
            if self._state not in (DriverState.RUNNING, DriverState.PAUSED):
                return  # only the first outcome counts
            if isinstance(outcome, JobFailed):
                self._state, self._reason = DriverState.FAILED, outcome.reason
            else:
                self._state = DriverState.CANCELLED if outcome.cancelled else DriverState.DONE
        self._on_done(outcome)


def _ignore(_event: object) -> None:
    """Default callback before a job starts."""
