"""Reciprocity through the real dispatch round, with past contributions seeded into the ledger."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from coordinator.db import session_scope
from coordinator.jobs.commands import COORDINATOR, SubmitJobs
from coordinator.jobs.dispatch import dispatch_policy
from coordinator.jobs.reciprocity import party_scores
from coordinator.jobs.submission import JobSpec
from coordinator.models.builds import BuildState
from coordinator.models.jobs import AgentLink, Fablab, Job, Machine
from coordinator.settings import Settings
from tests.support.agents import attach_transport, offers_after_round
from tests.support.contributions import give, seeded_build

PRINTER = {"process": "fdm_print", "materials": ["pla"], "build_volume_mm": [250, 210, 210], "nozzle_mm": 0.4}
SPEC = JobSpec(file_sha256="e" * 64, file_name="clip.gcode", process="fdm_print", material="pla")
LABS = ("lab-giver", "lab-taker", "lab-new")


def _network(runtime: Any) -> dict[str, str]:
    """Three fablabs, one printer (at the giver's), and a live build at each; the builds by lab.

    Over the last weeks lab-giver made 20 hours of parts for lab-taker's builds, and nothing else
    happened; lab-new has no record.
    """
    now = datetime.now(UTC)
    with session_scope(runtime.engine) as session:
        for lab in LABS:
            session.add(Fablab(id=lab))
        session.flush()
        session.add(AgentLink(fablab="lab-giver", agent="agent-1", online=True))
        session.add(Machine(fablab="lab-giver", machine_id="mk3s", agent="agent-1", capabilities=PRINTER,
                            status="idle"))  # fmt: skip
        for days_ago in (3, 10, 20, 40):
            past = seeded_build(session, "lab-taker", "tess", now - timedelta(days=days_ago))
            give(
                session,
                "lab-giver",
                past,
                "tess",
                now - timedelta(days=days_ago),
                hours=5,
                grams=200,
                parts=4,
            )
        return {lab: seeded_build(session, lab, f"builder-{lab}", now, BuildState.ACTIVE) for lab in LABS}


def _queue(runtime: Any, builds: dict[str, str], order: tuple[str, ...]) -> dict[str, str]:
    """One job of each lab's build, queued in `order`; the job ids by lab."""
    jobs = {}
    for lab in order:
        spec = dataclasses.replace(SPEC, params={"build": builds[lab]})
        (jobs[lab],) = runtime.bus.handle(SubmitJobs(spec, 1, COORDINATOR))
    return jobs


def _with(settings: Settings, **reciprocity: Any) -> Settings:
    return settings.model_copy(
        update={"reciprocity": settings.reciprocity.model_copy(update={"enabled": True, **reciprocity})}
    )


def _offered(runtime: Any, settings: Settings) -> list[str]:
    transport = attach_transport(runtime)
    runtime.bus.deps.policy = dispatch_policy(settings)
    return [offer.job_id for offer in offers_after_round(runtime, transport)]


def test_the_seeded_ledger_scores_the_giver_above_the_newcomer_above_the_taker(
    runtime: Any, settings: Settings
) -> None:
    _network(runtime)
    with Session(runtime.engine) as session:
        scores = party_scores(session, datetime.now(UTC), settings.reciprocity)
    assert scores["fablab:lab-giver"] > 0.9
    assert scores["fablab:lab-taker"] < 0.1 and scores["person:tess"] < 0.1
    assert "fablab:lab-new" not in scores  # neutral: no record


def test_when_contended_the_contributors_job_is_offered_first(runtime: Any, settings: Settings) -> None:
    jobs = _queue(runtime, _network(runtime), ("lab-taker", "lab-new", "lab-giver"))
    assert _offered(runtime, _with(settings)) == [jobs["lab-giver"]]


def test_with_reciprocity_off_the_oldest_job_is_offered_first(runtime: Any, settings: Settings) -> None:
    jobs = _queue(runtime, _network(runtime), ("lab-taker", "lab-new", "lab-giver"))
    assert _offered(runtime, settings) == [jobs["lab-taker"]]


@pytest.mark.parametrize(("max_wait_s", "first"), [(7200, "lab-giver"), (1200, "lab-taker")])
def test_a_takers_job_queued_past_the_bound_goes_first(
    runtime: Any, settings: Settings, max_wait_s: float, first: str
) -> None:
    jobs = _queue(runtime, _network(runtime), ("lab-taker", "lab-new", "lab-giver"))
    with session_scope(runtime.engine) as session:  # the taker's job has waited half an hour
        taker = session.get(Job, jobs["lab-taker"])
        assert taker is not None
        taker.created_at = datetime.now(UTC) - timedelta(minutes=30)
    assert _offered(runtime, _with(settings, max_wait_s=max_wait_s)) == [jobs[first]]


def test_a_contributors_job_deep_in_the_queue_is_weighed_too(runtime: Any, settings: Settings) -> None:
    builds = _network(runtime)
    taker = dataclasses.replace(SPEC, params={"build": builds["lab-taker"]})
    runtime.bus.handle(SubmitJobs(taker, 40, COORDINATOR))  # ahead: more than one page for one printer
    (giver,) = _queue(runtime, builds, ("lab-giver",)).values()
    assert _offered(runtime, _with(settings)) == [giver]
