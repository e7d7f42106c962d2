"""Fixtures: OctoPrint's virtual printer and server, fake firmwares on pty pairs, G-code jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import serve_octoprint
from tests.support.fake_grbl import FakeGrbl
from tests.support.fake_marlin import FakeMarlin
from tests.support.octoprint_peer import OctoPrintServer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "gcode"
PLUG = FIXTURES / "plug-aligner_prusaslicer-2.5_marlin2.gcode"


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
    yield from serve_octoprint(tmp_path_factory.mktemp("octoprint"))
