"""Every driver's outcome reaches the coordinator as exactly that, through a real agent.

A coordinator stand-in offers a job over a secured Mosquitto to a real `Agent` with one machine,
and drives it to each end: done, failed with the machine's own message, cancelled, and paused then
resumed then done. The machine is the real peer where one runs here (OctoPrint's virtual Marlin on
a pty, a real OctoPrint server, a real Moonraker server in front of a fake klippy), else a fake at the
machine boundary (a fake Grbl on a pty, a fake PrusaLink host built from its published API
description), or the simulated one.
Each test checks the exact sequence of job messages and machine statuses the coordinator received,
that the job ended with exactly one final message, and what the machine itself did.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fablab_agents.agent import Agent
from fablab_agents.config import load_agent_config
from firmware_bridge.driver_base import DriverState
from protocol.payloads import FileRef, JobControl, JobOffer
from tests.conftest import running_moonraker, serve_octoprint, unavailable_peer
from tests.integration.agents.conftest import (
    Broker,
    Coordinator,
    FileServer,
    agent_section,
    wait_until,
)
from tests.support.fake_grbl import FakeGrbl
from tests.support.fake_klippy import SHUTDOWN_MESSAGE
from tests.support.fake_prusalink import HARDWARE_ISSUE, PASSWORD, FakePrusaLink, fake_prusalink
from tests.support.moonraker_peer import MoonrakerServer
from tests.support.octoprint_peer import TEST_PRINTER, OctoPrintServer, OctoPrintUnavailable, virtual_marlin

FINAL = ("job:done", "job:failed", "job:cancelled")
ENDS = 60.0  # seconds any job here may take to end
FDM = {"process": "fdm_print", "build_volume_mm": [250, 210, 210], "materials": ["pla"],
       "max_hotend_c": 260, "max_bed_c": 110}  # fmt: skip
MARLIN_FAULT = "!!DEBUG:trigger_fatal_error_marlin"  # the virtual printer's thermal runaway and kill()
MARLIN_RUNAWAY = "Thermal Runaway, system stopped! Heater_ID: bed"
SAFE_STOP = ["M104 S0", "M140 S0", "M107"]


def fdm_job(moves: int, fault_at: int | None = None, feed: int = 600) -> list[str]:
    """G-code of `moves` 100 mm moves, with the virtual printer's fatal error before move `fault_at`."""
    lines = ["G21", "G90", "G28"]
    for index in range(moves):
        if index == fault_at:
            lines.append(MARLIN_FAULT)
        lines.append(f"G1 X{100 if index % 2 == 0 else 0} Y10 F{feed}")
    return lines


def cnc_job(moves: int, fault_at: int | None = None) -> list[str]:
    """A Grbl job; `fault_at` puts cutter compensation (G42, not in Grbl) before that move."""
    lines = ["G21 G90", "M3 S10000"]
    for index in range(moves):
        if index == fault_at:
            lines.append("G42 D1")
        lines.append(f"G1 X{index % 40} Y5 F800")
    return [*lines, "M5"]


# ---- the machines ------------------------------------------------------------------------------


class Rig:
    """One driver's machine for one test: its config section, its jobs, and what it really did."""

    driver: ClassVar[str]
    suffix: ClassVar[str] = ".gcode"
    # fragments the job:failed reason must hold: the firmware's or host's own words
    failure_words: tuple[str, ...] = ()

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request, self.tmp_path = request, tmp_path
        self.stack = ExitStack()

    @property
    def machine_id(self) -> str:
        return f"{self.driver}-1"

    def machine(self, outcome: str) -> dict[str, Any]:
        """The `[machine]` section for a job that is to end with `outcome`."""
        raise NotImplementedError

    def job(self, outcome: str) -> list[str]:
        """The job's lines for `outcome`: long enough to pause or cancel, with a fault to fail."""
        raise NotImplementedError

    def attach(self, agent: Agent) -> None:
        """The agent that drives the machine is running."""

    def holds_whole_job(self) -> bool:
        """For a pause at the end: the machine has been given the whole job and is still running it."""
        raise NotImplementedError

    def check_done(self, job: list[str]) -> None:
        """The machine ran the whole job."""
        raise NotImplementedError

    def check_failed(self, job: list[str]) -> None:
        """The machine stopped at the fault."""
        raise NotImplementedError

    def check_holding(self) -> None:
        """The machine is paused: nothing moves on."""
        raise NotImplementedError

    def check_stopped(self, job: list[str]) -> None:
        """The cancelled job really stopped on the machine."""
        raise NotImplementedError

    def close(self) -> None:
        self.stack.close()


def unchanged(read: Any, what: str, wait_s: float = 0.6) -> None:
    """`read()` gives the same value now and `wait_s` later."""
    before = read()
    time.sleep(wait_s)
    assert read() == before, f"{what} moved on: {before!r} -> {read()!r}"


class SimulatedRig(Rig):
    driver = "simulated"
    failure_words = ("extruder: heater not heating at the expected rate",)

    def machine(self, outcome: str) -> dict[str, Any]:
        fault = {"fail_at": 0.5, "fail_reason": self.failure_words[0]} if outcome == "failed" else {}
        return {"driver": "simulated", **FDM, "time_scale": 200, "tick_s": 0.02, **fault}

    def job(self, outcome: str) -> list[str]:
        return fdm_job(20)  # 200 s of moves: 1 s at this time scale

    def attach(self, agent: Agent) -> None:
        self.inner = agent.slots[self.machine_id].driver.inner  # type: ignore[attr-defined]

    def check_done(self, job: list[str]) -> None:
        assert self.inner.status().state is DriverState.DONE

    def check_failed(self, job: list[str]) -> None:
        status = self.inner.status()
        assert status.state is DriverState.FAILED and status.progress.fraction == pytest.approx(0.5)

    def check_holding(self) -> None:
        assert self.inner.status().state is DriverState.PAUSED
        unchanged(lambda: self.inner.status().progress, "the simulated job's progress")

    def check_stopped(self, job: list[str]) -> None:
        assert self.inner.status().state is DriverState.CANCELLED


class MarlinRig(Rig):
    """OctoPrint's own virtual Marlin behind a pty, its simulated clock ten times faster."""

    driver = "marlin"
    failure_words: tuple[str, ...] = (MARLIN_RUNAWAY,)

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        super().__init__(request, tmp_path)
        request.getfixturevalue("octoprint_venv")
        settings = {**TEST_PRINTER, "time_scale": 10.0}
        try:
            self.printer = self.stack.enter_context(virtual_marlin(tmp_path / "printer", **settings))
        except OctoPrintUnavailable as exc:
            unavailable_peer("OctoPrint's virtual printer", str(exc))

    def machine(self, outcome: str) -> dict[str, Any]:
        return {"driver": "marlin", **FDM, "port": self.printer.port, "boot_wait": 0.3}

    def job(self, outcome: str) -> list[str]:
        if outcome == "failed":
            job = fdm_job(12, fault_at=6)
            self.failure_words = (MARLIN_RUNAWAY, f"(file line {job.index(MARLIN_FAULT) + 1})")
            return job
        if outcome == "paused_at_end":
            return ["G21", "G90", "G4 S20", "G1 X10 Y10 F600"]  # all four fit in the printer's buffer
        return fdm_job({"done": 10, "cancelled": 60, "paused": 30}[outcome])  # 0.1 s a move

    def holds_whole_job(self) -> bool:
        return "G4 S20" in self.printer.executed()  # the 2 s dwell runs, the last move waits behind it

    def check_done(self, job: list[str]) -> None:
        assert self.printer.executed() == job  # every command once, in order

    def check_failed(self, job: list[str]) -> None:
        fault = job.index(MARLIN_FAULT)
        unchanged(self.printer.executed, "the printer's commands")
        ran, sent = self.printer.executed(), job[:fault] + job[fault + 1 :]
        # the virtual printer reports the fault but goes on with the lines already in its buffer
        # (`buffer_lines`, 4, with the fault itself); nothing was sent to it after the fault
        assert ran == sent[: len(ran)] and fault <= len(ran) < fault + 4

    def check_holding(self) -> None:
        unchanged(lambda: len(self.printer.executed()), "the printer's count of commands run")

    def check_stopped(self, job: list[str]) -> None:
        unchanged(self.printer.executed, "the printer's commands")
        ran = self.printer.executed()
        assert ran[-len(SAFE_STOP) :] == SAFE_STOP  # heaters and fan off, no motion
        file_part = ran[: -len(SAFE_STOP)]
        assert 0 < len(file_part) < len(job) and file_part == job[: len(file_part)]


class GrblRig(Rig):
    """A fake Grbl 1.1 on a pty pair (no real Grbl runs here), 30 ms a line."""

    driver = "grbl"
    suffix = ".nc"

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        super().__init__(request, tmp_path)
        self.grbl = FakeGrbl(exec_time=0.03)
        self.grbl.start()
        self.stack.callback(self.grbl.stop)

    def machine(self, outcome: str) -> dict[str, Any]:
        return {"driver": "grbl", "process": "cnc_mill", "build_volume_mm": [300, 200, 50],
                "materials": ["plywood"], "max_spindle_rpm": 24000, "port": self.grbl.port,
                "boot_wait": 0.2}  # fmt: skip

    def job(self, outcome: str) -> list[str]:
        if outcome == "failed":
            job = cnc_job(40, fault_at=20)
            line = job.index("G42 D1") + 1
            self.failure_words = (
                f"line {line}: Grbl rejected 'G42 D1' with error:20 (unsupported or invalid G-code command)",
            )
            return job
        if outcome == "paused_at_end":
            self.grbl.exec_time = 0.3  # a short job that fits in Grbl's buffer and takes 2 s
            self.short_job = cnc_job(4)
            return self.short_job
        return cnc_job({"done": 30, "cancelled": 200, "paused": 60}[outcome])

    def holds_whole_job(self) -> bool:
        return 0 < len(self.grbl.received) < len(self.short_job)

    def _held_then_reset(self) -> bool:
        """The last real-time commands (status queries aside) were a feed hold, then a soft reset."""
        return [byte for byte in self.grbl.realtime if byte != b"?"][-2:] == [b"!", b"\x18"]

    def check_done(self, job: list[str]) -> None:
        assert self.grbl.executed == job

    def check_failed(self, job: list[str]) -> None:
        fault = job.index("G42 D1")
        unchanged(lambda: list(self.grbl.received), "the lines Grbl received")
        assert self.grbl.executed == job[: len(self.grbl.executed)] and len(self.grbl.executed) <= fault
        assert self._held_then_reset()

    def check_holding(self) -> None:
        assert self.grbl.state.startswith("Hold")
        unchanged(lambda: len(self.grbl.received), "the count of lines Grbl took")

    def check_stopped(self, job: list[str]) -> None:
        unchanged(lambda: len(self.grbl.received), "the count of lines Grbl took")
        assert self._held_then_reset()
        assert 0 < len(self.grbl.executed) < len(job) and self.grbl.executed == job[: len(self.grbl.executed)]


@pytest.fixture(scope="module")
def octoprint(octoprint_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintServer]:
    """One real OctoPrint server for this module, its virtual printer not yet connected."""
    yield from serve_octoprint(tmp_path_factory.mktemp("octoprint"))


class OctoPrintRig(Rig):
    """A real OctoPrint server; its virtual printer takes 1 s for each 100 mm move at F600."""

    driver = "octoprint"
    failure_words = ("OctoPrint reports an error", MARLIN_RUNAWAY, "Printer halted. kill() called!")

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        super().__init__(request, tmp_path)
        self.server: OctoPrintServer = request.getfixturevalue("octoprint")

    def machine(self, outcome: str) -> dict[str, Any]:
        return {"driver": "octoprint", **FDM, "url": self.server.url, "api_key": self.server.api_key,
                "printer_port": "VIRTUAL", "poll_interval": 0.2}  # fmt: skip

    def job(self, outcome: str) -> list[str]:
        if outcome == "failed":
            return fdm_job(10, fault_at=6)
        if outcome == "paused":
            return fdm_job(40, feed=6000)  # 0.1 s a move: OctoPrint sends it line by line
        return fdm_job({"done": 3, "cancelled": 60, "paused_at_end": 6}[outcome])

    def holds_whole_job(self) -> bool:
        state = self._job()
        return state["state"] == "Printing" and state["progress"]["filepos"] == state["job"]["file"]["size"]

    def _job(self) -> dict[str, Any]:
        return self.server.get("/api/job").json()  # type: ignore[no-any-return]

    def _prints(self, name: str) -> dict[str, Any]:
        """OctoPrint's own record of how the prints of a file ended."""
        return self.server.get(f"/api/files/local/{name}").json().get("prints", {})  # type: ignore[no-any-return]

    def check_done(self, job: list[str]) -> None:
        state = self._job()
        assert state["state"] == "Operational" and state["progress"]["completion"] == 100
        prints = self._prints(state["job"]["file"]["name"])
        assert (prints["success"], prints["failure"]) == (1, 0)

    def check_failed(self, job: list[str]) -> None:
        assert self._job()["state"].startswith(("Error", "Offline"))

    def check_holding(self) -> None:
        assert self._job()["state"] == "Paused"
        unchanged(lambda: self._job()["progress"]["filepos"], "OctoPrint's file position")

    def check_stopped(self, job: list[str]) -> None:
        state = self._job()
        assert state["state"] == "Operational"  # not printing, not cancelling
        prints = self._prints(state["job"]["file"]["name"])
        assert (prints["success"], prints["failure"]) == (0, 1)  # OctoPrint counts a cancelled print


class FakeHostRig(Rig):
    """A fake host at the machine boundary; it moves a print on at each poll, polled every 50 ms."""

    states: ClassVar[dict[str, str]]  # the host's own word for each end
    whole: ClassVar[float]  # the host's progress of a finished print

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path, host: Any, serve: Any) -> None:
        super().__init__(request, tmp_path)
        self.host = host
        self.url: str = self.stack.enter_context(serve(host))

    def job(self, outcome: str) -> list[str]:
        return fdm_job(20)

    def holds_whole_job(self) -> bool:
        return bool(self.host.state == self.states["running"])  # a host prints from the uploaded file

    def pause_call(self) -> str:
        """The request by which the driver paused the host's job."""
        raise NotImplementedError

    def cancel_call(self) -> str:
        """The request by which the driver cancelled the host's job."""
        raise NotImplementedError

    def check_done(self, job: list[str]) -> None:
        assert self.host.state == self.states["done"] and self.host.progress == self.whole

    def check_failed(self, job: list[str]) -> None:
        assert self.host.state == self.states["failed"]

    def check_holding(self) -> None:
        assert self.host.state == self.states["paused"] and self.pause_call() in self.host.calls
        unchanged(lambda: self.host.progress, f"{self.driver}'s progress")

    def check_stopped(self, job: list[str]) -> None:
        assert self.host.state == self.states["cancelled"] and self.cancel_call() in self.host.calls
        assert self.host.progress < self.whole


@pytest.fixture(scope="module")
def moonraker(moonraker_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoonrakerServer]:
    """One real Moonraker server for this module, in front of a fake klippy."""
    with running_moonraker(tmp_path_factory.mktemp("moonraker")) as server:
        yield server


class MoonrakerRig(Rig):
    """A real Moonraker server; the fake klippy behind it (no Klipper here) reads the file at a set rate."""

    driver = "moonraker"
    failure_words = (f"Moonraker reports an error: {SHUTDOWN_MESSAGE}",)
    # bytes a second the print reads: a job of 20 moves is about 400 bytes
    RATES: ClassVar[dict[str, float]] = {"cancelled": 100.0, "paused": 100.0, "paused_at_end": 400.0,
                                         "failed": 400.0}  # fmt: skip

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        super().__init__(request, tmp_path)
        self.server: MoonrakerServer = request.getfixturevalue("moonraker")
        self.klippy = self.server.klippy
        self.klippy.restart()  # ready and idle, whatever the module's last test left

    def machine(self, outcome: str) -> dict[str, Any]:
        self.klippy.fail_at = 0.5 if outcome == "failed" else None
        self.klippy.bytes_per_s = self.RATES.get(outcome, 1000.0)
        # after a resume at the end, the print completes between two polls
        poll = 0.5 if outcome == "paused_at_end" else 0.05
        return {"driver": "moonraker", **FDM, "url": self.server.url, "poll_interval": poll}

    def job(self, outcome: str) -> list[str]:
        return fdm_job(20)

    def _card(self) -> dict[str, Any]:
        return self.server.status("virtual_sdcard", "print_stats")

    def holds_whole_job(self) -> bool:
        return self.server.print_state() == "printing"  # a host prints from the uploaded file

    def check_done(self, job: list[str]) -> None:
        status = self._card()
        assert status["print_stats"]["state"] == "complete" and status["virtual_sdcard"]["progress"] == 1.0

    def check_failed(self, job: list[str]) -> None:
        assert self.server.print_state() == "error"

    def check_holding(self) -> None:
        assert self.server.print_state() == "paused" and "pause_resume/pause" in self.klippy.requests
        unchanged(lambda: self._card()["virtual_sdcard"]["file_position"], "Klipper's file position")

    def check_stopped(self, job: list[str]) -> None:
        status = self._card()
        assert status["print_stats"]["state"] == "cancelled" and "pause_resume/cancel" in self.klippy.requests
        assert status["virtual_sdcard"]["progress"] < 1.0


class PrusaLinkRig(FakeHostRig):
    """A fake PrusaLink after Prusa's OpenAPI description, 4 % a poll."""

    driver = "prusalink"
    failure_words = (f"PrusaLink reports an error: {HARDWARE_ISSUE}",)
    states = {"running": "PRINTING", "done": "FINISHED", "failed": "ERROR", "paused": "PAUSED",
              "cancelled": "STOPPED"}  # fmt: skip
    whole = 100.0

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        super().__init__(request, tmp_path, FakePrusaLink(step=4.0), fake_prusalink)

    def machine(self, outcome: str) -> dict[str, Any]:
        self.host.fail_at = 50.0 if outcome == "failed" else None
        return {"driver": "prusalink", **FDM, "url": self.url, "password": PASSWORD, "poll_interval": 0.05}

    def pause_call(self) -> str:
        return f"PUT /api/v1/job/{self.host.job_id}/pause"

    def cancel_call(self) -> str:
        return f"DELETE /api/v1/job/{self.host.job_id}"


RIGS: dict[str, type[Rig]] = {
    rig.driver: rig for rig in (SimulatedRig, MarlinRig, GrblRig, OctoPrintRig, MoonrakerRig, PrusaLinkRig)
}
SLOW = {"marlin", "octoprint", "moonraker"}  # a virtual printer to start, real servers printing in real time


def drivers(*names: str) -> list[Any]:
    """Parameters naming rigs, the slow ones marked."""
    return [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else []) for name in names]


@pytest.fixture(params=drivers(*RIGS))
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    made = RIGS[request.param](request, tmp_path)
    yield made
    made.close()


# ---- the agent and the coordinator's view --------------------------------------------------------


class Run:
    """One job on one agent, as the coordinator stand-in sees it."""

    def __init__(self, agent: Agent, coordinator: Coordinator, offer: JobOffer, job: list[str]) -> None:
        self.agent, self.coordinator, self.offer, self.job = agent, coordinator, offer, job

    def wait(self, kind: str, **fields: Any) -> dict[str, Any]:
        return self.coordinator.wait_event(kind, ENDS, attempt_id=self.offer.attempt_id, **fields)

    def wait_end(self, kind: str) -> dict[str, Any]:
        """The attempt's first final message, which must be of `kind` (else the test fails at once)."""
        end: dict[str, Any] = wait_until(lambda: next(iter(self.finals()), None), ENDS, f"{kind}")
        assert end["type"] == kind, f"{end['type']}: {end.get('reason')}"
        return end

    def command(self, kind: str) -> None:
        control = JobControl(type=kind, job_id=self.offer.job_id, attempt_id=self.offer.attempt_id)  # type: ignore[arg-type]
        self.coordinator.command("agent-1", control)

    def settle(self) -> None:
        """Wait until the driver has let go of the job and everything the agent said since has arrived."""
        inner = self.agent.slots[self.offer.machine_id].driver.inner  # type: ignore[attr-defined]
        assert inner.wait(ENDS), "the driver's job thread did not end"
        after = datetime.now(UTC)
        # the journal keeps order: a heartbeat written after the driver ended follows all it caused
        self.coordinator.wait_event(
            "agent:heartbeat", ENDS, sent_at=lambda sent: datetime.fromisoformat(sent) > after
        )

    def story(self) -> list[str]:
        """The attempt's job messages in order, a run of progress messages as one."""
        kinds = [e["type"] for e in self.coordinator.events if e.get("attempt_id") == self.offer.attempt_id]
        return [k for i, k in enumerate(kinds) if k != "job:progress" or kinds[i - 1 : i] != [k]]

    def finals(self) -> list[dict[str, Any]]:
        return [e for e in self.coordinator.events if e.get("attempt_id") == self.offer.attempt_id
                and e["type"] in FINAL]  # fmt: skip

    def statuses(self) -> list[str]:
        return [e["status"] for e in self.coordinator.of_type("machine:status")
                if e["machine_id"] == self.offer.machine_id]  # fmt: skip


class Lab:
    """Starts a real agent with the rig's machine and offers it the rig's job."""

    def __init__(self, broker: Broker, coordinator: Coordinator, files: FileServer, folder: Path) -> None:
        self.broker, self.coordinator, self.files, self.folder = broker, coordinator, files, folder
        self.agents: list[Agent] = []

    def run(self, rig: Rig, outcome: str, **machine: Any) -> Run:
        """A new agent whose machine gets the job of `outcome` (`machine` overrides its options)."""
        url = self.broker.add_agent("agent-1")
        sections = {"agent": agent_section(url, self.files.base_url),
                    f"machine {rig.machine_id}": rig.machine(outcome) | machine}  # fmt: skip
        agent = Agent(load_agent_config(sections), self.folder / "agent")
        self.agents.append(agent)
        agent.start()
        wait_until(lambda: agent.ready, what="agent ready")
        rig.attach(agent)
        return self.offer(agent, rig, outcome)

    def offer(self, agent: Agent, rig: Rig, outcome: str) -> Run:
        """Offer the rig's job of `outcome` to the agent's machine."""
        job = rig.job(outcome)
        data = ("\n".join(job) + "\n").encode()
        name = f"{rig.driver}-{outcome}{rig.suffix}"
        ref = FileRef(
            url=self.files.add(data), sha256=hashlib.sha256(data).hexdigest(), size=len(data), name=name
        )
        offer = JobOffer(job_id=uuid.uuid4().hex, attempt_id=uuid.uuid4().hex, machine_id=rig.machine_id,
                         lease_s=600, file=ref)  # fmt: skip
        self.coordinator.command("agent-1", offer)
        return Run(agent, self.coordinator, offer, job)

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()


@pytest.fixture
def lab(broker: Broker, coordinator: Coordinator, file_server: FileServer, tmp_path: Path) -> Iterator[Lab]:
    made = Lab(broker, coordinator, file_server, tmp_path)
    yield made
    made.stop()


# ---- the outcomes ----------------------------------------------------------------------------------


def test_a_job_that_runs_to_the_end_is_reported_done(rig: Rig, lab: Lab) -> None:
    run = lab.run(rig, "done")
    run.wait_end("job:done")
    run.settle()
    assert run.story() == ["job:accepted", "job:progress", "job:done"]
    assert run.statuses() == ["preparing", "running", "waiting_operator"]
    rig.check_done(run.job)


def test_a_machine_failure_is_reported_failed_with_the_machines_own_words(rig: Rig, lab: Lab) -> None:
    run = lab.run(rig, "failed")
    reason = run.wait_end("job:failed")["reason"]
    for words in rig.failure_words:
        assert words in reason
    run.settle()
    assert run.story() == ["job:accepted", "job:progress", "job:failed"]
    assert run.statuses() == ["preparing", "running", "waiting_operator"]
    rig.check_failed(run.job)


def test_a_cancel_from_the_coordinator_stops_the_machine_and_is_reported_cancelled(
    rig: Rig, lab: Lab
) -> None:
    run = lab.run(rig, "cancelled")
    run.wait("job:progress")
    run.command("job:cancel")
    run.wait_end("job:cancelled")
    rig.check_stopped(run.job)  # cancelled means the machine has stopped
    run.settle()
    assert run.story() == ["job:accepted", "job:progress", "job:cancelled"]
    assert run.statuses() == ["preparing", "running", "waiting_operator"]


@pytest.mark.slow  # a pause long enough to see the machine hold, then the rest of the job
def test_a_pause_holds_the_machine_and_a_resume_runs_the_job_to_done(rig: Rig, lab: Lab) -> None:
    run = lab.run(rig, "paused")
    run.wait("job:progress")
    run.command("job:pause")
    run.wait("job:paused")
    run.coordinator.wait_event("machine:status", ENDS, machine_id=rig.machine_id, status="paused")
    rig.check_holding()
    assert not run.finals()  # paused is not ended
    run.command("job:resume")
    run.wait("job:resumed")
    run.wait_end("job:done")
    run.settle()
    story = ["job:accepted", "job:progress", "job:paused", "job:resumed", "job:progress", "job:done"]
    assert run.story() == story
    assert run.statuses() == ["preparing", "running", "paused", "running", "waiting_operator"]
    rig.check_done(run.job)


@pytest.mark.slow
@pytest.mark.parametrize("rig", drivers("marlin", "grbl", "octoprint", "moonraker"), indirect=True)
def test_a_pause_after_the_machine_has_the_whole_job_still_ends_done_after_the_resume(
    rig: Rig, lab: Lab
) -> None:
    """The printer holds the last lines, or the host finishes between two polls after the resume."""
    run = lab.run(rig, "paused_at_end")
    run.wait("job:progress")
    wait_until(rig.holds_whole_job, ENDS, "the machine to hold the whole job")
    run.command("job:pause")
    run.wait("job:paused")
    run.command("job:resume")
    run.wait_end("job:done")
    run.settle()
    story = [kind for kind in run.story() if kind != "job:progress"]
    assert story == ["job:accepted", "job:paused", "job:resumed", "job:done"]
    assert run.statuses() == ["preparing", "running", "paused", "running", "waiting_operator"]
    rig.check_done(run.job)


@pytest.mark.parametrize("rig", drivers("marlin", "grbl", "octoprint"), indirect=True)
def test_a_machine_freed_by_a_cancel_takes_the_next_job_at_once(rig: Rig, lab: Lab) -> None:
    """Without an operator to confirm, the machine is idle once its driver has stopped the job, and
    not before: a next offer sent the moment it is idle runs (a driver still stopping refuses it)."""
    first = lab.run(rig, "cancelled", operator_confirm=False)
    first.wait("job:progress")
    first.command("job:cancel")
    first.wait_end("job:cancelled")
    lab.coordinator.wait_event("machine:status", ENDS, machine_id=rig.machine_id, status="idle")
    second = lab.offer(first.agent, rig, "done")
    second.wait_end("job:done")
    second.settle()
    assert second.story() == ["job:accepted", "job:progress", "job:done"]
    assert first.statuses() == ["preparing", "running", "idle", "preparing", "running", "idle"]


# ---- the filament a job used ---------------------------------------------------------------------


class SlicedMoonrakerRig(MoonrakerRig):
    """Moonraker printing a file with PrusaSlicer's figures (1,000 mm of filament weigh 3 g) whose 20
    moves feed 62.5 mm each."""

    def job(self, outcome: str) -> list[str]:
        moves = [f"{line} E62.5" for line in fdm_job(20) if line.startswith("G1")]
        return ["; filament used [mm] = 1000.00", "; filament used [g] = 3.00", "M83", *moves]


def test_the_filament_klipper_counted_reaches_the_coordinator_in_grams(
    request: pytest.FixtureRequest, tmp_path: Path, lab: Lab
) -> None:
    rig = SlicedMoonrakerRig(request, tmp_path)
    try:
        done = lab.run(rig, "done").wait_end("job:done")
        # Klipper's 1,250 mm at the slicer's own 3 g per 1,000 mm (its diameter and density)
        assert done["filament_used_g"] == 3.75
    finally:
        rig.close()


def test_a_machine_that_measures_no_filament_leaves_the_figure_to_the_coordinator(
    request: pytest.FixtureRequest, tmp_path: Path, lab: Lab
) -> None:
    done = lab.run(SimulatedRig(request, tmp_path), "done").wait_end("job:done")
    assert done.get("filament_used_g") is None  # the coordinator takes its estimate, and says so
