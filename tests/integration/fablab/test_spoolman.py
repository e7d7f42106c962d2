"""A fablab that keeps its spools in Spoolman: peerfab reads them, matches on them, and tells Spoolman
what jobs used (against a fake built from Spoolman's documented API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from coordinator.db import session_scope
from coordinator.fablab import spoolman
from coordinator.models.fablab import Spool
from protocol import payloads as p
from tests.support.agents import BusAgent, machine_info, running_job

from .spoolman_fake import FakeSpoolman, spool

LAB = "lab-spoolman"


@pytest.fixture
def fake() -> Iterator[FakeSpoolman]:
    server = FakeSpoolman(
        [spool(3, "pla", "FF8000", 640.0, location="mk4"), spool(9, "petg", "000000", 1000.0)]
    )
    yield server
    server.stop()


def _mirror(runtime: Any) -> dict[str, Spool]:
    with session_scope(runtime.engine) as session:
        return {s.external_id: s for s in session.exec(select(Spool).where(Spool.fablab == LAB))}


def test_jobs_use_spoolman_spools_and_spoolman_is_told(runtime: Any, fake: FakeSpoolman) -> None:
    agent = BusAgent(runtime, LAB, "agent-1")
    agent.birth(machine_info("mk4"))
    with session_scope(runtime.engine) as session:
        spoolman.set_source(session, LAB, "spoolman", fake.url)
        assert spoolman.sync(session, LAB, spoolman.SpoolmanClient(fake.url)) == 2
    mirror = _mirror(runtime)
    assert (mirror["3"].material, mirror["3"].colour, mirror["3"].machine_id) == ("pla", "#FF8000", "mk4")
    assert (
        mirror["3"].remaining_g == 640.0
        and mirror["3"].cost_per_kg == 25.0
        and mirror["9"].machine_id is None
    )

    _, offer = running_job(runtime, agent, "mk4", 0.3, 60, material="pla", params={"filament_g": 50.0})
    assert _mirror(runtime)["3"].remaining_g == 590.0 and _mirror(runtime)["3"].unsynced_g == 50.0
    assert fake.spools[3]["remaining_weight"] == 640.0  # nothing told from inside the job's transaction
    agent.job_event(p.JobDone, offer, duration_s=60, filament_used_g=46.5)

    with session_scope(runtime.engine) as session:
        spoolman.sync_all(session)
    uses = [body["use_weight"] for method, _, body in fake.calls if method == "PUT"]
    assert sum(uses) == pytest.approx(46.5)
    assert fake.spools[3]["remaining_weight"] == pytest.approx(593.5)
    after = _mirror(runtime)["3"]
    assert after.unsynced_g == pytest.approx(0.0) and after.remaining_g == pytest.approx(593.5)


def test_an_unreachable_spoolman_is_a_clear_error(runtime: Any) -> None:
    with (
        session_scope(runtime.engine) as session,
        pytest.raises(spoolman.SpoolmanError, match="cannot be reached"),
    ):
        spoolman.sync(session, LAB, spoolman.SpoolmanClient("http://127.0.0.1:9", timeout_s=1))
    with session_scope(runtime.engine) as session, pytest.raises(Exception, match="http"):
        spoolman.set_source(session, LAB, "spoolman", "spoolman.lab:7912")
