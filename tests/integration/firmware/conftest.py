"""Fixtures: OctoPrint's virtual printer and server, fake firmwares on pty pairs, G-code jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import UNDER_CI
from tests.integration.firmware.fake_grbl import FakeGrbl
from tests.integration.firmware.fake_marlin import FakeMarlin
from tests.integration.firmware.octoprint_peer import OctoPrintServer, OctoPrintUnavailable, octoprint_python

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "gcode"
PLUG = FIXTURES / "plug-aligner_prusaslicer-2.5_marlin2.gcode"


def _unavailable(reason: str) -> None:
    if UNDER_CI:
        pytest.fail(f"OctoPrint is required under CI: {reason}")
    pytest.skip(f"OctoPrint is not available: {reason}")


@pytest.fixture(scope="session")
def octoprint_venv() -> Path:
    """The OctoPrint venv, created from PyPI on first use; fails under CI when it cannot be had."""
    try:
        return octoprint_python()
    except OctoPrintUnavailable as exc:
        _unavailable(str(exc))
        raise


@pytest.fixture
def plug_job() -> Path:
    """A small real PrusaSlicer file (Marlin 2 flavour, machine limits, heat-up, homing)."""
    return PLUG


@pytest.fixture
def small_job(tmp_path: Path) -> Path:
    """A generated FDM job: heat-up, homing, a few hundred moves with comments."""
    lines = ["; generated test job", "M140 S60", "M104 S210", "M190 S60", "M109 S210", "G28 ; home"]
    for layer in range(10):
        lines.append(f"G1 Z{0.2 * (layer + 1):.2f} F600 ; layer {layer}")
        lines += [f"G1 X{10 + i * 1.5:.3f} Y{20 + layer:.3f} E{i * 0.05:.5f} F1800" for i in range(30)]
    lines += ["M104 S0", "M140 S0", "M84"]
    path = tmp_path / "job.gcode"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def run_fake() -> Iterator:
    started: list[FakeMarlin | FakeGrbl] = []

    def start(fake: FakeMarlin | FakeGrbl) -> FakeMarlin | FakeGrbl:
        fake.start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture(scope="session")
def octoprint_server(
    octoprint_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OctoPrintServer]:
    """One real OctoPrint server for the session, its virtual printer enabled and not yet connected."""
    try:
        server = OctoPrintServer(
            tmp_path_factory.mktemp("octoprint"),
            virtual_printer={"simulated_errors": [], "rxBuffer": 1024, "enable_eeprom": False},
        )
    except OctoPrintUnavailable as exc:
        _unavailable(str(exc))
        raise
    yield server
    server.stop()
