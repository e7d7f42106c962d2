"""The Moonraker driver against the real Moonraker 0.11.0 server, in front of a fake klippy.

Moonraker (tests/support/moonraker_peer.py) runs from its own venv; it takes the upload into its gcodes
root, reads the file's metadata, and passes print start, pause, resume, cancel and the objects query to
klippy over its Unix socket as it does on a Klipper printer. Klipper is not to be had here, so
tests/support/fake_klippy.py answers in its place and moves the print through the file. One server
serves the module; the MCU shutdown and the API key get servers of their own.
"""

from __future__ import annotations

import time
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
    make_driver,
)
from firmware_bridge.moonraker import MoonrakerClient, MoonrakerError
from tests.conftest import running_moonraker
from tests.integration.firmware.conftest import PLUG
from tests.support.fake_klippy import SHUTDOWN_MESSAGE
from tests.support.moonraker_peer import MoonrakerServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

SLICER_FILAMENT_MM = 92.74  # the file's own "; filament used [mm]" footer
# Klipper counts the extruder's net travel: the 2 mm retraction before the first layer (line 35) is in
# it and not in the slicer's figure
KLIPPER_FILAMENT_MM = SLICER_FILAMENT_MM - 2.0
JOB_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server(moonraker_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoonrakerServer]:
    with running_moonraker(tmp_path_factory.mktemp("moonraker")) as server:
        yield server


@pytest.fixture
def idle(server: MoonrakerServer) -> MoonrakerServer:
    """The module's Moonraker with no print running, at the fixture's speed."""
    server.klippy.bytes_per_s = 20000.0
    server.wait_for_print_state({"standby", "complete", "cancelled"})
    return server


def driver(server: MoonrakerServer, **options: object) -> Driver:
    config = {"driver": "moonraker", "url": server.url, "poll_interval": 0.1, **options}
    return make_driver(config)


def slow_job(tmp_path: Path, name: str = "slow.gcode") -> Path:
    """A job of 400 short moves feeding 0.5 mm each (relative extrusion): 200 mm in all."""
    path = tmp_path / name
    path.write_text("G28\nM83\n" + "G1 X10 Y10 E0.5 F3000\n" * 400)
    return path


def test_a_sliced_file_prints_to_done_with_klippers_filament_count(idle: MoonrakerServer) -> None:
    printer = driver(idle)
    progress: list = []
    done: list = []
    printer.start(PLUG, progress.append, done.append)
    assert printer.wait(JOB_TIMEOUT)
    (result,) = done
    assert isinstance(result, JobDone) and not result.cancelled
    assert result.filament_mm == pytest.approx(KLIPPER_FILAMENT_MM, abs=0.01)
    assert (idle.gcodes / PLUG.name).read_bytes() == PLUG.read_bytes()
    assert idle.klippy.scripts[-1] == f'SDCARD_PRINT_FILE FILENAME="{PLUG.name}"'
    fractions = [event.fraction for event in progress if isinstance(event, JobProgress)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # Moonraker read the upload itself: its metadata agrees with the slicer's footer
    metadata = idle.get(f"/server/files/metadata?filename={PLUG.name}").json()["result"]
    assert metadata["filament_total"] == pytest.approx(SLICER_FILAMENT_MM)


def test_pause_resume_and_cancel_reach_klipper(idle: MoonrakerServer, tmp_path: Path) -> None:
    idle.klippy.bytes_per_s = 800.0  # about 11 s for the whole file
    printer = driver(idle)
    progress: list = []
    done: list = []
    printer.start(slow_job(tmp_path), progress.append, done.append)
    idle.wait_for_print_state({"printing"})
    printer.pause()
    assert idle.wait_for_print_state({"paused"}) == "paused"
    wait_until(
        lambda: any(isinstance(event, JobPaused) for event in progress), 10, "the driver saw the pause"
    )
    printer.resume()
    assert idle.wait_for_print_state({"printing"}) == "printing"
    wait_until(
        lambda: any(isinstance(event, JobResumed) for event in progress), 10, "the driver saw the resume"
    )
    printer.cancel()
    assert printer.wait(JOB_TIMEOUT)
    assert done == [JobDone(cancelled=True)]
    assert idle.print_state() == "cancelled"


def test_a_second_driver_reattaches_to_the_running_print(idle: MoonrakerServer, tmp_path: Path) -> None:
    idle.klippy.bytes_per_s = 2000.0
    job = slow_job(tmp_path, "reattached.gcode")
    first = driver(idle, poll_interval=5)
    first.start(job, ignore, ignore)
    idle.wait_for_print_state({"printing"})
    first.release()  # the agent "restarts": the print goes on in Klipper
    second = driver(idle)
    assert not second.reattach("other.gcode", ignore, ignore)
    done: list = []
    assert second.reattach(job.name, ignore, done.append)
    assert second.wait(JOB_TIMEOUT)
    assert done == [JobDone(filament_mm=pytest.approx(200.0))]
    assert not driver(idle).reattach(job.name, ignore, ignore)  # complete: nothing to follow


def test_a_moonraker_restart_mid_print_neither_ends_nor_restarts_the_print(
    idle: MoonrakerServer, tmp_path: Path
) -> None:
    idle.klippy.bytes_per_s = 1500.0  # about 6 s for the whole file
    job = slow_job(tmp_path, "restarted.gcode")
    printer = driver(idle)
    done: list = []
    printer.start(job, ignore, done.append)
    idle.wait_for_print_state({"printing"})
    idle.stop()  # Moonraker goes; Klipper goes on printing
    time.sleep(1.0)
    assert not done  # within the driver's offline grace the job goes on
    idle.start(trusted=True)
    assert printer.wait(JOB_TIMEOUT)
    assert done == [JobDone(filament_mm=pytest.approx(200.0))]
    assert idle.klippy.scripts.count(f'SDCARD_PRINT_FILE FILENAME="{job.name}"') == 1


def test_an_mcu_shutdown_fails_the_job_with_klippers_message(moonraker_venv: Path, tmp_path: Path) -> None:
    with running_moonraker(tmp_path / "moonraker") as server:
        server.klippy.fail_at = 0.5
        done: list = []
        printer = driver(server)
        printer.start(slow_job(tmp_path), ignore, done.append)
        assert printer.wait(JOB_TIMEOUT)
        (result,) = done
        assert isinstance(result, JobFailed) and SHUTDOWN_MESSAGE in result.reason


def test_without_trusted_clients_the_api_key_is_needed(moonraker_venv: Path, tmp_path: Path) -> None:
    with running_moonraker(tmp_path / "moonraker") as server:
        key = server.api_key
        server.stop()
        server.start(trusted=False)
        server.api_key = key
        refused: list = []
        driver(server).start(slow_job(tmp_path), ignore, refused.append)
        wait_until(lambda: refused, 10, "the driver without a key ended its job")
        assert isinstance(refused[0], JobFailed) and "401" in refused[0].reason
        done: list = []
        keyed = driver(server, api_key=key)
        keyed.start(slow_job(tmp_path, "keyed.gcode"), ignore, done.append)
        assert keyed.wait(JOB_TIMEOUT)
        assert done == [JobDone(filament_mm=pytest.approx(200.0))]


def ignore(_event: object) -> None:
    """A driver callback for events the test does not look at."""


def test_an_unreachable_moonraker_is_reported() -> None:
    client = MoonrakerClient("http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(MoonrakerError, match="cannot reach Moonraker"):
        client.query()
