"""Past contributions seeded into the commons ledger, for reciprocity tests and the benchmark.

A past build is a finished build row at its site; a contribution is one attempt a fablab's machine
ran for it, turned into ledger rows by the ledger's own mapping (`attempt_events`) and written by its
own `record`, exactly as a finished job would be recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from coordinator.ledger.mapping import AttemptFacts, attempt_events, person
from coordinator.ledger.record import record
from coordinator.models.builds import Build, BuildState
from coordinator.models.jobs import new_id


def seeded_build(
    session: Session, site: str, started_by: str, at: datetime, state: BuildState = BuildState.DONE
) -> str:
    """A build at `site`, started by `started_by` (finished unless `state` says otherwise); its id."""
    ended = at if state == BuildState.DONE else None
    build = Build(design="seeded", design_version="1.0.0", units=1, site=site, state=state,
                  started_by=started_by, created_at=at, ended_at=ended)  # fmt: skip
    session.add(build)
    session.flush()
    return build.id


def give(
    session: Session, lab: str, build_id: str, started_by: str, at: datetime,
    hours: float = 1.0, grams: float = 0.0, parts: int = 1,
) -> int:  # fmt: skip
    """`lab`'s machine made `parts` parts for the build in `hours`, using `grams`; the rows written."""
    attempt = new_id()
    facts = AttemptFacts(attempt_id=attempt, job_id=new_id(), state="done", fablab=lab, machine_id="seeded",
                         process="fdm_print", started_at=at - timedelta(hours=hours), ended_at=at,
                         part="seeded@1.0.0#part", copies=parts, build_id=build_id,
                         beneficiary=person(started_by), material="pla", grams=grams or None)  # fmt: skip
    return record(session, attempt_events(facts))
