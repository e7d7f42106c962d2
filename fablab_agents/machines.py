"""The agent's view of a machine driver and of the G-code safety check, both from firmware_bridge.

The runner speaks only this small interface; firmware_bridge's events are translated here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from fablab_agents.config import MachineConfig
from firmware_bridge import driver_base as bridge
from firmware_bridge.drivers import DRIVERS
from protocol.errors import InvalidInput

Outcome = Literal["done", "failed", "cancelled"]


@dataclass(frozen=True)
class DriverEvents:
    """What a machine reports while it runs a job: the runner's callbacks, called from driver threads."""

    progress: Callable[[float, float | None], None]  # share done, seconds left (when known)
    paused: Callable[[], None]  # the machine stopped where it was after a pause request
    resumed: Callable[[], None]
    warning: Callable[[str], None]  # the machine said something that did not stop the job
    done: Callable[[Outcome, str], None]  # the job ended: how, and the firmware's or host's reason


class Driver(Protocol):
    """What the runner needs from a machine."""

    def start(self, job_file: Path, events: DriverEvents, *, estimated_s: float | None = None) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def cancel(self) -> None: ...


class BridgeDriver:
    """Adapts a firmware_bridge driver's event callbacks to the runner's `DriverEvents`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def start(self, job_file: Path, events: DriverEvents, *, estimated_s: float | None = None) -> None:
        def progress(event: Any) -> None:
            if isinstance(event, bridge.JobPaused):
                events.paused()
            elif isinstance(event, bridge.JobResumed):
                events.resumed()
            elif isinstance(event, bridge.JobProgress):
                events.progress(float(event.fraction), event.eta_s)
            elif isinstance(event, bridge.JobWarning):
                events.warning(event.message)

        def done(event: Any) -> None:
            events.done(*outcome_of(event))

        self.inner.start(job_file, progress, done, estimated_s=estimated_s)

    def pause(self) -> None:
        self.inner.pause()

    def resume(self) -> None:
        self.inner.resume()

    def cancel(self) -> None:
        self.inner.cancel()


def outcome_of(event: Any) -> tuple[Outcome, str]:
    """How a firmware_bridge driver's job ended, with the machine's own reason for a failure."""
    if isinstance(event, bridge.JobFailed):
        return "failed", event.reason
    if isinstance(event, bridge.JobDone):
        return ("cancelled", "cancelled") if event.cancelled else ("done", "")
    return "failed", f"the machine ended the job in a way the agent does not know: {event!r}"


def open_driver(machine: MachineConfig) -> Driver:
    """Build the machine's driver from the registry; bad options are errors naming the machine."""
    factory = DRIVERS.get(machine.driver)
    if factory is None:
        known = ", ".join(sorted(DRIVERS))
        raise InvalidInput(
            f"[machine {machine.id}] driver: unknown driver {machine.driver!r} (known: {known})"
        )
    try:
        inner = factory(dict(machine.driver_options))
    except InvalidInput as exc:
        raise InvalidInput(f"[machine {machine.id}] {exc.message}") from exc
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"[machine {machine.id}] {exc}") from exc
    return BridgeDriver(inner)


# Drivers that send the file to firmware as it is: they need G-code, not a mesh or a work order.
GCODE_DRIVERS = frozenset({"marlin", "grbl", "moonraker"})


def check_file(path: Path, machine: MachineConfig) -> list[str]:
    """Problems with running this file on this machine: G-code safety limits, or the wrong kind of file."""
    from firmware_bridge.gcode import is_gcode_file
    from firmware_bridge.gcode_check import Limits, check_gcode

    if not is_gcode_file(path):
        if machine.driver in GCODE_DRIVERS:
            return [f"{path.name} is not G-code; a {machine.driver} machine needs a sliced or CAM file"]
        return []
    caps = machine.capabilities
    limits = Limits(
        max_hotend=caps.max_hotend_c,
        max_bed=caps.max_bed_c,
        max_spindle=caps.max_spindle_rpm,
        volume_min=machine.volume_min_mm,
        volume_max=caps.build_volume_mm if any(caps.build_volume_mm) else None,
    )
    try:
        with path.open(encoding="utf-8") as handle:
            return [str(problem) for problem in check_gcode(handle, limits)]
    except UnicodeDecodeError:
        return [f"{path.name} is not a text G-code file"]
