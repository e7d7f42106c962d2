"""Offers end to end: a coordinator stand-in offers files over a real broker to a real agent."""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from fablab_agents import jobfiles
from fablab_agents.agent import Agent
from protocol.payloads import FileRef, JobControl, JobOffer, JobPrepared
from tests.conftest import UNDER_CI
from tests.integration.agents.conftest import Broker, Coordinator, FileServer, agent_config, wait_until

pytest.importorskip("firmware_bridge.drivers", reason="firmware_bridge drivers are not built yet")
pytest.importorskip("firmware_bridge.gcode_check", reason="firmware_bridge gcode_check is not built yet")

GOOD_GCODE = b"""; tiny test part
G21
G90
M140 S60
M104 S210
G28
G1 Z0.2 F3000
G1 X20 Y20 F3000
G1 X60 Y20 E5 F1500
G1 X60 Y60 E10
G1 X20 Y60 E15
G1 X20 Y20 E20
M104 S0
M140 S0
"""


class Spy:
    """Records whether the machine's driver was ever asked to start."""

    def __init__(self, agent: Agent) -> None:
        self.started: list[Path] = []
        driver = agent.slots["printer-1"].driver
        original = driver.start

        def start(job_file: Path, *args: Any, **kwargs: Any) -> None:
            self.started.append(job_file)
            original(job_file, *args, **kwargs)

        driver.start = start  # type: ignore[method-assign]


@pytest.fixture
def agent(
    broker: Broker, coordinator: Coordinator, file_server: FileServer, tmp_path: Path
) -> Iterator[Agent]:
    url = broker.add_agent("agent-1")
    running = Agent(agent_config(url, file_server.base_url), tmp_path / "agent")
    running.start()
    wait_until(lambda: running.ready, what="agent ready")
    yield running
    running.stop()


def offer_for(url: str, data: bytes, sha256: str | None = None) -> JobOffer:
    return JobOffer(
        job_id=uuid.uuid4().hex,
        attempt_id=uuid.uuid4().hex,
        machine_id="printer-1",
        lease_s=60,
        file=FileRef(
            url=url, sha256=sha256 or hashlib.sha256(data).hexdigest(), size=len(data), name="part.gcode"
        ),
    )


def test_sha256_mismatch_is_rejected_before_the_machine_is_touched(
    agent: Agent, coordinator: Coordinator, file_server: FileServer
) -> None:
    spy = Spy(agent)
    url = file_server.add(GOOD_GCODE)
    offer = offer_for(url, GOOD_GCODE, sha256=hashlib.sha256(b"something else").hexdigest())
    coordinator.command("agent-1", offer)
    rejected = coordinator.wait_event("job:rejected", attempt_id=offer.attempt_id)
    assert "sha256 mismatch" in rejected["reason"]
    assert spy.started == []
    assert agent.machines["printer-1"].status == "idle"
    assert not coordinator.of_type("job:accepted")
    assert list((agent.data_dir / "files").iterdir()) == []


@pytest.mark.parametrize(
    ("bad_line", "words"),
    [("M104 S320", ["line 3", "320"]), ("M500", ["line 3", "M500"])],
)
def test_unsafe_gcode_is_rejected_naming_the_line(
    agent: Agent, coordinator: Coordinator, file_server: FileServer, bad_line: str, words: list[str]
) -> None:
    spy = Spy(agent)
    data = f"G21\nG90\n{bad_line}\nG1 X10 Y10 F1000\n".encode()
    offer = offer_for(file_server.add(data), data)
    coordinator.command("agent-1", offer)
    reason = coordinator.wait_event("job:rejected", attempt_id=offer.attempt_id)["reason"]
    for word in words:
        assert word in reason
    assert spy.started == []
    assert agent.machines["printer-1"].status == "idle"


def test_an_offer_that_fails_to_prepare_is_rejected_and_frees_the_machine(
    agent: Agent, coordinator: Coordinator, file_server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_check(*_: Any) -> list[str]:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    monkeypatch.setattr(jobfiles, "check_file", broken_check)
    spy = Spy(agent)
    offer = offer_for(file_server.add(GOOD_GCODE), GOOD_GCODE)
    coordinator.command("agent-1", offer)
    reason = coordinator.wait_event("job:rejected", attempt_id=offer.attempt_id)["reason"]
    assert reason.startswith("could not prepare the job:") and "invalid start byte" in reason
    assert spy.started == []
    assert agent.machines["printer-1"].status == "idle"


def test_good_file_runs_to_done_and_the_operator_must_clear_before_the_next(
    agent: Agent, coordinator: Coordinator, file_server: FileServer
) -> None:
    spy = Spy(agent)
    url = file_server.add(GOOD_GCODE)
    first = offer_for(url, GOOD_GCODE)
    coordinator.command("agent-1", first)
    coordinator.wait_event("job:accepted", attempt_id=first.attempt_id)
    coordinator.command("agent-1", first)  # the same offer again is answered, not run twice
    done = coordinator.wait_event("job:done", timeout=20, attempt_id=first.attempt_id)
    assert done["duration_s"] >= 0
    coordinator.wait_event("machine:status", machine_id="printer-1", status="waiting_operator")
    assert agent.machines["printer-1"].status == "waiting_operator"
    statuses = [e["status"] for e in coordinator.of_type("machine:status")]
    assert statuses == ["preparing", "running", "waiting_operator"]  # every change, told at once
    assert len(spy.started) == 1
    assert len(coordinator.of_type("job:accepted")) + len(coordinator.of_type("job:done")) >= 3

    second = offer_for(url, GOOD_GCODE)
    coordinator.command("agent-1", second)
    refused = coordinator.wait_event("job:rejected", attempt_id=second.attempt_id)
    assert "waiting operator" in refused["reason"]

    result = CliRunner().invoke(cli, ["agent", "confirm-clear", "printer-1", "--agent-url", agent.local_url])
    assert result.exit_code == 0, result.output
    coordinator.wait_event("machine:status", machine_id="printer-1", status="idle")
    third = offer_for(url, GOOD_GCODE)
    coordinator.command("agent-1", third)
    coordinator.wait_event("job:done", timeout=20, attempt_id=third.attempt_id)
    assert file_server.requests == 1  # the verified file is reused from the agent's cache


def test_confirm_clear_on_an_idle_machine_is_refused_by_the_cli(agent: Agent) -> None:
    result = CliRunner().invoke(cli, ["agent", "confirm-clear", "printer-1", "--agent-url", agent.local_url])
    assert result.exit_code == 2
    assert "not waiting for the operator" in result.output


def test_cancel_stops_the_job_and_answers_cancelled(
    agent: Agent, coordinator: Coordinator, file_server: FileServer
) -> None:
    long_job = GOOD_GCODE + b"G1 X20 Y20 F100\n" * 400
    offer = offer_for(file_server.add(long_job), long_job)
    coordinator.command("agent-1", offer)
    coordinator.wait_event("job:accepted", attempt_id=offer.attempt_id)
    cancel = JobControl(type="job:cancel", job_id=offer.job_id, attempt_id=offer.attempt_id)
    coordinator.command("agent-1", cancel)
    coordinator.wait_event("job:cancelled", attempt_id=offer.attempt_id)
    assert not coordinator.of_type("job:done")
    unknown = JobControl(type="job:cancel", job_id="j-x", attempt_id="never-offered")
    coordinator.command("agent-1", unknown)
    coordinator.wait_event("job:cancelled", attempt_id="never-offered")


def test_pause_holds_the_job_where_it_is_and_resume_finishes_it(
    agent: Agent, coordinator: Coordinator, file_server: FileServer
) -> None:
    long_job = GOOD_GCODE + b"G1 X20 Y20 F1200\nG1 X200 Y20 F1200\n" * 100  # about 2 s at this scale
    offer = offer_for(file_server.add(long_job), long_job)
    coordinator.command("agent-1", offer)
    coordinator.wait_event("job:progress", attempt_id=offer.attempt_id)
    pause = JobControl(type="job:pause", job_id=offer.job_id, attempt_id=offer.attempt_id)
    coordinator.command("agent-1", pause)
    coordinator.wait_event("job:paused", attempt_id=offer.attempt_id)
    coordinator.wait_event("machine:status", machine_id="printer-1", status="paused")
    held = agent.machines["printer-1"].job
    assert held is not None and held.state == "paused" and 0 < held.progress < 1
    time.sleep(0.5)  # paused means paused: nothing ends while it is
    assert not coordinator.of_type("job:done") and not coordinator.of_type("job:failed")
    assert agent.machines["printer-1"].job.progress == held.progress  # type: ignore[union-attr]
    resume = JobControl(type="job:resume", job_id=offer.job_id, attempt_id=offer.attempt_id)
    coordinator.command("agent-1", resume)
    coordinator.wait_event("job:resumed", attempt_id=offer.attempt_id)
    coordinator.wait_event("job:done", timeout=20, attempt_id=offer.attempt_id)
    statuses = [e["status"] for e in coordinator.of_type("machine:status")]
    assert statuses == ["preparing", "running", "paused", "running", "waiting_operator"]


REPO = Path(__file__).resolve().parents[3]
PROFILES = REPO / "config" / "slicers" / "prusaslicer"


@pytest.fixture
def slicing_agent(
    broker: Broker, coordinator: Coordinator, file_server: FileServer, tmp_path: Path
) -> Iterator[Agent]:
    """A printer whose agent slices meshes with PrusaSlicer and the stock profile."""
    if shutil.which("prusa-slicer") is None:
        pytest.skip("prusa-slicer is not installed") if not UNDER_CI else pytest.fail(
            "prusa-slicer is required"
        )
    url = broker.add_agent("agent-1")
    config = agent_config(url, file_server.base_url, profile=str(PROFILES / "generic-i3-0.4.ini"),
                          material_profiles={"pla": str(PROFILES / "pla.ini")}, time_scale=5000,
                          build_volume_mm=[250, 210, 210], max_hotend_c=285)  # fmt: skip
    running = Agent(config, tmp_path / "agent")
    running.start()
    wait_until(lambda: running.ready, what="agent ready")
    yield running
    running.stop()


@pytest.mark.slow
def test_a_mesh_is_sliced_at_the_machine_and_its_estimates_reported(
    slicing_agent: Agent, coordinator: Coordinator, file_server: FileServer
) -> None:
    mesh = (REPO / "designs" / "reprap-printer" / "files" / "cable-clip.stl").read_bytes()
    offer = offer_for(file_server.add(mesh), mesh).model_copy(
        update={"file": FileRef(url=file_server.add(mesh), sha256=hashlib.sha256(mesh).hexdigest(),
                                size=len(mesh), name="cable-clip.stl"),
                "params": {"copies": 2}, "requirements": {"material": "pla"}}
    )  # fmt: skip
    coordinator.command("agent-1", offer)
    accepted = coordinator.wait_event("job:accepted", timeout=60, attempt_id=offer.attempt_id)
    estimates = accepted["estimates"]
    assert estimates["source"].startswith("PrusaSlicer") and estimates["duration_s"] > 0
    assert estimates["filament_g"] > 0
    coordinator.wait_event("job:done", timeout=60, attempt_id=offer.attempt_id)
    sliced = slicing_agent.machines["printer-1"].job
    assert sliced is not None and sliced.job_id == offer.job_id


@pytest.fixture
def operator_agent(
    broker: Broker, coordinator: Coordinator, file_server: FileServer, tmp_path: Path
) -> Iterator[Agent]:
    """A PCB mill whose files an operator prepares."""
    url = broker.add_agent("agent-1")
    mill = {"process": "pcb_fab", "prepare": "operator", "materials": ["fr4"], "max_spindle_rpm": 30000,
            "build_volume_mm": [229, 305, 10], "volume_min_mm": [0, 0, -2]}  # fmt: skip
    config = agent_config(url, file_server.base_url, **mill)
    running = Agent(config, tmp_path / "agent")
    running.start()
    wait_until(lambda: running.ready, what="agent ready")
    yield running
    running.stop()


def test_a_file_the_machine_cannot_prepare_waits_for_the_operators_file(
    operator_agent: Agent, coordinator: Coordinator, file_server: FileServer
) -> None:
    gerber = b"G04 copper top*\n%FSLAX26Y26*%\n%MOMM*%\nD10*\nX0Y0D02*\nX1000000Y0D01*\nM02*\n"
    offer = offer_for(file_server.add(gerber), gerber).model_copy(
        update={"file": FileRef(url=file_server.add(gerber), sha256=hashlib.sha256(gerber).hexdigest(),
                                size=len(gerber), name="board-F_Cu.gtl")}
    )  # fmt: skip
    coordinator.command("agent-1", offer)
    waiting = coordinator.wait_event("job:needs_preparation", attempt_id=offer.attempt_id)
    assert "operator" in waiting["reason"]
    coordinator.wait_event("machine:status", machine_id="printer-1", status="waiting_operator")
    bad = b"G21\nG90\nM3 S90000\nG1 X10 F300\n"  # faster than the spindle may turn
    coordinator.command("agent-1", _prepared(offer, file_server, bad, "board.nc"))
    again = coordinator.wait_event("job:needs_preparation", attempt_id=offer.attempt_id,
                                   reason=lambda r: "board.nc" in r)  # fmt: skip
    assert "spindle" in again["reason"].lower()
    milled = b"G21\nG90\nM3 S12000\nG1 Z-0.1 F100\nG1 X10 Y0 F300\nM5\n"
    coordinator.command("agent-1", _prepared(offer, file_server, milled, "board-isolation.nc"))
    coordinator.wait_event("job:accepted", attempt_id=offer.attempt_id)
    coordinator.wait_event("job:done", timeout=20, attempt_id=offer.attempt_id)


def _prepared(offer: JobOffer, file_server: FileServer, data: bytes, name: str) -> JobPrepared:
    ref = FileRef(
        url=file_server.add(data), sha256=hashlib.sha256(data).hexdigest(), size=len(data), name=name
    )
    return JobPrepared(job_id=offer.job_id, attempt_id=offer.attempt_id, file=ref)
