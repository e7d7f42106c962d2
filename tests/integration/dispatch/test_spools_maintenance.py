"""Spools and maintenance decide which machine takes a job, through a real dispatcher and broker."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from coordinator.jobs.commands import COORDINATOR, SaveMaintenanceTask, SaveSpool
from coordinator.models.fablab import JobRun, MachineCounter, Spool
from coordinator.services.auth import Actor
from protocol import payloads as p

from .conftest import job, job_state, submit, wait_until
from .fake_agent import machine

OPERATOR = Actor(name="olga", role="operator", fablabs=("lab-berlin",))


def _spools(runtime: Any) -> list[Spool]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(Spool).order_by(Spool.id)))  # type: ignore[arg-type]


def _runs(runtime: Any) -> list[JobRun]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(JobRun).order_by(JobRun.id)))  # type: ignore[arg-type]


def _known(runtime: Any, machine_id: str) -> bool:
    from coordinator.models.jobs import Machine

    with Session(runtime.engine) as session:
        return session.get(Machine, ("lab-berlin", machine_id)) is not None


def _reason(runtime: Any, job_id: str) -> str:
    from coordinator.fablab.waiting import why_waiting

    with Session(runtime.engine) as session:
        return "; ".join(why_waiting(session, job_id))


def test_a_part_goes_to_the_printer_with_enough_filament_and_uses_it(runtime, make_agent):
    agent = make_agent()
    agent.birth(
        machine(
            "prusa-1", spool=p.LoadedSpool(id="pla-black-7", material="pla", colour="black", remaining_g=40)
        ),
        machine(
            "prusa-2",
            spool=p.LoadedSpool(
                id="pla-black-8", material="pla", colour="black", remaining_g=900, cost_per_kg=25.0
            ),
        ),
    )
    (job_id,) = submit(runtime, material="pla", params={"filament_g": 300.0})

    offer = agent.wait_offer()
    assert offer.machine_id == "prusa-2"  # prusa-1 has 40 g left, the part needs about 300 g
    agent.job_event(p.JobAccepted, offer, estimates=p.Estimates(filament_g=280.0, source="PrusaSlicer 2.5"))
    wait_until(lambda: [s.remaining_g for s in _spools(runtime)] == [620.0], what="filament taken at start")
    agent.job_event(p.JobDone, offer, duration_s=30, filament_used_g=270.0)
    wait_until(lambda: job_state(runtime, job_id) == "done", what="done")

    (spool,) = _spools(runtime)  # the agent's spool entered the inventory at its first job
    assert (spool.external_id, spool.machine_id, spool.remaining_g) == ("pla-black-8", "prusa-2", 630.0)
    (run,) = _runs(runtime)
    assert (run.filament_estimate_g, run.filament_used_g, run.filament_source) == (
        280.0,
        270.0,
        "measured by the host",
    )
    assert run.cost == pytest.approx(6.75)
    with Session(runtime.engine) as session:
        counter = session.get(MachineCounter, ("lab-berlin", "prusa-2"))
        assert counter is not None and counter.jobs == 1 and counter.filament_g == 270.0


def test_no_printer_with_enough_filament_keeps_the_job_queued_and_says_why(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1", spool=p.LoadedSpool(material="pla", colour="black", remaining_g=40)))
    (job_id,) = submit(runtime, material="pla", params={"filament_g": 300.0})

    wait_until(lambda: "has 40 g left, part needs about 300 g" in _reason(runtime, job_id), what="the reason")
    assert job_state(runtime, job_id) == "queued" and not agent.offers()

    # the operator loads a full spool from the inventory: the job goes out at once
    spool = runtime.bus.handle(
        SaveSpool(
            "lab-berlin",
            None,
            {"material": "pla", "colour": "black", "initial_g": 1000, "machine_id": "prusa-1"},
            OPERATOR,
        )
    )
    assert spool["machine_id"] == "prusa-1"
    offer = agent.wait_offer()
    assert offer.job_id == job_id


def test_a_part_asking_for_a_colour_waits_for_that_colour(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1", spool=p.LoadedSpool(material="pla", colour="black", remaining_g=900)))
    (job_id,) = submit(runtime, material="pla", params={"colour": "Signal Orange"})
    wait_until(lambda: "is black, part needs Signal Orange" in _reason(runtime, job_id), what="colour reason")
    runtime.bus.handle(
        SaveSpool(
            "lab-berlin",
            None,
            {"material": "pla", "colour": "signal-orange", "machine_id": "prusa-1"},
            OPERATOR,
        )
    )
    assert agent.wait_offer().job_id == job_id


def test_a_failed_job_uses_the_share_it_printed(runtime, make_agent):
    agent = make_agent()
    agent.birth(machine("prusa-1", spool=p.LoadedSpool(material="petg", remaining_g=500)))
    (job_id,) = submit(runtime, material="petg", params={"filament_g": 100.0}, max_attempts=1)
    offer = agent.wait_offer()
    agent.job_event(p.JobAccepted, offer)
    agent.job_event(p.JobProgress, offer, progress=0.25)
    wait_until(lambda: job(runtime, job_id).progress == 0.25, what="progress")
    agent.job_event(p.JobFailed, offer, reason="spaghetti")
    wait_until(lambda: job_state(runtime, job_id) == "failed", what="failed")
    wait_until(lambda: _runs(runtime) and _runs(runtime)[0].state == "failed", what="run closed")
    assert _runs(runtime)[0].filament_used_g == 25.0
    assert _spools(runtime)[0].remaining_g == 475.0


def test_a_machine_with_an_overdue_task_gets_no_job_until_signed_off(runtime, make_agent):
    agent = make_agent(auto=True)
    agent.birth(machine("prusa-1"))
    wait_until(lambda: _known(runtime, "prusa-1"), what="the machine's birth")
    task = runtime.bus.handle(
        SaveMaintenanceTask(
            "lab-berlin", "prusa-1", None, {"name": "nozzle change", "every_jobs": 1}, OPERATOR
        )
    )
    (first,) = submit(runtime, material="pla")
    wait_until(lambda: job_state(runtime, first) == "done", what="first job done")

    (second,) = submit(runtime, material="pla")
    wait_until(
        lambda: "held for maintenance: nozzle change is due (1 of 1 jobs)" in _reason(runtime, second),
        what="the hold as the reason",
    )
    assert job_state(runtime, second) == "queued" and len(agent.offers()) == 1

    with pytest.raises(Exception, match="may not"):
        other = Actor(name="otto", role="operator", fablabs=("lab-leipzig",))
        runtime.bus.handle(SaveMaintenanceTask("lab-berlin", "", task["id"], {}, other, sign_off=True))
    assert job_state(runtime, second) == "queued"
    done = runtime.bus.handle(
        SaveMaintenanceTask("lab-berlin", "", task["id"], {"note": "new nozzle"}, OPERATOR, sign_off=True)
    )
    assert not done["due"]
    wait_until(lambda: job_state(runtime, second) == "done", what="second job done after sign-off")


def test_spool_edits_are_checked_before_anything_is_written(runtime, make_agent):
    make_agent().birth(machine("prusa-1"))
    wait_until(lambda: _known(runtime, "prusa-1"), what="the machine's birth")
    from protocol.errors import InvalidInput, NotFound

    with pytest.raises(InvalidInput, match="remaining_g"):
        runtime.bus.handle(SaveSpool("lab-berlin", None, {"material": "pla", "remaining_g": -5}, COORDINATOR))
    with pytest.raises(NotFound, match="no machine 'mk9'"):
        runtime.bus.handle(
            SaveSpool("lab-berlin", None, {"material": "pla", "machine_id": "mk9"}, COORDINATOR)
        )
    assert _spools(runtime) == []
