"""The agent's view of a machine driver and of the G-code safety check, both from firmware_bridge.

The runner speaks only this small interface; firmware_bridge's events are translated here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from coordinator.errors import InvalidInput
from fablab_agents.config import MachineConfig

Outcome = Literal["done", "failed", "cancelled"]
OnProgress = Callable[[float, float | None], None]
OnDone = Callable[[Outcome, str], None]


class Driver(Protocol):
    """What the runner needs from a machine."""

    def start(self, job_file: Path, on_progress: OnProgress, on_done: OnDone) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def cancel(self) -> None: ...


class BridgeDriver:
    """Adapts a firmware_bridge driver's event callbacks to (fraction, eta) and (outcome, reason)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def start(self, job_file: Path, on_progress: OnProgress, on_done: OnDone) -> None:
        def progress(event: Any) -> None:
            on_progress(float(event.fraction), getattr(event, "eta_s", None))

        def done(event: Any) -> None:
            on_done(*outcome_of(event))

        self.inner.start(job_file, progress, done)

    def pause(self) -> None:
        self.inner.pause()

    def resume(self) -> None:
        self.inner.resume()

    def cancel(self) -> None:
        self.inner.cancel()


def outcome_of(event: Any) -> tuple[Outcome, str]:
    """Map a firmware_bridge end event (Finished / Failed) to an outcome and a reason."""
    from firmware_bridge.events import Failed, Finished

    if isinstance(event, Failed):
        where = f" (line {event.line})" if event.line else ""
        return "failed", f"{event.reason}{where}"
    if isinstance(event, Finished) and event.cancelled:
        return "cancelled", "cancelled"
    return "done", ""


def open_driver(machine: MachineConfig) -> Driver:
    """Build the machine's driver from the registry; bad options are errors naming the machine."""
    from firmware_bridge.drivers import DRIVERS

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


def check_file(path: Path, machine: MachineConfig) -> list[str]:
    """Problems the G-code safety check finds against this machine's limits, as 'line N: ...'."""
    from firmware_bridge.gcode_check import check_gcode

    caps = machine.capabilities
    problems = check_gcode(
        path,
        max_hotend_c=caps.max_hotend_c,
        max_bed_c=caps.max_bed_c,
        build_volume_mm=caps.build_volume_mm if any(caps.build_volume_mm) else None,
        max_spindle_rpm=caps.max_spindle_rpm,
    )
    return [str(problem) for problem in problems]
