"""The PrusaLink driver against the real PrusaLink 0.8.1 server, in front of a fake MK3S on a pty.

PrusaLink (tests/support/prusalink_peer.py) runs from its own venv and streams the uploaded G-code to the
fake firmware (tests/support/fake_prusa_mk3.py) with line numbers and checksums, as it does to a printer.
One server serves the module; each test waits until PrusaLink is IDLE again, since it keeps a finished
or stopped job's state for 11 s. The firmware error gets a server of its own: a halted printer stays so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.drivers import (
    Driver,
    JobDone,
    JobFailed,
    JobPaused,
    JobProgress,
    JobResumed,
    JobWarning,
    make_driver,
)
from firmware_bridge.http_host import HostError
from firmware_bridge.prusalink import PrusaLinkClient
from tests.conftest import serve_prusalink
from tests.integration.firmware.conftest import PLUG
from tests.support.fake_prusa_mk3 import FakePrusaMK3
from tests.support.prusalink_peer import PrusaLinkServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

EXEC_TIME = 0.003  # seconds the fake firmware takes per command: the fixture prints in a few seconds
JOB_TIMEOUT = 60.0
Peer = tuple[PrusaLinkServer, FakePrusaMK3]


@pytest.fixture(scope="module")
def peer(prusalink_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    yield from serve_prusalink(tmp_path_factory.mktemp("prusalink"), EXEC_TIME)


@pytest.fixture
def idle_peer(peer: Peer) -> Peer:
    """The module's PrusaLink once it has left the end state of the previous test's job."""
    server, _ = peer
    server.wait_for_state({"IDLE"}, 30.0)
    return peer


def driver(server: PrusaLinkServer, **options: object) -> Driver:
    return make_driver(
        {
            "driver": "prusalink",
            "url": server.url,
            "password": server.password,
            "poll_interval": 0.1,
            **options,
        }
    )


def file_commands(path: Path) -> list[str]:
    """The commands of a G-code file as a printer receives them: comments and blank lines dropped."""
    commands = (line.split(";", 1)[0].strip() for line in path.read_text().splitlines())
    return [command for command in commands if command]


def test_digest_login_and_api_key_are_accepted_and_bad_ones_named(peer: Peer) -> None:
    server, _ = peer
    assert PrusaLinkClient(server.url, password=server.password).status().state == "idle"
    assert PrusaLinkClient(server.url, api_key=server.api_key).writable_storage() == "local"
    with pytest.raises(HostError, match="HTTP 401"):
        PrusaLinkClient(server.url, password="wrong").status()
    with pytest.raises(HostError, match="HTTP 403: Bad X-Api-Key"):
        PrusaLinkClient(server.url, api_key="wrong").status()


def test_the_prusaslicer_file_prints_line_by_line_to_done(idle_peer: Peer) -> None:
    server, firmware = idle_peer
    firmware.executed.clear()
    progress: list = []
    done: list = []
    drv = driver(server)
    drv.start(PLUG, progress.append, done.append)
    assert drv.wait(JOB_TIMEOUT)
    assert done == [JobDone()]
    fractions = [event.fraction for event in progress if isinstance(event, JobProgress)]
    assert fractions == sorted(fractions) and any(0.0 < f < 1.0 for f in fractions) and fractions[-1] == 1.0
    assert server.printer_state() == "FINISHED"
    # PrusaLink adds its own progress reports (M73) and print timer commands (M75, M77) to the file's
    printed = [command for command in firmware.executed if not command.startswith(("M73", "M75", "M77"))]
    assert printed == file_commands(PLUG)


def test_a_second_driver_reattaches_to_the_running_job_and_follows_it_to_done(idle_peer: Peer) -> None:
    server, _ = idle_peer
    first = driver(server, poll_interval=30)
    first.start(PLUG, ignore, ignore)
    server.wait_for_state({"PRINTING"}, 10.0)
    first.release()  # the agent restarts: the first driver stops watching, PrusaLink prints on
    second = driver(server)
    assert not second.reattach("other.gcode", ignore, ignore)
    done: list = []
    assert second.reattach(PLUG.name, ignore, done.append)
    assert second.wait(JOB_TIMEOUT)
    assert done == [JobDone()]


def test_a_job_after_another_waits_out_finished_and_one_sent_during_a_print_is_refused(
    idle_peer: Peer, tmp_path: Path
) -> None:
    server, firmware = idle_peer
    short = tmp_path / "short.gcode"
    short.write_text("G28 ; home\nG1 X10 Y10 F3000\nM84\n")
    first: list = []
    drv = driver(server)
    drv.start(short, ignore, first.append)
    assert drv.wait(JOB_TIMEOUT) and first == [JobDone()]
    assert server.printer_state() == "FINISHED"  # for 11 s, refusing new prints
    second: list = []
    firmware.exec_time = 0.05  # the second job lasts over a minute: the cancel below comes mid-print
    try:
        running = driver(server)
        running.start(PLUG, ignore, second.append)  # waits until PrusaLink is IDLE again
        server.wait_for_state({"PRINTING"}, 30.0)
        third: list = []
        drv = driver(server)
        drv.start(short, ignore, third.append)
        assert drv.wait(JOB_TIMEOUT)
        assert third == [JobFailed(f"PrusaLink PUT /api/v1/files/local/{short.name} failed with HTTP 409: "
                                   "Printer is not in state to print.")]  # fmt: skip
        running.cancel()
        assert running.wait(JOB_TIMEOUT) and second == [JobDone(cancelled=True)]
    finally:
        firmware.exec_time = EXEC_TIME


def test_pause_resume_and_cancel_reach_the_printer(idle_peer: Peer) -> None:
    server, firmware = idle_peer
    progress: list = []
    done: list = []
    drv = driver(server)
    drv.start(PLUG, progress.append, done.append)
    wait_until(lambda: any(isinstance(event, JobProgress) for event in progress))
    drv.pause()
    wait_until(lambda: any(isinstance(event, JobPaused) for event in progress))
    assert server.printer_state() == "PAUSED" and "M601" in firmware.received
    sent = len(firmware.executed)
    threading.Event().wait(1.0)
    assert len(firmware.executed) == sent  # PrusaLink holds the file back while paused
    drv.resume()
    wait_until(lambda: any(isinstance(event, JobResumed) for event in progress))
    wait_until(lambda: len(firmware.executed) > sent)
    drv.cancel()
    assert drv.wait(JOB_TIMEOUT)
    assert done == [JobDone(cancelled=True)]
    assert server.printer_state() == "STOPPED" and "M603" in firmware.received
    assert not [event for event in progress if isinstance(event, JobWarning)]


def test_a_filament_change_waiting_at_the_printer_is_a_pause_with_a_warning(
    idle_peer: Peer, tmp_path: Path
) -> None:
    server, firmware = idle_peer
    job = tmp_path / "colour-change.gcode"
    job.write_text("G28\n" + "G1 X10 F3000\nG1 X20\n" * 20 + "M600 ; change filament\n" + "G1 X30\n" * 20)
    progress: list = []
    done: list = []
    drv = driver(server)
    drv.start(job, progress.append, done.append)
    wait_until(lambda: any(isinstance(event, JobWarning) for event in progress))
    assert server.printer_state() == "ATTENTION"
    firmware.confirm_at_printer()
    assert drv.wait(JOB_TIMEOUT)
    assert done == [JobDone()]
    events = [event for event in progress if isinstance(event, (JobPaused, JobWarning, JobResumed))]
    assert events == [JobPaused(), JobWarning("PrusaLink: the printer needs attention"), JobResumed()]


@pytest.fixture
def own_peer(prusalink_venv: Path, tmp_path: Path) -> Iterator[Peer]:
    """A PrusaLink for one test, for faults it does not recover from."""
    yield from serve_prusalink(tmp_path / "prusalink", EXEC_TIME)


def test_a_firmware_halt_fails_the_job_with_prusalinks_message(own_peer: Peer) -> None:
    server, firmware = own_peer
    firmware.halt_after = 300  # a thermal runaway part-way through the file
    done: list = []
    drv = driver(server)
    drv.start(PLUG, ignore, done.append)
    assert drv.wait(JOB_TIMEOUT)
    assert server.printer_state() == "ERROR"
    assert done == [JobFailed("PrusaLink reports an error: Firmware detected a hardware issue")]


def ignore(_event: object) -> None:
    """A driver callback for events the test does not look at."""
