"""After the demo's build, the commons ledger holds exactly what its jobs did, and says so in Valueflows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlmodel import Session, select

from coordinator.demo import Demo
from coordinator.ledger.valueflows import VF, expand
from coordinator.models.builds import BuildTask
from coordinator.models.fablab import JobRun

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    dispatch = {"lease_s": 5.0, "tick_s": 0.2, "plan_time_limit_s": 2.0}
    running = Demo(tmp_path, 0, target_s=30, dispatch=dispatch).start(say=lambda _line: None)
    yield running
    running.stop()


def test_the_demo_builds_ledger_counts_match_its_jobs(demo: Demo) -> None:
    assert demo.wait_until_done(180, say=lambda _line: None)
    rt = demo.process.runtime
    assert rt is not None
    with Session(rt.engine) as session:
        tasks = session.exec(select(BuildTask).where(BuildTask.build_id == demo.build_id)).all()
        runs = session.exec(select(JobRun).where(JobRun.build_id == demo.build_id)).all()
    url = demo.process.url
    doc = requests.get(f"{url}/api/v1/ledger?build={demo.build_id}&limit=1000", timeout=10).json()
    assert doc["total"] == len(doc["@graph"])
    actions = Counter(event["action"] for event in doc["@graph"])
    assert actions["produce"] == len(tasks)  # every task's part, once
    assert actions["use"] == len(runs)  # every attempt, done or not
    assert actions["consume"] == len([r for r in runs if (r.filament_used_g or 0) > 0])
    expanded = expand(doc)
    assert all(node["@type"] == [f"{VF}EconomicEvent"] for node in expanded)

    origin = requests.get(f"{url}/api/v1/builds/{demo.build_id}/provenance", timeout=10).json()
    assert all(part["machine"] and part["state"] == "done" for part in origin["parts"])
    assert origin["cost"]["actual"].get("EUR", 0) > 0
