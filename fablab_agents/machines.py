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
from firmware_bridge import gcode_check
from firmware_bridge.drivers import DRIVERS
from firmware_bridge.gcode import is_gcode_file
from protocol.errors import InvalidInput

Outcome = Literal["done", "failed", "cancelled"]


@dataclass(frozen=True)
class DriverEvents:
    """What a machine reports while it runs a job: the runner's callbacks, called from driver threads."""

    progress: Callable[[float, float | None], None]  # share done, seconds left (when known)
    paused: Callable[[], None]  # the machine stopped where it was after a pause request
    resumed: Callable[[], None]
    warning: Callable[[str], None]  # the machine said something that did not stop the job
    extruded: Callable[[float], None]  # filament (mm) the job extruded, when the machine knows; before done
    done: Callable[[Outcome, str], None]  # the job ended: how, and the firmware's or host's reason


class Driver(Protocol):
    """What the runner needs from a machine."""

    def start(self, job_file: Path, events: DriverEvents, *, estimated_s: float | None = None) -> None: ...

    def reattach(self, job_name: str, events: DriverEvents) -> bool: ...

    def release(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def cancel(self) -> None: ...


class BridgeDriver:
    """Adapts a firmware_bridge driver's event callbacks to the runner's `DriverEvents`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def start(self, job_file: Path, events: DriverEvents, *, estimated_s: float | None = None) -> None:
        self.inner.start(job_file, *_callbacks(events), estimated_s=estimated_s)

    def reattach(self, job_name: str, events: DriverEvents) -> bool:
        """Watch again a job the machine kept running while the agent was away (hosts only)."""
        return bool(self.inner.reattach(job_name, *_callbacks(events)))

    def release(self) -> None:
        self.inner.release()

    def pause(self) -> None:
        self.inner.pause()

    def resume(self) -> None:
        self.inner.resume()

    def cancel(self) -> None:
        self.inner.cancel()


def _callbacks(events: DriverEvents) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
    """A firmware_bridge driver's (on_progress, on_done) for the runner's events."""

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
        if isinstance(event, bridge.JobDone) and event.filament_mm is not None:
            events.extruded(float(event.filament_mm))
        events.done(*outcome_of(event))

    return progress, done


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
GCODE_DRIVERS = frozenset(name for name, driver in DRIVERS.items() if driver.needs_gcode)


def check_file(path: Path, machine: MachineConfig) -> list[str]:
    """Problems with running this file on this machine: G-code safety limits, or the wrong kind of file."""
    if not is_gcode_file(path):
        if machine.driver in GCODE_DRIVERS:
            return [f"{path.name} is not G-code; a {machine.driver} machine needs a sliced or CAM file"]
        return []
    return gcode_check.check_file(
        path, gcode_check.machine_limits(machine.capabilities, machine.volume_min_mm)
    )
