"""What the agent hears from a firmware_bridge driver: progress, pause, warnings, and the real outcome."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fablab_agents.machines import BridgeDriver, DriverEvents, _callbacks
from firmware_bridge import driver_base as bridge
from firmware_bridge.drivers import SimulatedDriver


class Heard:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.ended = threading.Event()

    def events(self) -> DriverEvents:
        return DriverEvents(
            progress=lambda fraction, eta: self.log.append(("progress", fraction)),
            paused=lambda: self.log.append(("paused", None)),
            resumed=lambda: self.log.append(("resumed", None)),
            warning=lambda message: self.log.append(("warning", message)),
            extruded=lambda filament_mm: self.log.append(("extruded", filament_mm)),
            done=self._done,
        )

    def _done(self, outcome: str, reason: str) -> None:
        self.log.append((outcome, reason))
        self.ended.set()

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.log if kind != "progress"]


def _job(tmp_path: Path) -> Path:
    path = tmp_path / "part.gcode"
    path.write_text("G21\nG90\n" + "G1 X100 Y0 F600\nG1 X0 Y0 F600\n" * 20)
    return path


def test_a_failing_machine_is_reported_failed_with_its_own_reason(tmp_path: Path) -> None:
    heard = Heard()
    driver = BridgeDriver(
        SimulatedDriver({"time_scale": 5000, "fail_at": 0.3, "fail_reason": "thermal runaway"})
    )
    driver.start(_job(tmp_path), heard.events())
    assert heard.ended.wait(10)
    assert heard.log[-1] == ("failed", "thermal runaway")


def test_a_pause_is_a_pause_and_the_job_ends_done_after_resume(tmp_path: Path) -> None:
    heard = Heard()
    inner = SimulatedDriver({"time_scale": 400, "tick_s": 0.01})
    driver = BridgeDriver(inner)
    driver.start(_job(tmp_path), heard.events())
    driver.pause()
    threading.Event().wait(0.2)
    assert heard.kinds() == ["paused"] and not heard.ended.is_set()
    driver.resume()
    assert heard.ended.wait(20)
    assert heard.kinds() == ["paused", "resumed", "done"]


def test_a_cancel_is_reported_cancelled(tmp_path: Path) -> None:
    heard = Heard()
    driver = BridgeDriver(SimulatedDriver({"time_scale": 100}))
    driver.start(_job(tmp_path), heard.events())
    driver.cancel()
    assert heard.ended.wait(10) and heard.log[-1] == ("cancelled", "cancelled")


class Talker:
    """The machine boundary: a firmware that warns along the way, then finishes."""

    def start(self, job_file: Path, on_progress: Any, on_done: Any, **_: Any) -> None:
        on_progress(bridge.JobWarning("Unknown command: M201 (line 12)"))
        on_progress(bridge.JobProgress(1.0, 10, 10, 0.0))
        on_done(bridge.JobDone())


def test_warnings_reach_the_agent_and_do_not_end_the_job(tmp_path: Path) -> None:
    heard = Heard()
    BridgeDriver(Talker()).start(_job(tmp_path), heard.events())
    assert heard.log == [("warning", "Unknown command: M201 (line 12)"), ("progress", 1.0), ("done", "")]


def test_the_filament_a_host_measured_is_heard_before_the_end() -> None:
    heard = Heard()
    _, done = _callbacks(heard.events())
    done(bridge.JobDone(filament_mm=1250.0))
    done(bridge.JobDone())  # a machine that measures nothing
    done(bridge.JobDone(cancelled=True, filament_mm=80.0))  # not done: the coordinator counts the share made
    assert heard.log == [("extruded", 1250.0), ("done", ""), ("done", ""), ("extruded", 80.0),
                         ("cancelled", "cancelled")]  # fmt: skip
