"""Build pages: the list, one build with its plan, progress and purchases, and the builder actions."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from coordinator.dashboard import build_pages
from coordinator.db import session_scope
from coordinator.jobs.commands import StartBuild
from coordinator.jobs.lifecycle import JobState
from coordinator.models.builds import Build, BuildTask, PurchaseItem
from coordinator.models.jobs import Job
from coordinator.services import designs
from coordinator.services.auth import Actor
from coordinator.services.planner import Planner
from protocol import payloads as p
from tests.support.agents import BusAgent, RecordingTransport, offer_to
from tests.support.network import add_machine
from tests.support.packages import write_package

from .conftest import csrf_of

BUILDER = Actor("test-builder", "builder")  # the name token_for gives a builder

SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Made:
    build_id: str
    fab_job: str  # the job that prints the brackets


def make_build(runtime: Any, tmp_path: Path, *, due_in_h: float = 2.0, plan: bool = True) -> Made:
    """A two-unit build of the test machine on a small network, planned once."""
    with session_scope(runtime.engine) as session:
        add_machine(session, "lab-a", "prusa-1", "fdm_print", materials=("pla",))
        add_machine(session, "lab-a", "bench", "assembly")
        add_machine(session, "lab-b", "prusa-2", "fdm_print", materials=("pla",), speed=2.0, agent="agent-b")
        designs.publish_path(session, runtime.store, write_package(tmp_path / "pkg"), runtime.settings.limits)
    due = datetime.now(UTC) + timedelta(hours=due_in_h)
    build_id = runtime.bus.handle(StartBuild("test-machine", "latest", 2, "lab-a", 0, due, BUILDER))
    if plan:
        planner = Planner(time_limit_s=0.3)
        with session_scope(runtime.engine) as session:
            planner.tick(session)
        planner.wait(5)
        with session_scope(runtime.engine) as session:
            planner.tick(session)
        planner.stop()
    with Session(runtime.engine) as session:
        task = session.exec(select(BuildTask).where(BuildTask.task_id == "fab:bracket:1")).one()
        assert task.job_id is not None
        return Made(build_id, task.job_id)


@pytest.fixture
def made(runtime: Any, tmp_path: Path) -> Made:
    return make_build(runtime, tmp_path)


def finish_job(runtime: Any, job_id: str, fablab: str = "lab-a", machine: str = "prusa-1") -> None:
    """Take a job through offer, acceptance and running to done, as an agent's reports would."""
    offer = offer_to(runtime, job_id, fablab, "agent-1", machine)
    agent = BusAgent(runtime, fablab, "agent-1")
    agent.job_event(p.JobAccepted, offer)
    agent.job_event(p.JobProgress, offer, progress=0.5)
    agent.job_event(p.JobDone, offer)


def text_of(html: str) -> str:
    """The page's visible words, tags dropped and spaces squeezed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_list_shows_design_units_site_state_progress_and_late_flag(
    client: FlaskClient, runtime: Any, made: Made
) -> None:
    html = client.get("/dashboard/builds").get_data(as_text=True)
    words = text_of(html)
    assert f'href="/dashboard/builds/{made.build_id}"' in html
    assert "test-machine@1.0.0" in words
    assert "Active" in words and 'href="#i-play"' in html  # the state has a label and an icon
    assert "0 of 5 tasks done" in words and '<progress max="5" value="0"' in html
    # the rails take five days to arrive, so a build due in two hours is late, by label not colour only
    assert "Late" in words and 'href="#i-error"' in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", words)  # expected finish and due date
    assert 'href="/dashboard/builds" aria-current="page">Builds</a>' in html  # in the main navigation


def test_list_progress_counts_done_tasks(client: FlaskClient, runtime: Any, made: Made) -> None:
    finish_job(runtime, made.fab_job)
    words = text_of(client.get("/dashboard/builds").get_data(as_text=True))
    assert "1 of 5 tasks done" in words


def test_empty_list_says_how_to_start(client: FlaskClient, runtime: Any) -> None:
    html = client.get("/dashboard/builds").get_data(as_text=True)
    assert "No build yet" in html and "/api/v1/builds" in html


def test_build_page_shows_header_progress_tree_fablabs_purchases_and_late(
    client: FlaskClient, runtime: Any, made: Made
) -> None:
    response = client.get(f"/dashboard/builds/{made.build_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    words = text_of(html)
    assert "Active" in words
    assert "no schedule can finish this build sooner" in words  # the lower bound of the plan
    assert re.search(r"gap \d+\.\d %", words)
    assert "frame: 0 of 2 assembled; 0 of 16 printed parts made for it" in words
    # the BOM tree carries a status on every node
    assert "Bracket" in words and "0 of 8 made" in words
    assert "Rail 300 mm" in words and "4 pcs to buy" in words and "To order" in words
    # per fablab: every planned task is somewhere, none running yet
    rows = dict(re.findall(r'data-fablab="([^"]*)"><th scope="row">[^<]*</th>((?:<td[^>]*>\d+</td>)+)', html))
    counts = {lab: [int(n) for n in re.findall(r">(\d+)<", cells)] for lab, cells in rows.items()}
    assert sum(c[2] for c in counts.values()) == 5 and all(c[0] == c[1] == 0 for c in counts.values())
    assert "lab-a" in counts
    assert "51.20 EUR" in words  # 4 rails and 24 bolts
    assert "The whole build : expected to finish" in words and "h after the due date" in words


def test_build_page_says_which_figure_each_planned_duration_came_from(
    client: FlaskClient, runtime: Any, made: Made
) -> None:
    html = client.get(f"/dashboard/builds/{made.build_id}").get_data(as_text=True)
    with Session(runtime.engine) as session:
        plate = session.exec(select(BuildTask).where(BuildTask.task_id == "fab:bracket:1")).one()
    sources = {"lab-a/prusa-1": "mesh estimate", "lab-b/prusa-2": "declared speed"}  # speeds 1 and 2
    rows = dict(re.findall(r'<tr data-task="([^"]+)"(.*?)</tr>', html, re.S))
    assert f'data-source="{sources[plate.planned_machine or ""]}"' in rows["fab:bracket:1"]
    assert 'data-source="mesh estimate"' in rows["asm:root:1"]  # the bench works at speed 1


def test_build_page_after_work_shows_done_parts_and_actual_bars(
    client: FlaskClient, runtime: Any, made: Made
) -> None:
    finish_job(runtime, made.fab_job)
    html = client.get(f"/dashboard/builds/{made.build_id}").get_data(as_text=True)
    words = text_of(html)
    assert "8 of 8 made" in words
    assert "frame: 0 of 2 assembled; 16 of 16 printed parts made for it" in words
    svg = ET.fromstring(client.get(f"/dashboard/builds/{made.build_id}/gantt.svg").get_data(as_text=True))
    row = next(g for g in svg.iter(f"{SVG}g") if g.get("data-task") == "fab:bracket:1")
    assert [r.get("class") for r in row.iter(f"{SVG}rect")].count("act") == 1  # what really happened


def test_gantt_is_valid_svg_grouped_by_machine_with_a_critical_path(
    client: FlaskClient, runtime: Any, made: Made
) -> None:
    response = client.get(f"/dashboard/builds/{made.build_id}/gantt.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == f"{SVG}svg"
    groups = [g.get("data-task") for g in root.iter(f"{SVG}g")]
    assert "machine:lab-a/bench" in groups
    bench = groups.index("machine:lab-a/bench")
    asm_rows = [t for t in groups if t and t.startswith("asm:")]
    assert groups[bench + 1 : bench + 1 + len(asm_rows)] == asm_rows  # the bench's tasks follow its row
    planned = [r for r in root.iter(f"{SVG}rect") if (r.get("class") or "").startswith("plan")]
    assert len(planned) >= 5 + 2  # every task planned, plus the legend's two samples
    assert any("crit" in (r.get("class") or "") for r in planned[2:])
    labels = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "◆" in labels  # critical tasks are marked by a shape too, not by colour only


def test_gantt_bars_are_in_minutes_from_the_build_start() -> None:
    start = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

    def at(minutes: float) -> str:
        return (start + timedelta(minutes=minutes)).isoformat()

    task = {"task": "fab:a:1", "kind": "fab", "part": "a", "copies": 1, "depends_on": [], "state": "running",
            "machine": "lab/p1", "planned_machine": "lab/p1", "planned_start": at(10), "planned_end": at(70),
            "actual_start": at(20), "actual_end": None}  # fmt: skip
    later = {**task, "task": "asm:b:1", "kind": "assembly", "depends_on": ["fab:a:1"], "machine": None,
             "planned_machine": "lab/bench", "planned_start": at(70), "planned_end": at(100),
             "actual_start": None, "state": "queued"}  # fmt: skip
    report = {"created_at": start.isoformat(), "tasks": [later, task]}
    bars = build_pages.gantt_bars(report, now=start + timedelta(minutes=50))
    assert [b.task_id for b in bars] == ["machine:lab/bench", "asm:b:1", "machine:lab/p1", "fab:a:1"]
    assert bars[3].planned == (10, 70) and bars[3].actual == (20, 50)  # still running: up to now
    assert bars[1].actual is None
    assert bars[1].critical and bars[3].critical


def test_unknown_build_is_404(client: FlaskClient, runtime: Any) -> None:
    assert client.get("/dashboard/builds/nope").status_code == 404
    assert client.get("/dashboard/builds/nope/gantt.svg").status_code == 404


def test_status_fragment_lists_job_states_for_live_updates(
    client: FlaskClient, runtime: Any, made: Made
) -> None:
    html = client.get(f"/dashboard/fragments/builds/{made.build_id}/status").get_data(as_text=True)
    assert html.lstrip().startswith('<div id="build-status"')
    assert f'"{made.fab_job}": "queued"' in html
    finish_job(runtime, made.fab_job)
    html = client.get(f"/dashboard/fragments/builds/{made.build_id}/status").get_data(as_text=True)
    assert f'"{made.fab_job}": "done"' in html and "1 of 5 tasks done" in text_of(html)


def test_event_log_shows_the_builds_job_events_newest_first(
    client: FlaskClient, runtime: Any, made: Made
) -> None:
    finish_job(runtime, made.fab_job)
    html = client.get(f"/dashboard/builds/{made.build_id}").get_data(as_text=True)
    log = html.split("data-live-build-log=", 1)[1]
    ids = [int(n) for n in re.findall(r'data-event-id="(\d+)"', log)]
    assert ids and ids == sorted(ids, reverse=True)
    types = re.findall(r"<code>(job:[a-z_]+)</code>", log)
    assert types[:4] == ["job:done", "job:progress", "job:accepted", "job:offered"]
    assert types.count("job:submitted") == 5  # every job of the build, not only the one that ran
    assert "<code>fab:bracket:1</code>" in log  # each event names its task


# ---- actions and roles -------------------------------------------------------------------------


def signed_in(client: FlaskClient, token_for: Any, role: str, made: Made) -> str:
    page = client.get("/dashboard/sign-in").get_data(as_text=True)
    response = client.post("/dashboard/sign-in", data={"token": token_for(role), "csrf_token": csrf_of(page)})
    assert response.status_code == 302
    return csrf_of(client.get(f"/dashboard/builds/{made.build_id}").get_data(as_text=True))


def purchase_states(runtime: Any, build_id: str) -> dict[str, str]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(PurchaseItem).where(PurchaseItem.build_id == build_id)).all()
        return {r.part_id: r.state for r in rows}


def build_state(runtime: Any, build_id: str) -> str:
    with Session(runtime.engine) as session:
        found = session.get(Build, build_id)
        assert found is not None
        return found.state


@pytest.mark.parametrize("action", ["receive", "cancel"])
def test_anonymous_post_is_forbidden(
    client: FlaskClient, runtime: Any, made: Made, dispatcher: RecordingTransport, action: str
) -> None:
    token = csrf_of(client.get("/dashboard/sign-in").get_data(as_text=True))
    data = {"csrf_token": token, "which": "all", "confirm": "yes"}
    assert client.post(f"/dashboard/builds/{made.build_id}/{action}", data=data).status_code == 403
    assert build_state(runtime, made.build_id) == "active"
    assert set(purchase_states(runtime, made.build_id).values()) == {"to_order"}


def test_anonymous_and_designer_see_no_action_buttons(
    client: FlaskClient, runtime: Any, made: Made, token_for: Any
) -> None:
    html = client.get(f"/dashboard/builds/{made.build_id}").get_data(as_text=True)
    assert "Cancel build" not in html and "Mark all received" not in html
    assert "Sign in</a> as a builder" in html
    token = signed_in(client, token_for, "designer", made)
    html = client.get(f"/dashboard/builds/{made.build_id}").get_data(as_text=True)
    assert "Cancel build" not in html and "Mark all received" not in html
    response = client.post(
        f"/dashboard/builds/{made.build_id}/cancel", data={"csrf_token": token, "confirm": "yes"}
    )
    assert response.status_code == 403 and build_state(runtime, made.build_id) == "active"


def test_operator_may_receive_but_not_cancel(
    client: FlaskClient, runtime: Any, made: Made, token_for: Any
) -> None:
    token = signed_in(client, token_for, "operator", made)
    html = client.get(f"/dashboard/builds/{made.build_id}").get_data(as_text=True)
    assert "Mark all received" in html and "Cancel build" not in html
    response = client.post(
        f"/dashboard/builds/{made.build_id}/cancel", data={"csrf_token": token, "confirm": "yes"}
    )
    assert response.status_code == 403


def test_builder_marks_selected_purchases_received(
    client: FlaskClient, runtime: Any, made: Made, token_for: Any, dispatcher: RecordingTransport
) -> None:
    token = signed_in(client, token_for, "builder", made)
    url = f"/dashboard/builds/{made.build_id}/receive"
    response = client.post(url, data={"csrf_token": token, "which": "selected", "part": ["rail"]})
    assert response.status_code == 302 and response.headers["Location"].endswith(made.build_id)
    assert purchase_states(runtime, made.build_id) == {"rail": "received", "bolt": "to_order"}
    assert dispatcher.wakes == 1  # the bench may now take the frames
    html = client.get(f"/dashboard/builds/{made.build_id}").get_data(as_text=True)
    assert "Recorded 1 purchase line as received." in html
    assert 'value="rail"' not in html and 'value="bolt"' in html  # only open lines can be ticked


def test_receiving_nothing_selected_is_refused_with_a_message(
    client: FlaskClient, runtime: Any, made: Made, token_for: Any
) -> None:
    token = signed_in(client, token_for, "builder", made)
    url = f"/dashboard/builds/{made.build_id}/receive"
    response = client.post(url, data={"csrf_token": token, "which": "selected"}, follow_redirects=True)
    assert "tick the purchase lines that arrived" in text_of(response.get_data(as_text=True))
    assert set(purchase_states(runtime, made.build_id).values()) == {"to_order"}


def test_post_without_form_token_is_refused(
    client: FlaskClient, runtime: Any, made: Made, token_for: Any
) -> None:
    signed_in(client, token_for, "builder", made)
    response = client.post(f"/dashboard/builds/{made.build_id}/receive", data={"which": "all"})
    assert response.status_code == 400
    assert set(purchase_states(runtime, made.build_id).values()) == {"to_order"}


def test_builder_cancels_the_build_and_running_jobs_are_told_to_stop(
    client: FlaskClient, runtime: Any, made: Made, token_for: Any, dispatcher: RecordingTransport
) -> None:
    offer = offer_to(runtime, made.fab_job, "lab-a", "agent-1", "prusa-1")
    BusAgent(runtime, "lab-a", "agent-1").job_event(p.JobAccepted, offer)
    dispatcher.sent.clear()
    token = signed_in(client, token_for, "builder", made)
    url = f"/dashboard/builds/{made.build_id}/cancel"
    refused = client.post(url, data={"csrf_token": token}, follow_redirects=True)
    assert "tick 'Stop every unfinished job" in text_of(refused.get_data(as_text=True))
    assert build_state(runtime, made.build_id) == "active"
    response = client.post(url, data={"csrf_token": token, "confirm": "yes"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Build cancelled" in html and "cancelled by test-builder" in html
    assert build_state(runtime, made.build_id) == "cancelled"
    with Session(runtime.engine) as session:
        assert {j.state for j in session.exec(select(Job))} == {JobState.CANCELLED}
    [(fablab, agent, command)] = [(o.fablab, o.agent, o.command) for o in dispatcher.sent]
    assert (
        (fablab, agent) == ("lab-a", "agent-1")
        and isinstance(command, p.JobControl)
        and command.type == "job:cancel"
    )
    again = client.post(url, data={"csrf_token": token, "confirm": "yes"}, follow_redirects=True)
    assert "has already ended" in again.get_data(as_text=True)
    assert "Cancel build" not in again.get_data(as_text=True)


def test_blocked_build_shows_why(client: FlaskClient, runtime: Any, tmp_path: Path) -> None:
    with session_scope(runtime.engine) as session:
        add_machine(session, "lab-a", "prusa-1", "fdm_print", materials=("petg",))
        add_machine(session, "lab-a", "bench", "assembly")
        designs.publish_path(session, runtime.store, write_package(tmp_path / "pkg"), runtime.settings.limits)
    build_id = runtime.bus.handle(StartBuild("test-machine", "latest", 1, "lab-a", 0, None, BUILDER))
    words = text_of(client.get(f"/dashboard/builds/{build_id}").get_data(as_text=True))
    assert "Blocked" in words and "Why" in words and "material pla not loaded" in words
    assert "not planned yet" in words
