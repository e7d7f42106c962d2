"""A small network and a published design to build: two printers, an assembly bench, a spool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from coordinator.db import session_scope
from coordinator.jobs.commands import Actor, AgentMessage, AgentMessages, ReceivePurchases, StartBuild
from coordinator.models.auth import Role
from coordinator.models.builds import BuildTask
from coordinator.models.fablab import Spool
from coordinator.models.ledger import LedgerEvent
from coordinator.services import designs
from coordinator.services import network as fablabs
from protocol import payloads as p
from tests.support.agents import BusAgent, attach_transport, offer_to
from tests.support.network import add_machine
from tests.support.packages import write_package


@pytest.fixture
def network(runtime):  # type: ignore[no-untyped-def]
    with session_scope(runtime.engine) as session:
        add_machine(session, "lab-a", "prusa-1", "fdm_print", materials=("pla",))
        add_machine(session, "lab-a", "bench", "assembly")
        session.add(Spool(fablab="lab-a", material="PLA", machine_id="prusa-1", cost_per_kg=20.0))
    attach_transport(runtime)
    return runtime


@pytest.fixture
def published(runtime, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    with session_scope(runtime.engine) as session:
        designs.publish_path(
            session, runtime.store, write_package(tmp_path / "pkg"), runtime.settings.limits, by="ada"
        )
    return "test-machine"


@pytest.fixture
def built(network, published) -> str:  # type: ignore[no-untyped-def]
    """A build of one machine, every part made, its purchases received; lab-a charges 6 EUR an hour."""
    with session_scope(network.engine) as session:
        fablabs.set_profile(session, "lab-a", {"name": "Lab A", "hourly_rate": 6.0})
    build_id = start_build(network)
    network.bus.handle(ReceivePurchases(build_id, None, Actor("bea", Role.BUILDER)))
    rows = tasks(network, build_id)
    Machine(network, "prusa-1").make(rows["fab:bracket:1"].job_id, filament_used_g=24.0)
    for task in ("asm:frame:1", "asm:root:1"):
        Machine(network, "bench").make(rows[task].job_id)
    return build_id


def start_build(runtime: Any, by: str = "bea", units: int = 1) -> str:
    """A build of the test machine at lab-a, started by the builder `by`."""
    command = StartBuild("test-machine", "latest", units, "lab-a", 0, None, Actor(by, Role.BUILDER))
    return str(runtime.bus.handle(command))


def tasks(runtime: Any, build_id: str) -> dict[str, BuildTask]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(BuildTask).where(BuildTask.build_id == build_id)).all()
        return {t.task_id: t for t in rows}


def ledger(runtime: Any, **where: Any) -> list[LedgerEvent]:
    with Session(runtime.engine) as session:
        query = select(LedgerEvent).order_by(col(LedgerEvent.id))
        for name, value in where.items():
            query = query.where(getattr(LedgerEvent, name) == value)
        return list(session.exec(query).all())


class Machine:
    """One machine of lab-a's agent, made to work through the bus as its agent would report it."""

    def __init__(self, runtime: Any, machine_id: str) -> None:
        self.runtime, self.machine_id = runtime, machine_id
        self.agent = BusAgent(runtime, "lab-a", "agent-1")

    def start(self, job_id: str) -> p.JobOffer:
        offer = offer_to(self.runtime, job_id, "lab-a", "agent-1", self.machine_id)
        self.agent.job_event(p.JobAccepted, offer)
        self.agent.job_event(p.JobProgress, offer, progress=0.5)
        return offer

    def finish(self, offer: p.JobOffer, **fields: Any) -> p.JobDone:
        """Report the job done; return the message (to hand it again)."""
        done = p.JobDone(**self.ids(offer), **fields)
        self.hand(done)
        return done

    def fail(self, offer: p.JobOffer, reason: str) -> None:
        self.agent.job_event(p.JobFailed, offer, reason=reason)

    def ids(self, offer: p.JobOffer) -> dict[str, Any]:
        """The next event's numbers and the offer's ids, for a report built by hand."""
        self.agent.seq += 1
        return {"boot_seq": self.agent.boot_seq, "seq": self.agent.seq, "job_id": offer.job_id,
                "attempt_id": offer.attempt_id, "machine_id": offer.machine_id}  # fmt: skip

    def hand(self, *messages: Any) -> None:
        """Messages as the dispatcher hands them to the bus: together, in one unit of work."""
        batch = tuple(AgentMessage("lab-a", "agent-1", "events", m) for m in messages)
        self.runtime.bus.handle(AgentMessages(batch))

    def make(self, job_id: str, **fields: Any) -> p.JobDone:
        return self.finish(self.start(job_id), **fields)
