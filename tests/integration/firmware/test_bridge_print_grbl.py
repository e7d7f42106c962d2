"""`peerfab bridge print --firmware grbl` against a fake Grbl on a pty pair."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from coordinator.cli import cli
from firmware_bridge.gcode import read_job
from tests.support.fake_grbl import FakeGrbl, GrblFaults


def bridge_print(port: str, job: Path, *extra: str) -> object:
    args = ["bridge", "print", "--port", port, "--firmware", "grbl", "--boot-wait", "0.2", *extra, str(job)]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_real_cnc_file_streams_completely(run_fake, realworld: Path) -> None:
    job = realworld / "gcode/cnc/tball.gcode"
    fake = run_fake(FakeGrbl())
    result = bridge_print(fake.port, job)
    assert result.exit_code == 0, result.output
    assert fake.executed == [line.text for line in read_job(job)]
    assert fake.errors == []  # no receive-buffer overflow


def test_cutter_compensation_is_rejected_with_the_line_number(run_fake, realworld: Path) -> None:
    job = realworld / "gcode/cnc/helical-thread-milling.gcode"
    fake = run_fake(FakeGrbl())
    result = bridge_print(fake.port, job)
    assert result.exit_code == 1
    assert "line 5" in result.output and "error:20" in result.output
    assert "G42" not in " ".join(fake.executed)
    assert b"!" in fake.realtime and b"\x18" in fake.realtime  # held, then reset


def test_settings_then_job_with_alarm(run_fake, tmp_path: Path) -> None:
    job = tmp_path / "cut.nc"
    moves = [f"G1 X{i} Y{i} F800" for i in range(60)]
    job.write_text("\n".join(["$110=500", "$111=500", "G21 G90", *moves]) + "\n")
    fake = run_fake(FakeGrbl(GrblFaults(alarm_at=40)))
    result = bridge_print(fake.port, job)
    assert result.exit_code == 1 and "ALARM:1" in result.output
    assert fake.settings == {"$110": "500", "$111": "500"}
    assert fake.errors == []  # nothing arrived while a setting was being written


def test_controller_reset_mid_job(run_fake, tmp_path: Path) -> None:
    job = tmp_path / "cut.nc"
    job.write_text("\n".join(f"G1 X{i} F800" for i in range(50)) + "\n")
    fake = run_fake(FakeGrbl(GrblFaults(reset_at=20)))
    result = bridge_print(fake.port, job)
    assert result.exit_code == 1 and "controller reset" in result.output


def test_keys_hold_and_resume_a_job_from_the_terminal(run_fake, tmp_path: Path) -> None:
    job = tmp_path / "cut.nc"
    job.write_text("\n".join(f"G1 X{i} F800" for i in range(60)) + "\n")
    fake = run_fake(FakeGrbl(exec_time=0.03))
    master, slave = os.openpty()
    command = [sys.executable, "-c", "from coordinator.cli import main; main()"]
    command += ["bridge", "print", "--port", fake.port, "--firmware", "grbl", "--boot-wait", "0.2", str(job)]
    process = subprocess.Popen(command, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(fake.executed) >= 10)
        os.write(master, b"p")
        wait_for(lambda: b"!" in fake.realtime)
        held = len(fake.executed)
        time.sleep(0.5)
        assert len(fake.executed) == held < 60  # feed hold: nothing more runs
        os.write(master, b"r")
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
        os.close(master)
        os.close(slave)
    assert process.returncode == 0, output.decode()
    assert fake.realtime.index(b"!") < fake.realtime.index(b"~")
    assert fake.executed == [line.text for line in read_job(job)]


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
