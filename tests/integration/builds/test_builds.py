"""Builds end to end through the service layer and the API: explode, plan, follow the plan."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from coordinator.db import session_scope
from coordinator.jobs.dispatch import OfferSettings, PlanPolicy, dispatch_round, idle_machines, queued_jobs
from coordinator.jobs.lifecycle import JobState
from coordinator.models.builds import Build, BuildTask, Plan
from coordinator.models.fablab import JobRun
from coordinator.models.jobs import AgentLink, Job
from coordinator.services import designs
from coordinator.services.planner import Planner
from protocol import payloads as p
from tests.support.agents import BusAgent, attach_transport, offer_to
from tests.support.network import add_machine
from tests.support.packages import write_package


@pytest.fixture
def network(runtime):  # type: ignore[no-untyped-def]
    with session_scope(runtime.engine) as session:
        add_machine(session, "lab-a", "prusa-1", "fdm_print", materials=("pla",))
        add_machine(session, "lab-a", "bench", "assembly")
        add_machine(session, "lab-b", "prusa-2", "fdm_print", materials=("pla",), speed=2.0, agent="agent-b")
    return runtime


@pytest.fixture
def published(runtime, tmp_path: Path):  # type: ignore[no-untyped-def]
    with session_scope(runtime.engine) as session:
        designs.publish_path(session, runtime.store, write_package(tmp_path / "pkg"), runtime.settings.limits)
    return "test-machine"


def start(client, token: str, **body):  # type: ignore[no-untyped-def]
    payload = {"design": "test-machine", "units": 2, "site": "lab-a", **body}
    return client.post("/api/v1/builds", json=payload, headers={"Authorization": f"Bearer {token}"})


def test_start_build_explodes_into_jobs_and_purchases(client, token_for, network, published) -> None:  # type: ignore[no-untyped-def]
    response = start(client, token_for("builder"))
    assert response.status_code == 201, response.json
    report = response.json
    assert report["state"] == "active"
    kinds = [t["kind"] for t in report["tasks"]]
    assert kinds.count("fab") == 1  # 8 brackets share one plate
    assert kinds.count("assembly") == 4  # 2 frames + 2 machines
    assert {p["part"]: p["quantity"] for p in report["purchases"]["lines"]} == {"bolt": 24.0, "rail": 4.0}
    assert report["purchases"]["totals"] == {"EUR": round(4 * 12.5 + 24 * 0.05, 2)}
    with Session(network.engine) as session:
        assert session.exec(select(Job)).all().__len__() == 5


def test_plan_has_a_lower_bound_and_dispatch_follows_it(client, token_for, network, published) -> None:  # type: ignore[no-untyped-def]
    build_id = start(client, token_for("builder")).json["id"]
    planner = Planner(time_limit_s=2.0)
    with session_scope(network.engine) as session:
        planner.tick(session)
    planner.wait(5)
    with session_scope(network.engine) as session:
        planner.tick(session)  # stores the improved schedule
    with Session(network.engine) as session:
        plan = session.exec(select(Plan).order_by(Plan.id.desc())).first()  # type: ignore[union-attr]
        assert plan is not None and 0 < plan.lower_bound_min <= plan.makespan_min
        build = session.get(Build, build_id)
        assert build is not None and build.planned_finish_at is not None
        tasks = {t.task_id: t for t in session.exec(select(BuildTask).where(BuildTask.build_id == build_id))}
        plate_machine = tasks["fab:bracket:1"].planned_machine
        assert plate_machine in {"lab-a/prusa-1", "lab-b/prusa-2"}
        assert tasks["asm:root:1"].planned_machine == "lab-a/bench"
        assert tasks["asm:frame:1"].planned_start >= tasks["fab:bracket:1"].planned_end  # type: ignore[operator]
    with session_scope(network.engine) as session:
        pairs = PlanPolicy().choose(session, queued_jobs(session, 50), idle_machines(session))
        chosen = {f"{m.fablab}/{m.machine_id}": job.id for job, m in pairs}
    # the plate goes to its planned printer only; the bench waits for parts, the other printer idles
    assert chosen == {plate_machine: tasks["fab:bracket:1"].job_id}


def test_assembly_waits_for_its_purchases(client, token_for, network, published) -> None:  # type: ignore[no-untyped-def]
    build_id = start(client, token_for("builder")).json["id"]
    with session_scope(network.engine) as session:
        Planner(time_limit_s=0.5).tick(session)
        fab = session.exec(select(BuildTask).where(BuildTask.task_id == "fab:bracket:1")).one()
        job = session.get(Job, fab.job_id)
        assert job is not None
        job.state = JobState.DONE
    with session_scope(network.engine) as session:
        pairs = PlanPolicy().choose(session, queued_jobs(session, 50), idle_machines(session))
        assert pairs == []  # frames need rails, which have not arrived
    received = client.post(f"/api/v1/builds/{build_id}/purchases/receive", json={},
                           headers={"Authorization": f"Bearer {token_for('builder')}"})  # fmt: skip
    assert received.json == {"received": 2}
    with session_scope(network.engine) as session:
        pairs = PlanPolicy().choose(session, queued_jobs(session, 50), idle_machines(session))
        assert [(m.machine_id, session.get(Job, j.id).params["task"]) for j, m in pairs] == [  # type: ignore[union-attr]
            ("bench", "asm:frame:1")
        ]


def test_a_part_no_machine_can_make_blocks_the_build_naming_it(client, token_for, runtime, published) -> None:  # type: ignore[no-untyped-def]
    with session_scope(runtime.engine) as session:
        add_machine(session, "lab-a", "prusa-1", "fdm_print", materials=("petg",))
        add_machine(session, "lab-a", "bench", "assembly")
    report = start(client, token_for("builder")).json
    assert report["state"] == "blocked"
    assert "part 'bracket'" in report["reason"] and "closest is lab-a/prusa-1" in report["reason"]
    assert "material pla not loaded" in report["reason"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _plate(runtime) -> BuildTask:  # type: ignore[no-untyped-def]
    with Session(runtime.engine) as session:
        return session.exec(select(BuildTask).where(BuildTask.task_id == "fab:bracket:1")).one()


def _build(runtime, build_id: str) -> Build:  # type: ignore[no-untyped-def]
    with Session(runtime.engine) as session:
        build = session.get(Build, build_id)
        assert build is not None
        return build


def _fail_on_the_printer(runtime, job_id: str, why: str) -> None:  # type: ignore[no-untyped-def]
    offer = offer_to(runtime, job_id, "lab-a", "agent-1", "prusa-1")
    agent = BusAgent(runtime, "lab-a", "agent-1")
    agent.job_event(p.JobAccepted, offer)
    agent.job_event(p.JobFailed, offer, reason=why)


def test_a_part_failed_for_good_blocks_the_build_until_the_builder_makes_it_again(
    client,
    token_for,
    network,
    published,  # type: ignore[no-untyped-def]
) -> None:
    attach_transport(network)
    token = token_for("builder")
    build_id = start(client, token).json["id"]
    first = _plate(network).job_id
    assert first is not None
    for attempt in range(3):  # max_attempts: the job goes round again until the last one fails
        _fail_on_the_printer(network, first, f"spaghetti {attempt}")
    build = _build(network, build_id)
    assert build.state == "blocked" and "part bracket (fab:bracket:1) failed: spaghetti 2" in build.reason
    assert "make it again" in build.reason
    retried = client.post(f"/api/v1/builds/{build_id}/tasks/fab:bracket:1/retry", headers=_bearer(token))
    assert retried.status_code == 200, retried.json
    second = _plate(network).job_id
    assert second == retried.json["job"] and second != first
    with Session(network.engine) as session:
        job = session.get(Job, second)
        assert job is not None and job.state == "queued" and job.params["replaces"] == first
    assert _build(network, build_id).state == "active"
    again = client.post(f"/api/v1/builds/{build_id}/tasks/fab:bracket:1/retry", headers=_bearer(token))
    assert again.status_code == 409  # only a failed part can be made again


def test_cancelling_one_job_of_a_build_queues_the_part_again(client, token_for, network, published) -> None:  # type: ignore[no-untyped-def]
    attach_transport(network)
    token = token_for("builder")
    build_id = start(client, token).json["id"]
    first = _plate(network).job_id
    offer_to(network, first, "lab-a", "agent-1", "prusa-1")
    response = client.post(f"/api/v1/jobs/{first}/cancel", headers=_bearer(token))
    assert response.status_code == 200 and response.json["state"] == "cancelled"
    task = _plate(network)
    assert task.job_id != first and task.actual_start is None
    with Session(network.engine) as session:
        replacement = session.get(Job, task.job_id)
        assert replacement is not None and replacement.state == "queued"
        assert replacement.params["replaces"] == first
    assert _build(network, build_id).state == "active"


def test_a_builder_cannot_touch_another_builders_build(client, token_for, network, published) -> None:  # type: ignore[no-untyped-def]
    from coordinator.services.auth import create_token

    build_id = start(client, token_for("builder")).json["id"]
    with session_scope(network.engine) as session:
        _, other = create_token(session, "builder", name="someone-else")
    assert client.post(f"/api/v1/builds/{build_id}/cancel", headers=_bearer(other)).status_code == 403
    job_id = _plate(network).job_id
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=_bearer(other)).status_code == 403
    assert _build(network, build_id).state == "active"


def test_validation_errors(client, token_for, network, published) -> None:  # type: ignore[no-untyped-def]
    token = token_for("builder")
    assert start(client, token, site="nowhere").status_code == 400
    assert "unknown build site 'nowhere'" in start(client, token, site="nowhere").json["message"]
    assert start(client, token, units=0).status_code == 422
    assert start(client, token, design="nope").status_code == 404
    assert start(client, token_for("designer")).status_code == 403
    with Session(network.engine) as session:
        assert session.exec(select(Build)).all() == []
        assert session.exec(select(Job)).all() == []


def test_cancel_build_cancels_its_jobs(client, token_for, network, published) -> None:  # type: ignore[no-untyped-def]
    token = token_for("builder")
    build_id = start(client, token).json["id"]
    response = client.post(f"/api/v1/builds/{build_id}/cancel", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json["state"] == "cancelled"
    with Session(network.engine) as session:
        assert {j.state for j in session.exec(select(Job))} == {JobState.CANCELLED}  # nothing left queued
        assert len(session.exec(select(Job)).all()) == 5  # and no part queued again
    again = client.post(f"/api/v1/builds/{build_id}/cancel", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 409


def _plan_again(runtime) -> None:  # type: ignore[no-untyped-def]
    with session_scope(runtime.engine) as session:
        Planner(time_limit_s=0.5).replan(session, "test")


def _new_plans(runtime, planner: Planner) -> list[str]:  # type: ignore[no-untyped-def]
    """The reasons of the plans one tick of `planner` stored (after its background search ended)."""
    with session_scope(runtime.engine) as session:
        before = session.exec(select(func.max(Plan.id))).one() or 0
    time.sleep(0.02)  # past learn_every_s
    with session_scope(runtime.engine) as session:
        planner.tick(session)
    planner.wait(10)
    with session_scope(runtime.engine) as session:
        planner.tick(session)  # stores the search's best schedule
        plans = session.exec(select(Plan).where(col(Plan.id) > before).order_by(col(Plan.id))).all()
    return sorted({plan.reason for plan in plans})


def _planned_plate(client, build_id: str) -> tuple[str, str, float]:  # type: ignore[no-untyped-def]
    """The plate's planned machine, the source of its duration and its planned minutes, as reported."""
    (row,) = [
        t for t in client.get(f"/api/v1/builds/{build_id}").json["tasks"] if t["task"] == "fab:bracket:1"
    ]
    span = datetime.fromisoformat(row["planned_end"]) - datetime.fromisoformat(row["planned_start"])
    return row["planned_machine"], row["estimate_source"], span.total_seconds() / 60


def _done_runs(  # type: ignore[no-untyped-def]
    runtime, machine: tuple[str, str], planned_s: float, took_s: float, count: int, first: int = 0
) -> None:
    end = datetime.now(UTC) - timedelta(days=1)
    with session_scope(runtime.engine) as session:
        for n in range(first, first + count):
            began = end - timedelta(seconds=took_s)
            session.add(JobRun(job_id=f"old-{n}", attempt_id=f"old-attempt-{n}", fablab=machine[0],
                               machine_id=machine[1], process="fdm_print", state="done", started_at=began,
                               ended_at=end, planned_s=planned_s))  # fmt: skip


def test_plans_learn_from_measured_runs_and_the_machines_own_estimate(
    client,
    token_for,
    network,
    published,  # type: ignore[no-untyped-def]
) -> None:
    transport = attach_transport(network)
    with session_scope(network.engine) as session:
        session.get(AgentLink, ("lab-b", "agent-b")).online = False  # type: ignore[union-attr]
    build_id = start(client, token_for("builder")).json["id"]
    minutes = _plate(network).minutes
    planner = Planner(time_limit_s=0.5, learn_every_s=0.01)
    assert _new_plans(network, planner) == ["network changed"]
    assert _planned_plate(client, build_id) == ("lab-a/prusa-1", "mesh estimate", math.ceil(minutes))
    assert _new_plans(network, planner) == []  # nothing learned: no plan

    # three runs on prusa-1 that took twice as long as planned: it measures half its declared speed
    _done_runs(network, ("lab-a", "prusa-1"), planned_s=1800, took_s=3600, count=3)
    speeds = client.get("/api/v1/statistics/speed-factors").json["machines"]
    assert [(s["machine"], s["declared"], s["measured"]) for s in speeds] == [("lab-a/prusa-1", 1.0, 0.5)]
    assert _new_plans(network, planner) == ["measured speed of lab-a/prusa-1"]
    assert _planned_plate(client, build_id) == ("lab-a/prusa-1", "measured speed", math.ceil(minutes * 2))

    # a fourth run as slow as the others ends: the factor stays 0.5, no new plan
    _done_runs(network, ("lab-a", "prusa-1"), planned_s=1800, took_s=3600, count=1, first=3)
    assert _new_plans(network, planner) == []

    # the dispatcher's offer gives the machine the same figure
    network.bus.run(lambda uow: dispatch_round(uow, PlanPolicy(), OfferSettings()))
    (offer,) = [o.command for o in transport.sent if isinstance(o.command, p.JobOffer)]
    assert offer.job_id == _plate(network).job_id and offer.estimated_s == pytest.approx(minutes * 2 * 60)

    # prusa-1 sliced the plate: 90 minutes, by its own estimate
    BusAgent(network, "lab-a", "agent-1").job_event(p.JobAccepted, offer, estimates={"duration_s": 5400.0})
    assert _new_plans(network, planner) == ["machine estimates"]
    assert _planned_plate(client, build_id) == ("lab-a/prusa-1", "slicer", 90)

    with session_scope(network.engine) as session:
        plate = session.exec(select(BuildTask).where(BuildTask.task_id == "fab:bracket:1")).one()
        plate.planned_end = datetime.now(UTC) - timedelta(minutes=1)  # it should have been done by now
    late = client.get(f"/api/v1/builds/{build_id}").json["late"]
    why = "accepted on lab-a/prusa-1, 0% done"
    assert {"task": "fab:bracket:1", "why": why, "estimate_source": "slicer"} in late
