"""Every example design can be built on the demo network: jobs, a purchase list and a plan with a bound."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from coordinator.db import session_scope
from coordinator.demo import DEMO, FABLABS, publish_examples
from coordinator.jobs.commands import StartBuild
from coordinator.models.builds import Plan
from coordinator.services import builds
from coordinator.services.planner import Planner
from tests.support.network import add_machine

EXAMPLES = [
    "arduino-uno-compatible",
    "ceb-press",
    "reprap-printer",
    "spool-holder",
    "wikispeed-chassis-module",
]


@pytest.fixture
def demo_network(runtime):  # type: ignore[no-untyped-def]
    publish_examples(runtime)
    with session_scope(runtime.engine) as session:
        for lab in FABLABS:
            for machine_id, caps in lab.machines.items():
                extra = {
                    k: v for k, v in caps.items() if k not in {"process", "materials", "build_volume_mm"}
                }
                materials = tuple(caps.get("materials", ()))
                volume = tuple(caps.get("build_volume_mm", (0, 0, 0)))
                add_machine(
                    session, lab.id, machine_id, caps["process"], materials=materials, volume=volume, **extra
                )
    return runtime


@pytest.mark.parametrize("design", EXAMPLES)
def test_example_design_builds_with_a_bounded_plan(demo_network, design: str) -> None:  # type: ignore[no-untyped-def]
    rt = demo_network
    build_id = rt.bus.handle(StartBuild(design, "latest", 2, "fablab-berlin", 0, None, DEMO))
    planner = Planner(time_limit_s=1.0)
    with session_scope(rt.engine) as session:
        planner.tick(session)
    with Session(rt.engine) as session:
        report = builds.build_report(session, builds.get_build(session, build_id))
        plan = session.exec(select(Plan)).first()
    assert report["state"] == "active", report["reason"]
    kinds = {t["kind"] for t in report["tasks"]}
    assert kinds == {"fab", "assembly"}
    assert all(t["planned_machine"] for t in report["tasks"])
    assert report["purchases"]["lines"] and report["purchases"]["totals"]
    assert plan is not None and 0 < plan.lower_bound_min <= plan.makespan_min
    assert report["expected_finish_at"] is not None
    planner.stop()
