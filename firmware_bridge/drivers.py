"""Every machine driver by name: serial firmwares, hosts in front of printers, the simulated machine.

`DRIVERS` maps a config's `driver` value to its class; `make_driver` builds one from a config
section. The interface and its events live in `driver_base`, re-exported here.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from firmware_bridge import events as ev
from firmware_bridge.driver_base import (
    PROGRESS_INTERVAL,
    DoneEvent,
    Driver,
    DriverState,
    DriverStatus,
    JobDone,
    JobFailed,
    JobPaused,
    JobProgress,
    JobResumed,
    JobWarning,
    OnDone,
    OnProgress,
    ProgressEvent,
)
from firmware_bridge.gcode import extruded_mm, is_gcode_file, read_job
from firmware_bridge.grbl import GrblConfig, GrblEngine
from firmware_bridge.host_drivers import MoonrakerDriver, OctoPrintDriver, PrusaLinkDriver
from firmware_bridge.marlin import MarlinConfig, MarlinEngine
from firmware_bridge.options import Options
from firmware_bridge.serial_transport import StreamRunner, open_port
from firmware_bridge.simulator import Fault, SimulatedJob, estimate_duration
from protocol.errors import InvalidInput

__all__ = [
    "DRIVERS",
    "PROGRESS_INTERVAL",
    "DoneEvent",
    "Driver",
    "DriverState",
    "DriverStatus",
    "GrblDriver",
    "JobDone",
    "JobFailed",
    "JobPaused",
    "JobProgress",
    "JobResumed",
    "JobWarning",
    "MarlinDriver",
    "MoonrakerDriver",
    "OctoPrintDriver",
    "OnDone",
    "OnProgress",
    "ProgressEvent",
    "PrusaLinkDriver",
    "SimulatedDriver",
    "make_driver",
]


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
        lines = read_job(job_file)
        self._extruded_mm = extruded_mm(lines)
        return MarlinEngine(lines, self.config)


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
    needs_gcode = False

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
        lines = read_job(job_file) if is_gcode_file(job_file) else []
        timed = estimate_duration(lines) if lines else 0.0
        self._extruded_mm = extruded_mm(lines)
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


DRIVERS: dict[str, type[Driver]] = {
    "marlin": MarlinDriver,
    "grbl": GrblDriver,
    "moonraker": MoonrakerDriver,
    "octoprint": OctoPrintDriver,
    "prusalink": PrusaLinkDriver,
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
