"""The OctoPrint driver against a real OctoPrint server and its virtual printer, on a loopback port."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from firmware_bridge.drivers import (
    Driver,
    JobDone,
    JobFailed,
    JobPaused,
    JobProgress,
    JobResumed,
    make_driver,
)
from tests.support.octoprint_peer import OctoPrintServer

pytestmark = pytest.mark.slow


def moves(path: Path, count: int, *extra: str) -> Path:
    """A job of `count` 100 mm moves at F600; OctoPrint's virtual printer takes 1 s for each."""
    lines = ["G21", "G90", *extra]
    lines += [f"G1 X{100 if i % 2 == 0 else 0} Y10 F600" for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def driver_for(server: OctoPrintServer, **options: object) -> Driver:
    config = {"driver": "octoprint", "url": server.url, "api_key": server.api_key, "printer_port": "VIRTUAL"}
    return make_driver({**config, "poll_interval": 0.2, **options})


class Recorder:
    """Collects a driver's callbacks and lets a test wait for one."""

    def __init__(self) -> None:
        self.progress: list = []
        self.done: list = []
        self._changed = threading.Condition()

    def on_progress(self, event: object) -> None:
        with self._changed:
            self.progress.append(event)
            self._changed.notify_all()

    def on_done(self, event: object) -> None:
        with self._changed:
            self.done.append(event)
            self._changed.notify_all()

    def wait_for(self, kind: type, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(isinstance(e, kind) for e in self.progress + self.done):
                assert self._changed.wait(deadline - time.monotonic()), f"no {kind.__name__}"


def test_a_job_runs_to_done_with_progress(octoprint_server: OctoPrintServer, tmp_path: Path) -> None:
    job = moves(tmp_path / "done-job.gcode", 3)
    seen = Recorder()
    driver = driver_for(octoprint_server)
    driver.start(job, seen.on_progress, seen.on_done)
    assert driver.wait(60)
    assert seen.done == [JobDone()]
    fractions = [e.fraction for e in seen.progress if isinstance(e, JobProgress)]
    assert fractions and fractions[-1] == 1.0
    assert octoprint_server.get("/api/files/local/done-job.gcode").status_code == 200


def test_pause_resume_and_cancel_reach_octoprint(octoprint_server: OctoPrintServer, tmp_path: Path) -> None:
    job = moves(tmp_path / "long-job.gcode", 60)
    seen = Recorder()
    driver = driver_for(octoprint_server)
    driver.start(job, seen.on_progress, seen.on_done)
    seen.wait_for(JobProgress)
    driver.pause()
    seen.wait_for(JobPaused)
    assert octoprint_server.get("/api/job").json()["state"] == "Paused"
    driver.resume()
    seen.wait_for(JobResumed)
    driver.cancel()
    assert driver.wait(60)
    assert seen.done == [JobDone(cancelled=True)]


def test_reattach_after_the_driver_is_recreated(octoprint_server: OctoPrintServer, tmp_path: Path) -> None:
    job = moves(tmp_path / "reattached.gcode", 60)
    first = driver_for(octoprint_server, poll_interval=30)
    first.start(job, Recorder().on_progress, Recorder().on_done)
    deadline = time.monotonic() + 30
    while octoprint_server.get("/api/job").json()["state"] != "Printing":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    first.release()  # the agent restarts: the first driver stops watching, OctoPrint prints on
    again = Recorder()
    second = driver_for(octoprint_server)
    assert not second.reattach("another-file.gcode", again.on_progress, again.on_done)
    assert second.reattach("reattached.gcode", again.on_progress, again.on_done)
    again.wait_for(JobProgress)
    second.cancel()
    assert second.wait(60)
    assert again.done == [JobDone(cancelled=True)]
    idle = driver_for(octoprint_server)
    assert not idle.reattach("reattached.gcode", again.on_progress, again.on_done)  # nothing printing now


def test_a_firmware_error_fails_the_job_with_octoprints_message(
    octoprint_server: OctoPrintServer, tmp_path: Path
) -> None:
    job = moves(tmp_path / "failing-job.gcode", 2)
    job.write_text(job.read_text() + "!!DEBUG:trigger_fatal_error_marlin\n" + "G1 X5 F600\n" * 5)
    seen = Recorder()
    driver = driver_for(octoprint_server)
    driver.start(job, seen.on_progress, seen.on_done)
    assert driver.wait(60)
    assert len(seen.done) == 1 and isinstance(seen.done[0], JobFailed)
    assert "kill() called" in seen.done[0].reason or "Thermal Runaway" in seen.done[0].reason
    # the next job reconnects the printer OctoPrint dropped after the error
    follow_up = Recorder()
    driver.start(moves(tmp_path / "after-error.gcode", 1), follow_up.on_progress, follow_up.on_done)
    assert driver.wait(60)
    assert follow_up.done == [JobDone()]
