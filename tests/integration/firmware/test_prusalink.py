"""The PrusaLink driver against a fake PrusaLink built from Prusa's published OpenAPI description.

No Prusa printer or PrusaLink server runs here. The fake (tests/support/fake_prusalink.py) implements
the v1 endpoints the driver uses with the status codes, headers and JSON fields of that description
(digest login included), and moves a started print on by a quarter at each status poll.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.drivers import (
    JobDone,
    JobFailed,
    JobPaused,
    JobProgress,
    JobResumed,
    JobWarning,
    make_driver,
)
from tests.support.fake_prusalink import HARDWARE_ISSUE, PASSWORD, FakePrusaLink, fake_prusalink


@pytest.fixture
def prusalink() -> Iterator[tuple[FakePrusaLink, str]]:
    printer = FakePrusaLink()
    with fake_prusalink(printer) as url:
        yield printer, url


@pytest.fixture
def job(tmp_path: Path) -> Path:
    path = tmp_path / "bracket_0.2mm_PETG.gcode"
    path.write_text("G28\nG1 X10 Y10 F3000\n" * 40)
    return path


def driver(url: str, **options: object):  # type: ignore[no-untyped-def]
    return make_driver(
        {"driver": "prusalink", "url": url, "password": PASSWORD, "poll_interval": 0.01, **options}
    )


def run(drv, job: Path) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    progress: list = []
    done: list = []
    drv.start(job, progress.append, done.append)
    assert drv.wait(10)
    return progress, done


def test_upload_with_digest_login_then_print_to_finished(prusalink, job: Path) -> None:
    printer, url = prusalink
    progress, done = run(driver(url), job)
    assert done == [JobDone()]
    assert printer.files[job.name] == job.read_bytes()
    assert printer.headers["Print-After-Upload"] == "?1" and printer.headers["Overwrite"] == "?1"
    assert printer.headers["Content-Type"] == "text/x.gcode"  # PrusaLink 0.8.1 fails octet-stream with 500
    assert f"PUT /api/v1/files/usb/{job.name}" in printer.calls  # the writable storage was found
    assert [p.fraction for p in progress if isinstance(p, JobProgress)][-1] == 1.0


def test_a_print_that_ends_before_the_first_poll_is_done(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.step = 100.0  # finished at the first poll, when PrusaLink no longer names the job
    progress, done = run(driver(url, start_timeout=2), job)
    assert done == [JobDone()]
    assert [p.fraction for p in progress if isinstance(p, JobProgress)] == [1.0]


def test_a_poll_that_says_printing_but_names_no_job_is_still_the_job(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.unnamed_at = 50.0
    _, done = run(driver(url), job)
    assert done == [JobDone()]


def test_a_job_waits_while_prusalink_still_shows_the_last_one_finished(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.state, printer.file, printer.end_hold = "FINISHED", "last.gcode", 5
    printer.files["last.gcode"] = b"G28\n"
    _, done = run(driver(url), job)
    assert done == [JobDone()]
    assert [call for call in printer.calls if call.startswith("PUT")] == [f"PUT /api/v1/files/usb/{job.name}"]


def test_a_cancel_while_waiting_for_prusalink_is_done_without_an_upload(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.state, printer.file, printer.end_hold = "STOPPED", "last.gcode", 10_000
    printer.files["last.gcode"] = b"G28\n"
    drv = driver(url)
    done: list = []
    drv.start(job, ignore, done.append)
    wait_until(lambda: len(printer.calls) >= 2)  # it polls, waiting
    drv.cancel()
    assert drv.wait(10)
    assert done == [JobDone(cancelled=True)]
    assert not [call for call in printer.calls if not call.startswith("GET")]


def test_a_print_asked_while_another_is_on_fails_with_prusalinks_words(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.state, printer.file = "PAUSED", "other.gcode"
    printer.files["other.gcode"] = b"G28\n"
    _, done = run(driver(url), job)
    assert isinstance(done[0], JobFailed) and "HTTP 409: Printer is not in state to print." in done[0].reason


def test_a_wrong_password_is_a_failure_naming_the_http_status(prusalink, job: Path) -> None:
    _, url = prusalink
    _, done = run(driver(url, password="wrong"), job)
    assert isinstance(done[0], JobFailed) and "HTTP 401" in done[0].reason


def test_printer_error_fails_the_job_with_the_printers_message(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.fail_at = 50.0
    _, done = run(driver(url), job)
    assert isinstance(done[0], JobFailed) and HARDWARE_ISSUE in done[0].reason


def test_pause_resume_cancel_use_the_job_id(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.hold = True
    drv = driver(url, poll_interval=0.05)
    progress: list = []
    done: list = []
    drv.start(job, progress.append, done.append)
    wait_until(lambda: printer.state == "PRINTING" and any(isinstance(p, JobProgress) for p in progress))
    drv.pause()
    wait_until(lambda: any(isinstance(p, JobPaused) for p in progress))
    drv.resume()
    wait_until(lambda: any(isinstance(p, JobResumed) for p in progress))
    drv.cancel()
    assert drv.wait(10)
    assert done == [JobDone(cancelled=True)]
    assert not [p for p in progress if isinstance(p, JobWarning)]  # status_printer "OK" is no news
    job_id = printer.job_id
    assert [c for c in printer.calls if "/job/" in c] == [
        f"PUT /api/v1/job/{job_id}/pause",
        f"PUT /api/v1/job/{job_id}/resume",
        f"DELETE /api/v1/job/{job_id}",
    ]


def test_attention_at_the_printer_is_a_pause_with_a_warning(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.hold = True
    drv = driver(url, poll_interval=0.05)
    progress: list = []
    drv.start(job, progress.append, ignore)
    wait_until(lambda: any(isinstance(p, JobProgress) for p in progress))
    printer.state = "ATTENTION"  # a filament change waits for the user, status_printer still "OK"
    wait_until(lambda: any(isinstance(p, JobWarning) for p in progress))
    printer.state = "PRINTING"
    wait_until(lambda: any(isinstance(p, JobResumed) for p in progress))
    drv.cancel()
    assert drv.wait(10)
    events = [p for p in progress if isinstance(p, (JobPaused, JobWarning, JobResumed))]
    assert events == [JobPaused(), JobWarning("PrusaLink: the printer needs attention"), JobResumed()]


def test_a_stop_at_the_printer_is_a_failure_and_reattach_follows_a_running_job(prusalink, job: Path) -> None:
    printer, url = prusalink
    printer.hold = True
    first = driver(url, poll_interval=30)
    first.start(job, ignore, ignore)
    wait_until(lambda: printer.state == "PRINTING")
    first.release()  # the agent restarts: the first driver stops watching, the print goes on
    second = driver(url)
    assert not second.reattach("other.gcode", ignore, ignore)
    done: list = []
    assert second.reattach(job.name, ignore, done.append)
    printer.state = "STOPPED"  # someone pressed stop on the printer
    assert second.wait(10)
    assert isinstance(done[0], JobFailed) and "stopped at the printer" in done[0].reason
    assert not driver(url).reattach(job.name, ignore, ignore)


def ignore(_event: object) -> None:
    """A driver callback for events the test does not look at."""


def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("timed out")
