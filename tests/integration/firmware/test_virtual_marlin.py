"""Real slicer output through OctoPrint's own virtual Marlin printer on a pty, with faults injected.

Each test compares the commands of the file with the record the virtual printer writes at the
moment it accepts and dispatches a line: every command exactly once, in file order.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from firmware_bridge.drivers import JobDone, JobFailed, JobWarning, make_driver
from tests.support.octoprint_peer import VirtualMarlin, virtual_marlin

# Faults by line number (the resend ratio option drops lines whatever the host does, and
# "resend_with_timeout" marks its line as received before dropping it, so neither is used):
# a resend request, a checksum error, a line dropped with no resend request, and a cluster of
# them so that complaints about lines already in flight pile up after a resend.
FAULTS = [
    "3:resend",
    "7:checksum_mismatch",
    "12:missing_lineno",
    "40:resend",
    "41:missing_lineno",
    "42:checksum_mismatch",
    "300:missing_lineno",
    "1200:resend",
]
FAST = {"rxBuffer": 1024, "time_scale": 50.0, "simulated_errors": FAULTS}


def commands_in(path: Path) -> list[str]:
    """The file's commands, read independently of peerfab's parser: `;` comments and blanks out."""
    commands = []
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            text = raw.split(";", 1)[0].strip()
            if text:
                commands.append(text)
    return commands


def bridge_print(port: str, job: Path, *extra: str):  # type: ignore[no-untyped-def]
    args = ["bridge", "print", "--port", port, "--boot-wait", "0.3", *extra, str(job)]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.mark.parametrize("eeprom", [True, False], ids=["eeprom-on", "eeprom-off"])
def test_prusaslicer_file_streams_every_command_once_in_order(
    octoprint_venv: Path, plug_job: Path, tmp_path: Path, eeprom: bool
) -> None:
    with virtual_marlin(tmp_path, enable_eeprom=eeprom, **FAST) as printer:
        result = bridge_print(printer.port, plug_job)
        executed = printer.executed()
    assert result.exit_code == 0, result.output
    assert executed == commands_in(plug_job)
    unknown = "skipped M201" in result.output
    assert unknown is not eeprom  # without EEPROM the printer refuses M201..M205: a warning, no failure


# Three dialects of real slicer output; the 65,559-command PrusaSlicer benchy and the Cura file
# run through the same printer in benchmarks/bridge.py instead, to keep the suite short.
REAL_FILES = [
    "vase_prusaslicer-2.7.4_marlin.gcode",
    "ripple_vase_fullcontrol.gcode",
    "sample_slic3r-1.2.0.gcode",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL_FILES)
def test_real_fdm_files_stream_exactly_once(
    octoprint_venv: Path, realworld: Path, tmp_path: Path, name: str
) -> None:
    job = realworld / "gcode" / "fdm" / name
    with virtual_marlin(tmp_path, enable_eeprom=False, **FAST) as printer:
        result = bridge_print(printer.port, job)
        executed = printer.executed()
    assert result.exit_code == 0, result.output[-2000:]
    assert executed == commands_in(job)


def run_driver(port: str, job: Path, **options: object) -> tuple[list, list]:
    driver = make_driver({"driver": "marlin", "port": port, "boot_wait": 0.3, **options})
    progress: list = []
    done: list = []
    driver.start(job, progress.append, done.append)
    assert driver.wait(120)
    return progress, done


@pytest.mark.slow
def test_heat_waits_and_busy_keepalives_are_not_timeouts(
    octoprint_venv: Path, plug_job: Path, tmp_path: Path
) -> None:
    # Heating from 21 °C to 210 °C takes the virtual printer about 4 s here, far over the 1 s
    # answer timeout: only its temperature reports and busy lines keep the job alive.
    settings = {**FAST, "time_scale": 5.0, "sendBusy": True, "busyInterval": 0.5}
    with virtual_marlin(tmp_path, enable_eeprom=False, **settings) as printer:
        progress, done = run_driver(printer.port, plug_job, command_timeout=1.0, long_timeout=1.0)
        executed = printer.executed()
    assert done == [JobDone(filament_mm=pytest.approx(90.743, abs=0.001))]  # the file's E moves, net
    assert executed == commands_in(plug_job)
    warnings = [event.message for event in progress if isinstance(event, JobWarning)]
    assert any("M201" in message and "file line" in message for message in warnings)


def job_with(tmp_path: Path, plug_job: Path, at: int, inserted: str) -> tuple[Path, list[str]]:
    """The plug job with one line inserted before its `at`-th command; returns it and the commands before."""
    commands = commands_in(plug_job)
    path = tmp_path / "job.gcode"
    path.write_text("\n".join([*commands[:at], inserted, *commands[at:]]) + "\n")
    return path, commands[:at]


def test_a_printer_reset_fails_the_job_and_nothing_is_sent_into_it(
    octoprint_venv: Path, plug_job: Path, tmp_path: Path
) -> None:
    job, before = job_with(tmp_path, plug_job, 200, "!!DEBUG:reset")
    with virtual_marlin(tmp_path / "printer", **FAST) as printer:
        result = bridge_print(printer.port, job)
        executed = printer.executed()
    assert result.exit_code == 1
    assert "printer reset" in result.output
    assert executed == before  # nothing after the reset ran, nothing before it ran twice


def test_a_fatal_firmware_error_fails_with_its_message_and_line(
    octoprint_venv: Path, plug_job: Path, tmp_path: Path
) -> None:
    job, _ = job_with(tmp_path, plug_job, 100, "!!DEBUG:trigger_fatal_error_marlin")
    with virtual_marlin(tmp_path / "printer", **FAST) as printer:
        _, done = run_driver(printer.port, job)
    assert len(done) == 1 and isinstance(done[0], JobFailed)
    assert "Thermal Runaway" in done[0].reason and "file line 101" in done[0].reason


def test_a_printer_that_stays_busy_without_progress_is_a_stall(
    octoprint_venv: Path, plug_job: Path, tmp_path: Path
) -> None:
    job, _ = job_with(tmp_path, plug_job, 50, "G4 S100000")
    settings = {**FAST, "sendBusy": True, "busyInterval": 10.0}  # a busy line every 0.2 s
    with virtual_marlin(tmp_path / "printer", **settings) as printer:
        _, done = run_driver(printer.port, job, stall_s=2.0)
    assert len(done) == 1 and isinstance(done[0], JobFailed)
    assert "stalled" in done[0].reason and "G4 S100000" in done[0].reason and "file line 51" in done[0].reason


@pytest.mark.slow
def test_signals_pause_and_resume_the_command_line(
    octoprint_venv: Path, plug_job: Path, tmp_path: Path
) -> None:
    counts: list[int] = []

    def operator(printer: VirtualMarlin) -> None:
        while len(printer.executed()) < 300:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(1.0)  # lines already in the printer's buffer still run
        for _ in range(2):
            counts.append(len(printer.executed()))
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGUSR2)

    with virtual_marlin(tmp_path, enable_eeprom=False, **{**FAST, "time_scale": 5.0}) as printer:
        threading.Thread(target=operator, args=(printer,), daemon=True).start()
        result = bridge_print(printer.port, plug_job)
        executed = printer.executed()
    assert result.exit_code == 0, result.output
    assert "paused" in result.output and "resumed" in result.output
    assert counts[0] == counts[1] < len(executed)  # nothing ran while paused
    assert executed == commands_in(plug_job)
