"""Drivers for the hosts fablabs already run in front of their printers: OctoPrint, Moonraker, PrusaLink.

Each uploads the job file under its own name, asks the host to print it and polls the host until
the job ends. The shared loop (`HostDriver`) turns the host's status into progress, pause and
resume events, one outcome, and stall detection; it can also pick up a job the host is still
running after the agent restarted (`reattach`).
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from firmware_bridge.driver_base import (
    Driver,
    DriverState,
    JobDone,
    JobFailed,
    JobPaused,
    JobResumed,
    JobWarning,
    OnDone,
    OnProgress,
)
from firmware_bridge.http_host import HostClient, HostError, HostState, HostStatus
from firmware_bridge.moonraker import MoonrakerClient
from firmware_bridge.octoprint import OctoPrintClient
from firmware_bridge.options import Options
from firmware_bridge.prusalink import PrusaLinkClient
from firmware_bridge.watchdog import StallWatchdog
from protocol.errors import InvalidInput

ACTIVE = (HostState.RUNNING, HostState.PAUSED)


@dataclass
class _Watch:
    """What the poll loop knows about the job it follows."""

    name: str
    before: HostStatus | None
    started_at: float
    seen_running: bool = False
    paused: bool = False
    last_done: float = -1.0
    unreachable_since: float | None = None
    warned: str = ""


class HostDriver(Driver):
    """Upload, start and poll one host; subclasses build the client and start the job."""

    host_name: ClassVar[str]
    client: HostClient

    def _read_options(self, options: Options) -> None:
        self._read_host_options(options)
        self.poll_interval = options.get_float("poll_interval", 1.0, 0.01, 60)
        self.timeout = options.get_float("timeout", 10.0, 0.1, 300)
        self.start_timeout = options.get_float("start_timeout", 120.0, 1, 3600)
        self.offline_grace = options.get_float("offline_grace", 60.0, 0, 3600)
        self.stall_s = options.get_float("stall_s", 1800.0, 0, 604800) or None

    @abstractmethod
    def _read_host_options(self, options: Options) -> None:
        """Read the options that say where the host is and how to log in."""

    @abstractmethod
    def _make_client(self) -> HostClient:
        """Build the HTTP client."""

    @abstractmethod
    def _upload_and_start(self, job_file: Path) -> str:
        """Put the file on the host and start it; return the name the host reports it under."""

    @abstractmethod
    def _status(self) -> HostStatus:
        """Poll the host once."""

    def _open(self) -> None:
        self.client = self._make_client()
        self._client_lock = threading.Lock()
        self._stop = threading.Event()
        self._cancel_requested = False
        self._on_host = False  # the job reached the host: a cancel must stop it there
        self._watchdog = StallWatchdog(self.stall_s)

    def _prepare(self, job_file: Path) -> Callable[[], None]:
        if not job_file.is_file():
            raise InvalidInput(f"{job_file}: no such G-code file")
        self._open()

        def body() -> None:
            try:
                if not self._wait_until_free():
                    return
                with self._client_lock:
                    if self._stop.is_set():  # cancelled before the upload
                        return
                    before = self._status()
                    name = self._upload_and_start(job_file)
                    self._on_host = True
                self._follow(_Watch(name, before, self._clock()))
            except HostError as exc:
                self._finish(JobFailed(str(exc)))

        return body

    def _wait_until_free(self) -> bool:
        """Wait while the host cannot take a new job yet; False when the driver was stopped meanwhile."""
        return True

    def reattach(self, job_name: str, on_progress: OnProgress, on_done: OnDone) -> bool:
        """Follow the host's job again when it is still printing (or paused on) `job_name`."""
        with self._lock:
            self._refuse_if_busy()
            self._open()
            try:
                status = self._status()
            except HostError:
                return False
            if status.state not in ACTIVE or not _same_file(status.file, job_name):
                return False
            self._on_host = True
            watch = _Watch(job_name, None, self._clock(), seen_running=True)
            watch.paused = status.state is HostState.PAUSED
            state = DriverState.PAUSED if watch.paused else DriverState.RUNNING
            self._launch(lambda: self._follow(watch), on_progress, on_done, state)
            return True

    def release(self) -> None:
        """Stop watching; the host keeps printing (see `reattach`)."""
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()

    def _follow(self, watch: _Watch) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                with self._client_lock:
                    status = self._status()
            except HostError as exc:
                if self._unreachable_too_long(watch, str(exc)):
                    return
                continue
            watch.unreachable_since = None
            if self._observe(watch, status):
                return

    def _unreachable_too_long(self, watch: _Watch, error: str) -> bool:
        now = self._clock()
        watch.unreachable_since = watch.unreachable_since or now
        if now - watch.unreachable_since < self.offline_grace:
            return False
        self._finish(JobFailed(f"lost contact with {self.host_name} for {self.offline_grace:g} s: {error}"))
        return True

    def _observe(self, watch: _Watch, status: HostStatus) -> bool:
        """Act on one poll; True once the job has an outcome."""
        ours = _same_file(status.file, watch.name)
        if status.state in ACTIVE and ours:
            watch.seen_running = True
            self._follow_running(watch, status)
            return self._check_stall(watch)
        if not watch.seen_running:
            return self._before_running(watch, status, ours)
        return self._ended(watch, status)

    def _follow_running(self, watch: _Watch, status: HostStatus) -> None:
        now = self._clock()
        paused = status.state is HostState.PAUSED
        if paused != watch.paused:
            self._pause_changed(watch, paused)
        if paused and status.message and status.message != watch.warned:
            watch.warned = status.message
            self._on_progress(JobWarning(f"{self.host_name}: {status.message}"))
        self._watchdog.hold(paused, now)
        if status.done != watch.last_done:
            if watch.last_done >= 0:
                self._watchdog.progressed(now)
            watch.last_done = status.done
        self._watchdog.temperatures(status.temperatures, now)
        if status.total > 0:
            self._report_progress(int(min(status.done, status.total)), int(status.total))

    def _pause_changed(self, watch: _Watch, paused: bool) -> None:
        watch.paused = paused
        self._set_paused(paused)
        self._on_progress(JobPaused() if paused else JobResumed())

    def _check_stall(self, watch: _Watch) -> bool:
        idle = self._watchdog.stalled_for(self._clock())
        if idle is None:
            return False
        self._send_quietly("cancel")
        self._finish(
            JobFailed(
                f"stalled: {self.host_name} kept answering but {watch.name} made no progress for "
                f"{idle:.0f} s (stall_s {self.stall_s:g}); the print was cancelled"
            )
        )
        return True

    def _before_running(self, watch: _Watch, status: HostStatus, ours: bool) -> bool:
        """Before the job was seen running, only a fresh end of our own file or a host error counts."""
        fresh = watch.before is None or _job_key(status) != _job_key(watch.before)
        if ours and fresh and status.state is HostState.DONE:
            return self._ended(watch, status)
        if fresh and status.state in (HostState.FAILED, HostState.OFFLINE):
            return self._ended(watch, status)
        if self._clock() - watch.started_at > self.start_timeout:
            detail = f" ({status.message})" if status.message else ""
            self._finish(
                JobFailed(
                    f"{self.host_name} did not start printing {watch.name} within "
                    f"{self.start_timeout:g} s; it reports {status.state}{detail}"
                )
            )
            return True
        return False

    def _ended(self, watch: _Watch, status: HostStatus) -> bool:
        if status.state is HostState.DONE:
            if watch.paused:  # resumed, and finished before a poll saw it printing again
                self._pause_changed(watch, False)
            if status.total > 0:
                self._report_progress(int(status.total), int(status.total), force=True)
            self._finish(JobDone(filament_mm=status.filament_mm))
        elif status.state is HostState.CANCELLED and self._cancel_requested:
            self._finish(JobDone(cancelled=True))
        elif status.state is HostState.CANCELLED:
            self._finish(JobFailed(f"{self.host_name}: the print of {watch.name} was stopped at the printer"))
        elif status.state is HostState.FAILED:
            self._finish(JobFailed(f"{self.host_name} reports an error: {status.message or 'no message'}"))
        elif status.state is HostState.OFFLINE:
            self._finish(JobFailed(f"{self.host_name} lost the printer: {status.message or 'offline'}"))
        else:
            self._finish(JobFailed(f"{self.host_name}: {watch.name} is no longer the job there"))
        return True

    def _control(self, action: str) -> None:
        if action == "cancel":
            self._cancel_requested = True
        try:
            with self._client_lock:
                if action == "cancel" and not self._on_host:  # nothing reached the host yet
                    self._stop.set()
                    self._finish(JobDone(cancelled=True))
                    return
                getattr(self.client, action)()
        except HostError as exc:
            if action == "cancel":
                self._stop.set()
                self._finish(JobFailed(f"cancel failed: {exc}"))
            else:
                self._on_progress(JobWarning(f"{action} failed: {exc}"))

    def _send_quietly(self, action: str) -> None:
        try:
            with self._client_lock:
                getattr(self.client, action)()
        except HostError:
            pass  # the failure being reported already says what is wrong


def _job_key(status: HostStatus) -> tuple[object, ...]:
    """What tells one job's state from another's (temperatures move all the time)."""
    return (status.state, status.file, status.done, status.total, status.job_id, status.message)


def _same_file(reported: str | None, name: str) -> bool:
    """Hosts report a path (`folder/part.gcode`) or a display name; compare the file name."""
    if not reported:
        return False
    return reported == name or reported.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1]


class MoonrakerDriver(HostDriver):
    """Klipper printers through Moonraker's HTTP API."""

    name = "moonraker"
    host_name = "Moonraker"

    def _read_host_options(self, options: Options) -> None:
        self.url = options.get_str("url")
        self.api_key = options.get_optional_str("api_key")

    def _make_client(self) -> HostClient:
        return MoonrakerClient(self.url, self.api_key, self.timeout)

    def _upload_and_start(self, job_file: Path) -> str:
        client = self._moonraker()
        name = client.upload(job_file)
        client.start_print(name)
        return name

    def _status(self) -> HostStatus:
        return self._moonraker().status()

    def _moonraker(self) -> MoonrakerClient:
        assert isinstance(self.client, MoonrakerClient)
        return self.client


class OctoPrintDriver(HostDriver):
    """Printers behind OctoPrint, through its REST API and an application key."""

    name = "octoprint"
    host_name = "OctoPrint"

    def _read_host_options(self, options: Options) -> None:
        self.url = options.get_str("url")
        self.api_key = options.get_str("api_key")
        self.connect = options.get_bool("connect", True)
        self.printer_port = options.get_optional_str("printer_port")
        baud = options.get_int("printer_baudrate", 0, 0, 4_000_000)
        self.printer_baudrate = baud or None
        self.connect_timeout = options.get_float("connect_timeout", 30.0, 1, 600)

    def _make_client(self) -> HostClient:
        return OctoPrintClient(self.url, self.api_key, self.timeout)

    def _upload_and_start(self, job_file: Path) -> str:
        client = self._octoprint()
        state = client.connection_state()
        if state.lower() in ("closed", "offline") or state.lower().startswith(("error", "offline")):
            if not self.connect:
                raise HostError(f"OctoPrint is not connected to its printer ({state})")
            client.connect(self.printer_port, self.printer_baudrate, self.connect_timeout)
        elif state.lower() != "operational":
            raise HostError(f"OctoPrint is not ready for a new job: {state}")
        return client.upload_and_print(job_file)

    def _status(self) -> HostStatus:
        return self._octoprint().status()

    def _octoprint(self) -> OctoPrintClient:
        assert isinstance(self.client, OctoPrintClient)
        return self.client


class PrusaLinkDriver(HostDriver):
    """Prusa MK4, XL and MINI (and MK3 with PrusaLink on a Pi) through PrusaLink's local API."""

    name = "prusalink"
    host_name = "PrusaLink"

    def _read_host_options(self, options: Options) -> None:
        self.url = options.get_str("url")
        self.username = options.get_str("username", "maker")
        self.password = options.get_optional_str("password")
        self.api_key = options.get_optional_str("api_key")
        if not (self.password or self.api_key):
            raise InvalidInput("prusalink driver: set 'password' (digest login) or 'api_key'")
        self.storage = options.get_optional_str("storage")

    def _make_client(self) -> HostClient:
        return PrusaLinkClient(
            self.url,
            username=self.username,
            password=self.password,
            api_key=self.api_key,
            timeout=self.timeout,
        )

    def _wait_until_free(self) -> bool:
        """PrusaLink refuses a new print while it still shows the last one FINISHED or STOPPED (11 s)."""
        deadline = self._clock() + self.start_timeout
        while self._clock() < deadline:
            with self._client_lock:
                if not self._prusalink().showing_last_end():
                    return True
            if self._stop.wait(self.poll_interval):
                return False
        return True  # the upload then fails with PrusaLink's own words

    def _upload_and_start(self, job_file: Path) -> str:
        client = self._prusalink()
        storage = self.storage or client.writable_storage()
        return client.upload_and_print(job_file, storage)

    def _status(self) -> HostStatus:
        return self._prusalink().status()

    def _prusalink(self) -> PrusaLinkClient:
        assert isinstance(self.client, PrusaLinkClient)
        return self.client
