"""The spool holder example, built to the end on machines peerfab did not write.

Mosquitto, the coordinator on PostgreSQL (SQLite without it), and one real agent whose printer is a
real OctoPrint server with its virtual printer (or OctoPrint's virtual Marlin on a pty, with faults
injected, driven by the serial Marlin driver, or a real Moonraker in front of a fake klippy), whose
laser is a Grbl on a pty, and whose assembly bench is simulated. The design ships STL and DXF files
only: the agent slices the printed parts with PrusaSlicer and the stock profile, turns the DXF into
laser G-code from its cut table, and runs both.
Each fabricated job ends `done` exactly once, and the machines' own records show each file made once.

Grbl is the test suite's own simulator (`tests/support/fake_grbl.py`, byte-exact receive buffer):
no real Grbl build can run here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from coordinator.db import session_scope
from coordinator.demo import DEMO
from coordinator.jobs.commands import ReceivePurchases, StartBuild, SubmitJobs
from coordinator.jobs.submission import spec_for_part
from coordinator.models.builds import Build, BuildState, BuildTask
from coordinator.models.fablab import JobRun
from coordinator.models.jobs import Job, Machine
from coordinator.services.designs import publish_path
from designs import EXAMPLES_DIR
from fablab_agents.agent import Agent
from fablab_agents.config import load_agent_config
from tests.conftest import POSTGRES_ENV, UNDER_CI, _fresh_postgres_database, running_moonraker
from tests.e2e.conftest import FABLAB, Site
from tests.support.fake_grbl import FakeGrbl
from tests.support.moonraker_peer import MoonrakerServer
from tests.support.octoprint_peer import OctoPrintServer, OctoPrintUnavailable, virtual_marlin
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SLICERS = REPO / "config" / "slicers" / "prusaslicer"
DESIGN = "spool-holder"
PRINTED = {"bracket", "hub"}
CUT = {"backing-plate"}
# The virtual printer heats at 10 °C/s from its ambient temperature: a hot room saves 20 s per print.
HOT_ROOM_C = 190.0
# OctoPrint's virtual printer runs moves at a tenth of their time; feed and flow at 5000 % make a
# 90-minute print take under a minute.
FAST_PRINTER = ["M220 S5000", "M221 S5000"]
# Faults by line number on the serial printer: resend requests, a checksum error, dropped lines.
FAULTS = [
    "3:resend",
    "7:checksum_mismatch",
    "40:resend",
    "41:missing_lineno",
    "900:resend",
    "5000:checksum_mismatch",
]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """One database for these long runs: PostgreSQL where the suite has it (production's), else SQLite."""
    admin = os.environ.get(POSTGRES_ENV)
    if admin:
        yield from _fresh_postgres_database(admin)
    else:
        yield f"sqlite:///{tmp_path / 'peerfab.db'}"


@pytest.fixture(autouse=True)
def prusa_slicer() -> None:
    if shutil.which("prusa-slicer") is None:
        if UNDER_CI:
            pytest.fail("prusa-slicer is required under CI")
        pytest.skip("prusa-slicer is not installed")


@pytest.fixture
def octoprint(octoprint_venv: Path, tmp_path: Path) -> Iterator[OctoPrintServer]:
    """A real OctoPrint connected to its virtual printer, sped up through OctoPrint's own terminal."""
    settings = {
        "rxBuffer": 1024,
        "enable_eeprom": False,
        "simulated_errors": [],
        "ambientTemperature": HOT_ROOM_C,
    }
    try:
        server = OctoPrintServer(tmp_path / "octoprint", virtual_printer=settings)
    except OctoPrintUnavailable as exc:
        pytest.fail(f"OctoPrint did not start: {exc}")
    try:
        connect = {"command": "connect", "port": "VIRTUAL", "baudrate": 115200}
        assert server.post("/api/connection", connect).status_code == 204
        wait_until(lambda: _state(server) == "Operational", 30, "OctoPrint connected to its printer")
        assert server.post("/api/printer/command", {"commands": FAST_PRINTER}).status_code == 204
        yield server
    finally:
        server.stop()


@pytest.fixture
def moonraker(moonraker_venv: Path, tmp_path: Path) -> Iterator[MoonrakerServer]:
    """A real Moonraker in front of a fake klippy that reads a sliced part in a second or two."""
    with running_moonraker(tmp_path / "moonraker") as server:
        server.klippy.bytes_per_s = 200_000.0
        yield server


@pytest.fixture
def laser() -> Iterator[FakeGrbl]:
    grbl = FakeGrbl()
    grbl.start()
    yield grbl
    grbl.stop()


@pytest.fixture
def start_workshop(
    site: Site, mosquitto: Any, laser: FakeGrbl, tmp_path: Path
) -> Iterator[Callable[..., Agent]]:
    """Start the lab's agent with the given printer section, the Grbl laser and a simulated bench."""
    started: list[Agent] = []

    def start(printer: dict[str, Any]) -> Agent:
        config = load_agent_config(
            {
                "agent": {
                    "fablab": FABLAB, "id": "workshop", "coordinator_url": site.settings.server.public_url,
                    "mqtt_url": mosquitto.url, "heartbeat_s": 0.5, "local_port": 0,
                    "progress_interval_s": 0.5,
                },
                "machine printer-1": {**PRINTER, **printer},
                "machine laser-1": {**LASER, "port": laser.port},
                "machine bench-1": {"driver": "simulated", "process": "assembly", "operator_confirm": False,
                                    "time_scale": 3600.0},
            }
        )  # fmt: skip
        agent = Agent(config, tmp_path / "agent")
        agent.start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


PRINTER = {
    "process": "fdm_print", "build_volume_mm": [250, 210, 210], "nozzle_mm": 0.4, "materials": ["pla"],
    "max_hotend_c": 285, "max_bed_c": 120, "operator_confirm": False,
    "profile": str(SLICERS / "generic-i3-0.4.ini"), "material_profiles": {"pla": str(SLICERS / "pla.ini")},
}  # fmt: skip
LASER = {
    "driver": "grbl", "process": "laser_cut", "build_volume_mm": [600, 400, 25], "materials": ["plywood"],
    "laser_s_max": 1000, "max_spindle_rpm": 1000, "operator_confirm": False, "boot_wait": 0.3,
    "cut_table": [
        {"material": "plywood", "thickness_mm": 3, "feed_mm_min": 1200, "power": 0.6, "kerf_mm": 0.15},
    ],
}  # fmt: skip


def test_the_spool_holder_is_made_through_octoprint(
    site: Site, octoprint: OctoPrintServer, laser: FakeGrbl, start_workshop: Callable[..., Agent]
) -> None:
    octoprint_printer = {"driver": "octoprint", "url": octoprint.url, "api_key": octoprint.api_key,
                         "printer_port": "VIRTUAL", "poll_interval": 0.3}  # fmt: skip
    agent = start_workshop(octoprint_printer)
    jobs = build_to_the_end(site, agent)

    printed = [job for job in jobs if job.part_id in PRINTED]
    files = {entry["name"]: entry for entry in octoprint.get("/api/files/local").json()["files"]}
    for job in printed:
        assert job.estimate_source.startswith("PrusaSlicer"), job.estimate_source
        record = files[Path(job.file_name).with_suffix(".gcode").name]
        assert record["prints"]["success"] == 1 and record["prints"]["failure"] == 0, record["prints"]
    assert_cut_once(laser, agent)


def test_the_spool_holder_is_made_through_moonraker(
    site: Site, moonraker: MoonrakerServer, laser: FakeGrbl, start_workshop: Callable[..., Agent]
) -> None:
    agent = start_workshop({"driver": "moonraker", "url": moonraker.url, "poll_interval": 0.3})
    jobs = build_to_the_end(site, agent)

    for job in (job for job in jobs if job.part_id in PRINTED):
        assert job.estimate_source.startswith("PrusaSlicer"), job.estimate_source
        # each part printed once, Klipper's filament count in the coordinator's record of it
        name = Path(job.file_name).with_suffix(".gcode").name
        assert moonraker.klippy.scripts.count(f'SDCARD_PRINT_FILE FILENAME="{name}"') == 1
        [attempt] = site.attempts(job.id)
        with Session(site.runtime.engine) as session:
            [run] = session.exec(select(JobRun).where(JobRun.job_id == job.id)).all()
        assert attempt.state == "done" and run.filament_source == "measured by the host"
        assert run.filament_used_g is not None and run.filament_used_g > 0
    assert_cut_once(laser, agent)


def test_the_spool_holder_is_made_on_a_serial_marlin_with_faults(
    site: Site, octoprint_venv: Path, laser: FakeGrbl, start_workshop: Callable[..., Agent], tmp_path: Path
) -> None:
    settings = {"rxBuffer": 1024, "time_scale": 500.0, "enable_eeprom": False, "simulated_errors": FAULTS}
    with virtual_marlin(tmp_path / "marlin", **settings) as printer:
        agent = start_workshop({"driver": "marlin", "port": printer.port, "boot_wait": 0.3})
        jobs = build_to_the_end(site, agent)
        executed = printer.executed()

    expected: list[str] = []
    for job in sorted((j for j in jobs if j.part_id in PRINTED), key=lambda j: j.ended_at or j.created_at):
        expected += commands_in(prepared_file(agent, job))
    assert executed == expected
    assert_cut_once(laser, agent)


def test_an_agent_restart_follows_the_print_octoprint_kept_running(
    site: Site, octoprint: OctoPrintServer, start_workshop: Callable[..., Agent]
) -> None:
    printer = {
        "driver": "octoprint",
        "url": octoprint.url,
        "api_key": octoprint.api_key,
        "poll_interval": 0.3,
    }
    agent = start_workshop(printer)
    wait_until(lambda: _machines_online(site) >= 3, 30, "the workshop's three machines online")
    rt = site.runtime
    with session_scope(rt.engine) as session:
        publish_path(session, rt.store, EXAMPLES_DIR / DESIGN, rt.settings.limits)
        spec = spec_for_part(session, DESIGN, "latest", "hub")
    (job_id,) = rt.bus.handle(SubmitJobs(spec, 1, DEMO))
    wait_until(
        lambda: 0.1 < _progress(site, job_id) < 0.6, 120, "the hub half-printed on OctoPrint", poll_s=0.1
    )

    agent.kill()  # the agent's PC loses power; OctoPrint prints on
    start_workshop(printer)
    wait_until(lambda: site.all_done([job_id]), 120, "the hub finished after the agent came back")

    assert site.final_event_counts()[job_id] == 1
    [attempt] = site.attempts(job_id)
    assert attempt.state == "done"
    record = next(f for f in octoprint.get("/api/files/local").json()["files"] if f["name"] == "hub.gcode")
    assert record["prints"] == {**record["prints"], "success": 1, "failure": 0}


def build_to_the_end(site: Site, agent: Agent) -> list[Job]:
    """Publish the spool holder, start one build at the agent's lab, receive its purchases, wait for it."""
    rt = site.runtime
    with session_scope(rt.engine) as session:
        publish_path(session, rt.store, EXAMPLES_DIR / DESIGN, rt.settings.limits)
    wait_until(lambda: _machines_online(site) >= 3, 30, "the workshop's three machines online")
    build_id = rt.bus.handle(StartBuild(DESIGN, "latest", 1, FABLAB, 0, None, DEMO))
    rt.bus.handle(ReceivePurchases(build_id, None, DEMO))
    wait_until(lambda: _build_state(site, build_id) not in {BuildState.ACTIVE, "planned"}, 420,
               "the spool holder built", poll_s=1.0)  # fmt: skip
    assert _build_state(site, build_id) == BuildState.DONE
    with Session(rt.engine) as session:
        job_ids = [t.job_id for t in session.exec(select(BuildTask).where(BuildTask.build_id == build_id))]
        jobs = [session.get(Job, job_id) for job_id in job_ids]
    made = [job for job in jobs if job is not None]
    assert {job.part_id for job in made} >= PRINTED | CUT
    assert all(job.state == "done" for job in made)
    endings = site.final_event_counts()
    assert all(endings[job.id] == 1 for job in made), endings
    return made


def assert_cut_once(laser: FakeGrbl, agent: Agent) -> None:
    """Grbl ran the laser file the agent made from the DXF, every line once, in order, with laser power."""
    expected = commands_in(agent.data_dir / "files" / "prepared" / "laser-1" / "backing-plate.gcode")
    assert [line for line in laser.executed if line.strip()] == expected
    assert any(line.startswith("M4") for line in expected)


def prepared_file(agent: Agent, job: Job) -> Path:
    """The G-code the agent made for a job's machine from the design's file."""
    return (
        agent.data_dir / "files" / "prepared" / (job.machine_id or "") / f"{Path(job.file_name).stem}.gcode"
    )


def commands_in(path: Path) -> list[str]:
    """The file's commands read independently of peerfab: comments and blank lines out."""
    lines = (raw.split(";", 1)[0].strip() for raw in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def _state(server: OctoPrintServer) -> str:
    return str(server.get("/api/connection").json()["current"]["state"])


def _progress(site: Site, job_id: str) -> float:
    with Session(site.runtime.engine) as session:
        job = session.get(Job, job_id)
        return float(job.progress or 0.0) if job is not None else 0.0


def _machines_online(site: Site) -> int:
    with Session(site.runtime.engine) as session:
        return len(
            [
                m
                for m in session.exec(select(Machine).where(Machine.fablab == FABLAB))
                if m.status != "offline"
            ]
        )


def _build_state(site: Site, build_id: str) -> str:
    with Session(site.runtime.engine) as session:
        build = session.get(Build, build_id)
        assert build is not None
        return str(build.state)
