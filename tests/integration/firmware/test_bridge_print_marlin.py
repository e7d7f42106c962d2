"""`peerfab bridge print` against a fake Marlin on a pty pair, for what OctoPrint's virtual printer cannot do.

The fake models Marlin's 128-byte receive buffer strictly (the virtual printer's buffer is raised in
tests to avoid its own deadlock), answers a resend request for a line long acknowledged, and can
fall silent or reject a line forever.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from firmware_bridge.drivers import JobDone, make_driver
from firmware_bridge.gcode import read_job
from tests.support.fake_marlin import FakeMarlin, MarlinFaults


def bridge_print(port: str, job: Path, *extra: str) -> object:
    args = ["bridge", "print", "--port", port, "--firmware", "marlin", "--boot-wait", "0.2", *extra, str(job)]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def expected(job: Path) -> list[str]:
    return [line.text for line in read_job(job)]


def test_stale_resend_does_not_repeat_lines(run_fake, small_job: Path) -> None:
    fake = run_fake(FakeMarlin(MarlinFaults(stale_resend_after=50)))
    assert bridge_print(fake.port, small_job).exit_code == 0
    assert fake.executed == expected(small_job)


def test_byte_cap_protects_the_receive_buffer_with_a_large_line_window(run_fake, small_job: Path) -> None:
    fake = run_fake(FakeMarlin(bufsize=64, exec_time=0.001))
    result = bridge_print(fake.port, small_job, "--buffer", "64")
    assert result.exit_code == 0, result.output
    assert fake.overflows == 0 and fake.max_rx <= 128


def test_fake_detects_a_host_that_over_sends(run_fake) -> None:
    fake = run_fake(FakeMarlin(MarlinFaults(boot_banner=False), exec_time=1.0))
    with open(fake.port, "wb", buffering=0) as port:
        port.write(b"N1 G1 X1*99\n" * 30)
    for _ in range(200):
        if fake.overflows:
            break
        threading.Event().wait(0.01)
    assert fake.overflows > 0


def test_endless_resends_fail_with_exit_1(run_fake, small_job: Path) -> None:
    fake = run_fake(FakeMarlin(MarlinFaults(always_reject=20)))
    result = bridge_print(fake.port, small_job)
    assert result.exit_code == 1
    assert "resend loop" in result.output


def test_dropped_oks_time_out(run_fake, small_job: Path) -> None:
    fake = run_fake(FakeMarlin(MarlinFaults(silent_after=30)))
    result = bridge_print(fake.port, small_job, "--timeout", "0.5")
    assert result.exit_code == 1
    assert "printer dead" in result.output


def test_bad_input_exits_2(tmp_path: Path, small_job: Path) -> None:
    missing = bridge_print("/dev/null-no-such-port", small_job)
    assert missing.exit_code == 2 and "cannot open serial port" in missing.output
    no_file = bridge_print("loop://", tmp_path / "absent.gcode")
    assert no_file.exit_code == 2 and "no such G-code file" in no_file.output


def test_the_marlin_driver_reports_the_filament_of_the_job_it_ran(run_fake, tmp_path: Path) -> None:
    lines = ["M82", "G28"]
    for layer in range(10):  # each layer from G92 E0: 30 moves up to E1.45, a 0.8 mm retraction and back
        lines += [f"G1 Z{0.2 * (layer + 1):.2f} F600", "G92 E0"]
        lines += [f"G1 X{10 + i * 1.5:.3f} Y20 E{i * 0.05:.5f} F1800" for i in range(30)]
        lines += ["G1 E0.65 F2400", "G1 E1.45"]
    job = tmp_path / "print.gcode"
    job.write_text("\n".join(lines) + "\n")
    fake = run_fake(FakeMarlin())
    driver = make_driver({"driver": "marlin", "port": fake.port, "boot_wait": 0.2})
    done: list = []
    driver.start(job, lambda _event: None, done.append)
    assert driver.wait(30)
    assert done == [JobDone(filament_mm=pytest.approx(14.5))]
    assert fake.executed == expected(job)
