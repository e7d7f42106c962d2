"""Driver registry, option checking and the simulated machine."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from firmware_bridge.drivers import (
    DRIVERS,
    DriverState,
    JobDone,
    JobFailed,
    JobPaused,
    JobProgress,
    make_driver,
)
from firmware_bridge.events import Failed, Finished, Progress
from firmware_bridge.gcode import prepare_lines
from firmware_bridge.simulator import Fault, SimulatedJob, estimate_duration
from protocol.errors import InvalidInput


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "job.gcode"
    path.write_text("G90\nG1 X100 F6000\nG1 Y100\nG4 S2\n")
    return path


def test_registry_names_every_driver() -> None:
    assert set(DRIVERS) == {"marlin", "grbl", "moonraker", "octoprint", "prusalink", "simulated"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"driver": "marlin", "port": "loop://", "bufsize": 4}, "unknown option"),
        ({"driver": "marlin"}, "'port' is required"),
        ({"driver": "grbl", "port": "loop://", "status_interval": 0.05}, "outside"),
        ({"driver": "simulated", "time_scale": "fast"}, "must be a number"),
        ({"driver": "lathe"}, "unknown machine driver"),
        ({"driver": "octoprint", "url": "http://127.0.0.1:5000"}, "'api_key' is required"),
        ({"driver": "octoprint", "url": "http://o", "api_key": "k", "connect": "yes"}, "true or false"),
        ({"driver": "prusalink", "url": "http://mk4.local"}, "'password'"),
        ({"driver": "marlin", "port": "loop://", "stall_s": -1}, "outside"),
        ({"driver": "moonraker", "url": "http://k", "poll_interval": 0}, "outside"),
    ],
)
def test_bad_config_names_the_problem(config: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make_driver(config)


def test_duration_estimate_from_moves_and_dwell() -> None:
    lines = list(prepare_lines(["G90", "G1 X100 F6000", "G1 Y100", "G4 S2"]))
    assert estimate_duration(lines) == pytest.approx(1.0 + 1.0 + 2.0, abs=0.05)


def test_simulated_job_runs_faster_by_its_scale_and_can_fail() -> None:
    run = SimulatedJob(duration_s=3600, total_bytes=1000, scale=60)
    run.advance(0.0)
    assert run.advance(30.0) == [Progress(500, 1000, 0, 0)]
    assert run.advance(60.0)[-1] == Finished()
    broken = SimulatedJob(100, 1000, scale=1, fault=Fault(0.4, "nozzle clog"))
    broken.advance(0.0)
    assert broken.advance(90.0)[-1] == Failed("nozzle clog")


def test_simulated_pause_freezes_time() -> None:
    run = SimulatedJob(100, 100, scale=1)
    run.advance(0.0)
    run.pause()
    run.advance(50.0)
    run.resume()
    run.advance(60.0)
    assert run.fraction == pytest.approx(0.1)


def test_simulated_driver_end_to_end(job: Path) -> None:
    driver = make_driver({"driver": "simulated", "time_scale": 100, "tick_s": 0.005})
    progress: list = []
    done: list = []
    driver.start(job, progress.append, done.append)
    assert driver.wait(10)
    assert done == [JobDone()]
    assert isinstance(progress[-1], JobProgress) and progress[-1].fraction == 1.0
    assert driver.status().state is DriverState.DONE


def test_simulated_print_reports_the_filament_its_g_code_extrudes(tmp_path: Path) -> None:
    job = tmp_path / "print.gcode"
    job.write_text("M83\nG1 X50 E2.5 F3000\nG1 E-0.8\nG1 E0.8\nG1 X0 E1.5\n")
    driver = make_driver({"driver": "simulated", "time_scale": 1000, "tick_s": 0.005})
    done: list = []
    driver.start(job, lambda _event: None, done.append)
    assert driver.wait(10)
    assert done == [JobDone(filament_mm=pytest.approx(4.0))]


def test_simulated_driver_pause_cancel_and_injected_failure(job: Path) -> None:
    driver = make_driver({"driver": "simulated", "duration_s": 1000, "tick_s": 0.005, "time_scale": 1})
    progress: list = []
    done: list = []
    driver.start(job, progress.append, done.append)
    driver.pause()
    threading.Event().wait(0.05)
    assert driver.status().state is DriverState.PAUSED
    driver.cancel()
    assert driver.wait(5)
    assert any(isinstance(p, JobPaused) for p in progress)
    assert done == [JobDone(cancelled=True)]
    failing = make_driver(
        {
            "driver": "simulated",
            "duration_s": 10,
            "time_scale": 1000,
            "tick_s": 0.001,
            "fail_at": 0.5,
            "fail_reason": "thermal runaway",
        }
    )
    failing.start(job, progress.append, done.append)
    assert failing.wait(5)
    assert done[-1] == JobFailed("thermal runaway")


def test_serial_and_simulated_drivers_never_reattach() -> None:
    for config in ({"driver": "marlin", "port": "loop://"}, {"driver": "simulated"}):
        assert make_driver(config).reattach("job.gcode", print, print) is False


def test_start_with_a_missing_file_raises_bad_input(tmp_path: Path) -> None:
    driver = make_driver({"driver": "simulated"})
    with pytest.raises(InvalidInput, match="no such G-code file"):
        driver.start(tmp_path / "nope.gcode", print, print)
