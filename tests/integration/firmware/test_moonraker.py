"""The Moonraker driver against a small fake Moonraker HTTP server on 127.0.0.1.

No Klipper runs here; the fake (tests/support/fake_moonraker.py) answers with the shapes of
Moonraker's web API documentation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.drivers import JobDone, JobFailed, JobPaused, JobProgress, make_driver
from firmware_bridge.moonraker import MoonrakerClient, MoonrakerError
from tests.support.fake_moonraker import SHUTDOWN_MESSAGE, FakeMoonraker, fake_moonraker


@pytest.fixture
def moonraker() -> Iterator[tuple[FakeMoonraker, str]]:
    printer = FakeMoonraker()
    with fake_moonraker(printer) as url:
        yield printer, url


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "job.gcode"
    path.write_text("G28\nG1 X10 Y10 F3000\n" * 50)
    return path


def run(driver, job: Path) -> tuple[list, list]:
    progress: list = []
    done: list = []
    driver.start(job, progress.append, done.append)
    assert driver.wait(10)
    return progress, done


def test_upload_start_poll_until_complete(moonraker, job: Path) -> None:
    printer, url = moonraker
    driver = make_driver({"driver": "moonraker", "url": url, "poll_interval": 0.01})
    progress, done = run(driver, job)
    assert done == [JobDone(filament_mm=1250.0)]  # Klipper's count of what the print extruded
    assert printer.files["job.gcode"].count(b"G28") == 50  # multipart body holds the file
    assert printer.calls[1:3] == ["POST /server/files/upload", "POST /printer/print/start"]
    assert any(c.endswith("?print_stats&virtual_sdcard&heater_bed&extruder") for c in printer.calls)
    fractions = [p.fraction for p in progress if isinstance(p, JobProgress)]
    assert fractions[-1] == 1.0


def test_klipper_error_fails_the_job(moonraker, job: Path) -> None:
    printer, url = moonraker
    printer.fail_at = 0.5
    driver = make_driver({"driver": "moonraker", "url": url, "poll_interval": 0.01})
    _, done = run(driver, job)
    assert isinstance(done[0], JobFailed) and SHUTDOWN_MESSAGE in done[0].reason


def test_pause_and_cancel_reach_the_printer(moonraker, job: Path) -> None:
    printer, url = moonraker
    driver = make_driver({"driver": "moonraker", "url": url, "poll_interval": 0.2})
    progress: list = []
    done: list = []
    driver.start(job, progress.append, done.append)
    threading.Event().wait(0.1)  # the print has started before the first poll
    driver.pause()
    threading.Event().wait(0.3)
    driver.cancel()
    assert driver.wait(10)
    assert "POST /printer/print/pause" in printer.calls
    assert "POST /printer/print/cancel" in printer.calls
    assert any(isinstance(p, JobPaused) for p in progress)
    assert done == [JobDone(cancelled=True)]


def test_reattach_follows_the_print_a_new_driver_finds_running(moonraker, job: Path) -> None:
    printer, url = moonraker
    first = make_driver({"driver": "moonraker", "url": url, "poll_interval": 5})
    first.start(job, ignore, ignore)
    threading.Event().wait(0.2)  # uploaded and started; the agent now "restarts"
    first.release()
    second = make_driver({"driver": "moonraker", "url": url, "poll_interval": 0.01})
    assert not second.reattach("other.gcode", ignore, ignore)
    done: list = []
    assert second.reattach("job.gcode", ignore, done.append)
    assert second.wait(10)
    assert done == [JobDone(filament_mm=1250.0)]  # the whole print's, though it was followed from midway
    idle = make_driver({"driver": "moonraker", "url": url})
    assert not idle.reattach("job.gcode", ignore, ignore)  # complete: nothing to follow


def ignore(_event: object) -> None:
    """A driver callback for events the test does not look at."""


def test_unreachable_moonraker_is_reported(job: Path) -> None:
    client = MoonrakerClient("http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(MoonrakerError, match="cannot reach Moonraker"):
        client.query()
