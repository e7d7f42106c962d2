"""One small interface over every machine: start a job file, pause, resume, cancel, ask status.

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
from firmware_bridge.gcode import is_gcode_file, read_job
from firmware_bridge.grbl import GrblConfig, GrblEngine
from firmware_bridge.marlin import MarlinConfig, MarlinEngine
from firmware_bridge.moonraker import MoonrakerClient, MoonrakerError, PrintStatus
from firmware_bridge.options import Options
from firmware_bridge.serial_transport import StreamRunner, open_port
from firmware_bridge.simulator import Fault, SimulatedJob, estimate_duration
from protocol.errors import Conflict, InvalidInput

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
    """The job ended well, or was cancelled on request."""

    cancelled: bool = False


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
            if self._state in (DriverState.RUNNING, DriverState.PAUSED):
                raise Conflict(f"{self.name} driver is busy with another job")
            self._estimated_s = estimated_s
            body = self._prepare(job_file)
            self._on_progress, self._on_done = on_progress, on_done
            self._state, self._progress, self._reason = DriverState.RUNNING, None, None
            self._run_started, self._paused_total, self._paused_at = self._clock(), 0.0, None
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
            self._finish(JobDone(cancelled=event.cancelled))
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


class SerialDriver(Driver):
    """Shared part of the Marlin and Grbl drivers: a port, an engine and a StreamRunner."""

    def _read_port(self, options: Options) -> None:
        self.port = options.get_str("port")
        self.baud = options.get_int("baud", 115200, 1200, 4_000_000)

    @abstractmethod
    def _engine(self, job_file: Path) -> MarlinEngine | GrblEngine:
        """Build the protocol engine for a job."""

    def _prepare(self, job_file: Path) -> Callable[[], None]:
        engine = self._engine(job_file)
        port = open_port(self.port, self.baud)
        self._runner = StreamRunner(engine, port, self._emit, self._clock)

        def body() -> None:
            try:
                self._runner.run()
            finally:
                port.close()

        return body

    def _control(self, action: str) -> None:
        getattr(self._runner, action)()


class MarlinDriver(SerialDriver):
    """Marlin, Prusa and other RepRap-style firmwares over USB serial."""

    name = "marlin"

    def _read_options(self, options: Options) -> None:
        self._read_port(options)
        default = MarlinConfig()
        self.config = MarlinConfig(
            buffer_lines=options.get_int("buffer_lines", default.buffer_lines, 1, 64),
            rx_bytes=options.get_int("rx_bytes", default.rx_bytes, 16, 65536),
            command_timeout=options.get_float("command_timeout", default.command_timeout, 0.1, 3600),
            long_timeout=options.get_float("long_timeout", default.long_timeout, 0.1, 86400),
            boot_wait=options.get_float("boot_wait", default.boot_wait, 0.0, 60),
            max_resends=options.get_int("max_resends", default.max_resends, 1, 100),
            stall_s=options.get_float("stall_s", default.stall_s, 0, 604800) or None,
        )

    def _engine(self, job_file: Path) -> MarlinEngine:
        return MarlinEngine(read_job(job_file), self.config)


class GrblDriver(SerialDriver):
    """Grbl 1.1 CNC routers and laser cutters over USB serial."""

    name = "grbl"

    def _read_options(self, options: Options) -> None:
        self._read_port(options)
        default = GrblConfig()
        self.config = GrblConfig(
            rx_bytes=options.get_int("rx_bytes", default.rx_bytes, 16, 65536),
            status_interval=options.get_float("status_interval", default.status_interval, 0.2, 60),
            response_timeout=options.get_float("response_timeout", default.response_timeout, 0.5, 3600),
            boot_wait=options.get_float("boot_wait", default.boot_wait, 0.0, 60),
            connect_timeout=options.get_float("connect_timeout", default.connect_timeout, 0.1, 600),
            stall_s=options.get_float("stall_s", default.stall_s, 0, 604800) or None,
        )

    def _engine(self, job_file: Path) -> GrblEngine:
        return GrblEngine(read_job(job_file), self.config)


class SimulatedDriver(Driver):
    """A machine that only pretends, faster by `time_scale`; for demos and agent tests."""

    name = "simulated"

    def _read_options(self, options: Options) -> None:
        self.scale = options.get_float("time_scale", 60.0, 0.001, 1_000_000)
        self.tick_s = options.get_float("tick_s", 0.1, 0.001, 10)
        self.duration_s = options.get_optional_float("duration_s", 0.001, 1e7)
        fail_at = options.get_optional_float("fail_at", 0.0, 1.0)
        reason = options.get_str("fail_reason", "simulated machine failure")
        self.fault = Fault(fail_at, reason) if fail_at is not None else None

    def _prepare(self, job_file: Path) -> Callable[[], None]:
        # G-code is timed from its moves; any other file (a mesh, a work order) runs for the
        # coordinator's estimate, as a person or a slicer at the machine would take it.
        timed = estimate_duration(read_job(job_file)) if is_gcode_file(job_file) else 0.0
        duration = self.duration_s or (timed if timed > 0 else self._estimated_s) or 0.001
        self._job = SimulatedJob(duration, job_file.stat().st_size, self.scale, self.fault)
        self._stop = threading.Event()

        def body() -> None:
            while not self._stop.is_set():
                with self._lock:
                    happened = self._job.advance(self._clock())
                for event in happened:
                    self._emit(event)
                    if isinstance(event, ev.Finished | ev.Failed):
                        return
                self._stop.wait(self.tick_s)

        return body

    def _control(self, action: str) -> None:
        getattr(self._job, action)()


class MoonrakerDriver(Driver):
    """Klipper printers through Moonraker's HTTP API: upload, start, then poll."""

    name = "moonraker"

    def _read_options(self, options: Options) -> None:
        self.url = options.get_str("url")
        self.api_key = options.get_optional_str("api_key")
        self.poll_interval = options.get_float("poll_interval", 1.0, 0.01, 60)
        self.timeout = options.get_float("timeout", 10.0, 0.1, 300)

    def _prepare(self, job_file: Path) -> Callable[[], None]:
        if not job_file.is_file():
            raise InvalidInput(f"{job_file}: no such G-code file")
        self._client = MoonrakerClient(self.url, self.api_key, self.timeout)
        self._client_lock = threading.Lock()
        self._stop = threading.Event()

        def body() -> None:
            try:
                with self._client_lock:
                    self._client.start_print(self._client.upload(job_file))
                self._poll_until_done()
            except MoonrakerError as exc:
                self._finish(JobFailed(str(exc)))

        return body

    def _poll_until_done(self) -> None:
        was_paused = False
        while not self._stop.wait(self.poll_interval):
            with self._client_lock:
                status = self._client.query()
            if status.state == "paused" and not was_paused:
                self._emit(ev.Paused())
            elif status.state == "printing" and was_paused:
                self._emit(ev.Resumed())
            was_paused = status.state == "paused"
            if self._report(status):
                return

    def _report(self, status: PrintStatus) -> bool:
        if status.state in ("printing", "paused", "complete"):
            size = status.file_size or 1
            done = status.file_size if status.state == "complete" else status.file_position
            self._report_progress(done, size)
        if status.state == "complete":
            self._emit(ev.Finished())
        elif status.state == "cancelled":
            self._emit(ev.Finished(cancelled=True))
        elif status.state == "error":
            self._emit(ev.Failed(f"Klipper reports an error: {status.message or 'no message'}"))
        return status.state in ("complete", "cancelled", "error")

    def _control(self, action: str) -> None:
        try:
            with self._client_lock:
                getattr(self._client, action)()
        except MoonrakerError as exc:
            self._finish(JobFailed(str(exc)))


DRIVERS: dict[str, type[Driver]] = {
    "marlin": MarlinDriver,
    "grbl": GrblDriver,
    "moonraker": MoonrakerDriver,
    "simulated": SimulatedDriver,
}


def make_driver(config: Mapping[str, Any]) -> Driver:
    """Build a driver from a config section: `driver` names it, the rest are its options."""
    options = dict(config)
    name = options.pop("driver", None)
    if name not in DRIVERS:
        known = ", ".join(sorted(DRIVERS))
        raise InvalidInput(f"unknown machine driver {name!r}; expected one of {known}")
    return DRIVERS[name](options)
