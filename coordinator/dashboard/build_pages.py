"""Builds: the list with progress, one build with its plan against what happened, and builder actions."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import Session

from coordinator.bom import graph
from coordinator.dashboard import access, queries
from coordinator.dashboard.actions import carry_out
from coordinator.dashboard.blueprint import bp, db, page
from coordinator.dashboard.contribution_pages import charts_of
from coordinator.dashboard.paging import offset_arg
from coordinator.dashboard.present import Badge, iso
from coordinator.dashboard.svg_gantt import Bar, critical_tasks, render_gantt_svg
from coordinator.jobs.commands import CancelBuild, OrderPurchases, ReceivePurchases, RetryTask
from coordinator.jobs.lifecycle import ACTIVE_STATES
from coordinator.ledger import contributions, provenance
from coordinator.models.base import utcnow
from coordinator.models.builds import Build
from coordinator.services import builds, designs, planner

PAGE_SIZE = 50
LOG_LIMIT = 50
BUILDER_ROLES = frozenset({"builder", "admin"})
# parts arrive at a fablab, so its operators may record them too (as the API allows)
RECEIVER_ROLES = frozenset({"builder", "operator", "admin"})  # who may try; the build's rules decide
ENDED = frozenset({"done", "failed", "cancelled"})

BUILD_BADGES: dict[str, Badge] = {
    "active": Badge("Active", "busy", "play"),
    "blocked": Badge("Blocked", "warn", "error"),
    "done": Badge("Done", "ok", "check"),
    "failed": Badge("Failed", "bad", "error"),
    "cancelled": Badge("Cancelled", "off", "cancel"),
}
PURCHASE_BADGES: dict[str, Badge] = {
    "to_order": Badge("To order", "warn", "clock"),
    "ordered": Badge("Ordered", "busy", "send"),
    "received": Badge("Received", "ok", "check"),
}
PART_BADGES: dict[str, Badge] = {
    "done": Badge("Done", "ok", "check"),
    "started": Badge("In progress", "busy", "play"),
    "waiting": Badge("Not started", "off", "clock"),
}
LATE_BADGE = Badge("Late", "bad", "error")
WAITING_BADGE = Badge("Waiting for purchases", "warn", "clock")
ON_TIME_BADGE = Badge("On time", "ok", "check")


def build_badge(state: str) -> Badge:
    return BUILD_BADGES.get(state, Badge(state.replace("_", " ").capitalize(), "off", "clock"))


def purchase_badge(state: str) -> Badge:
    return PURCHASE_BADGES.get(state, Badge(state.replace("_", " ").capitalize(), "off", "clock"))


# ---- reading a build report --------------------------------------------------------------------


def moment(text: str | None) -> datetime | None:
    """A report timestamp as an aware UTC datetime (SQLite hands back naive ones)."""
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(text: str | None) -> str:
    """A report timestamp for people: 2026-05-04 13:20 UTC."""
    found = moment(text)
    return found.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if found else ""


def when_span(start: str | None, end: str | None) -> str:
    """Two report timestamps as one short range; the day is written once when both share it."""
    begin, finish = moment(start), moment(end)
    if begin is None:
        return ""
    if finish is None:
        return f"{when(start)} → now"
    if begin.date() == finish.date():
        return f"{begin:%Y-%m-%d %H:%M}–{finish:%H:%M} UTC"
    return f"{when(start)} → {when(end)}"


def minutes_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def task_machine(task: dict[str, Any]) -> str:
    """Where a task runs: the machine that took its job, else the one the plan chose."""
    return str(task["machine"] or task["planned_machine"] or "")


def task_label(task: dict[str, Any]) -> str:
    copies = f" ({task['copies']}×)" if task["kind"] == "fab" and task["copies"] > 1 else ""
    return f"{task['task']}{copies}"


def gantt_bars(report: dict[str, Any], now: datetime) -> list[Bar]:
    """One row per task, grouped under a row per machine, in minutes from the build's start."""
    origin = moment(report["created_at"]) or now
    planned = {t["task"]: _span(t["planned_start"], t["planned_end"], origin, now) for t in report["tasks"]}
    critical = _critical({k: v for k, v in planned.items() if v}, report["tasks"])
    ordered = sorted(report["tasks"], key=_row_order)
    bars = []
    for machine, tasks in groupby(ordered, key=task_machine):
        bars.append(Bar(f"machine:{machine}", f"▾ {machine or 'not planned yet'}"))
        for task in tasks:
            actual = _span(task["actual_start"], task["actual_end"], origin, now, open_ended=True)
            bars.append(Bar(task["task"], task_label(task), planned[task["task"]], actual,
                            task["task"] in critical))  # fmt: skip
    return bars


def _row_order(task: dict[str, Any]) -> tuple[str, str, str]:
    # unplanned tasks last, each machine's tasks in planned order
    return (task_machine(task) or "~", task["planned_start"] or "", task["task"])


def _span(
    start: str | None, end: str | None, origin: datetime, now: datetime, *, open_ended: bool = False
) -> tuple[float, float] | None:
    begin, finish = moment(start), moment(end)
    if begin is None or (finish is None and not open_ended):
        return None
    return minutes_between(origin, begin), minutes_between(origin, finish or now)


def _critical(spans: dict[str, tuple[float, float]], tasks: list[dict[str, Any]]) -> set[str]:
    durations = {k: end - start for k, (start, end) in spans.items()}
    starts = {k: start for k, (start, _) in spans.items()}
    return critical_tasks(durations, starts, {t["task"]: t["depends_on"] for t in tasks})


def gantt_svg(report: dict[str, Any], now: datetime | None = None) -> str:
    """The build's plan against what happened, as a standalone SVG."""
    now = now or utcnow()
    origin = moment(report["created_at"]) or now
    live = report["state"] not in ENDED
    return render_gantt_svg(gantt_bars(report, now), now_min=minutes_between(origin, now) if live else None)


def fablab_breakdown(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tasks per fablab: done, running, planned (waiting) and stopped (failed or cancelled)."""
    counts: dict[str, dict[str, int]] = {}
    for task in tasks:
        lab = task_machine(task).split("/")[0]
        row = counts.setdefault(lab, {"done": 0, "running": 0, "planned": 0, "stopped": 0})
        row[_bucket(task["state"])] += 1
    return [{"fablab": lab, **row} for lab, row in sorted(counts.items(), key=lambda kv: (not kv[0], kv[0]))]


def _bucket(state: str | None) -> str:
    if state == "done":
        return "done"
    if state in ACTIVE_STATES:
        return "running"
    return "stopped" if state in {"failed", "cancelled"} else "planned"


def part_status(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """For each part id of the BOM: what the build has made or bought of it, with a badge."""
    status: dict[str, dict[str, Any]] = {}
    for group in report["assemblies"]:
        text = f"{group['done']} of {group['total']} assembled"
        if group["parts_total"]:
            text += f" · {group['parts_done']} of {group['parts_total']} printed parts made for it"
        status[group["assembly"]] = _status(group["done"], group["total"], text)
    fab: dict[str, list[int]] = {}
    for task in report["tasks"]:
        if task["kind"] == "fab":
            made = fab.setdefault(task["part"], [0, 0])
            made[0] += task["copies"] if task["state"] == "done" else 0
            made[1] += task["copies"]
    for part_id, (done, total) in fab.items():
        status[part_id] = _status(done, total, f"{done} of {total} made")
    for line in report["purchases"]["lines"]:
        text = f"{line['quantity']:g} {line['unit']} to buy"
        status[line["part"]] = {"badge": purchase_badge(line["state"]), "text": text, "fraction": None}
    return status


def _status(done: int, total: int, text: str) -> dict[str, Any]:
    key = "done" if total and done >= total else "started" if done else "waiting"
    return {"badge": PART_BADGES[key], "text": text, "fraction": done / total if total else None}


def job_states(report: dict[str, Any]) -> dict[str, str]:
    return {t["job"]: t["state"] or "" for t in report["tasks"] if t["job"]}


def is_late(report: dict[str, Any]) -> bool:
    return bool(report["late"]) and report["state"] not in ENDED


def plan_summary(session: Session) -> dict[str, Any] | None:
    plan = planner.latest_plan(session)
    if plan is None:
        return None
    at = plan.created_at if plan.created_at.tzinfo else plan.created_at.replace(tzinfo=UTC)
    return {"at": at, "policy": plan.policy, "status": plan.status, "makespan_min": plan.makespan_min,
            "lower_bound_min": plan.lower_bound_min, "gap": plan.gap, "reason": plan.reason}  # fmt: skip


# ---- pages ---------------------------------------------------------------------------------------


@bp.get("/dashboard/builds", endpoint="builds")
def builds_index() -> str:
    offset = offset_arg()
    with db() as session:
        found = builds.list_builds(
            session, limit=PAGE_SIZE + 1, offset=offset
        )  # one more: is there a next page
        reports = [builds.build_report(session, b) for b in found[:PAGE_SIZE]]
    more = len(found) > PAGE_SIZE
    return _page("builds.html", reports=reports, more=more, offset=offset, page_size=PAGE_SIZE)


def _build_context(session: Session, build: Build) -> dict[str, Any]:
    report = builds.build_report(session, build)
    release = designs.get_version(session, build.design, build.design_version)
    return {
        "report": report,
        "badge": build_badge(report["state"]),
        "late": is_late(report),
        "plan": plan_summary(session),
        "tree": graph.tree(designs.load_bom(session, release)),
        "status": part_status(report),
        "fablabs": fablab_breakdown(report["tasks"]),
        "job_states": job_states(report),
        "owns": _owns(build),
    }


def _owns(build: Build) -> bool:
    """Whether the signed-in person may act on the build as its builder (or is an admin)."""
    person = access.current_person()
    if person is None:
        return False
    return person.role == "admin" or (person.role == "builder" and person.name == build.started_by)


# the charts of who gave what to a build: (figure, title, how a bar's figure reads)
FABLAB_CHARTS = (
    ("parts", "Parts made, by fablab", "{:g} made"),
    ("machine_hours", "Machine hours, by fablab", "{:.2f} h"),
    ("material_g", "Filament used, by fablab", "{:.0f} g"),
)
ASSEMBLY_CHART = (("work_hours", "Assembly hours, by who gave them", "{:.2f} h"),)


def contribution_charts(session: Session, build_id: str) -> list[tuple[str, str]]:
    """(title, SVG bar chart) of who contributed what to a build, from its ledger; none without figures."""
    labs = contributions.contributions(session, "fablab", build=build_id)["agents"]
    people = contributions.contributions(session, "person", build=build_id)["agents"]
    workers = sorted([*labs, *people], key=lambda a: (-a["work_hours"], a["name"]))
    charts = [*charts_of(labs, FABLAB_CHARTS, "fablab"), *charts_of(workers, ASSEMBLY_CHART, "work")]
    return [(title, svg) for _kind, title, svg in charts]


def _page(template: str, **context: Any) -> str:
    return page(template, **context, **_helpers())


def _helpers() -> dict[str, Any]:
    return {
        "when": when,
        "when_span": when_span,
        "stamp": lambda text: iso(moment(text)),
        "build_badge": build_badge,
        "purchase_badge": purchase_badge,
        "is_late": is_late,
        "late_badge": LATE_BADGE,
        "waiting_badge": WAITING_BADGE,
        "on_time_badge": ON_TIME_BADGE,
    }


@bp.get("/dashboard/builds/<build_id>")
def build(build_id: str) -> str:
    with db() as session:
        record = builds.get_build(session, build_id)
        context = _build_context(session, record)
        jobs = queries.build_jobs(session, build_id)
        events = queries.job_events(session, list(jobs), LOG_LIMIT)
        origin = provenance.provenance(session, build_id)
        charts = contribution_charts(session, build_id)
    return _page(
        "build.html",
        **context,
        svg=gantt_svg(context["report"]),
        jobs=jobs,
        events=events,
        can_receive=context["owns"] or _may(frozenset({"operator"})),
        can_cancel=context["owns"],
        log_limit=LOG_LIMIT,
        provenance=origin,
        contribution_charts=charts,
    )


@bp.get("/dashboard/fragments/builds/<build_id>/status")
def build_status(build_id: str) -> str:
    """The build's state, progress, BOM tree and tasks, swapped in when one of its jobs changes state."""
    with db() as session:
        context = _build_context(session, builds.get_build(session, build_id))
    return _page("build_status.html", **context)


@bp.get("/dashboard/builds/<build_id>/gantt.svg")
def build_gantt(build_id: str) -> Response:
    with db() as session:
        report = builds.build_report(session, builds.get_build(session, build_id))
    response = Response(gantt_svg(report), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-cache"
    return response


# ---- builder actions -----------------------------------------------------------------------------


def _may(roles: frozenset[str]) -> bool:
    person = access.current_person()
    return person is not None and person.role in roles


def _require(roles: frozenset[str], who: str) -> access.Person:
    """The signed-in person allowed to act; 403 for anyone else, then the CSRF check."""
    person = access.current_person()
    if person is None or person.role not in roles:
        abort(403, f"Only a signed-in {who} can do this.")
    access.check_csrf()
    return person


@bp.post("/dashboard/builds/<build_id>/receive")
def receive_purchases(build_id: str) -> ResponseReturnValue:
    person = _require(RECEIVER_ROLES, "builder, operator or admin")
    target = url_for("dashboard.build", build_id=build_id)
    if request.form.get("which") == "all":
        parts: tuple[str, ...] | None = None
    elif not (parts := tuple(request.form.getlist("part"))):
        flash("tick the purchase lines that arrived, or choose 'Mark all received'", "error")
        return redirect(target)
    command = ReceivePurchases(build_id, parts, person.actor)
    return carry_out(command, lambda n: f"Recorded {n} purchase line{'' if n == 1 else 's'} as received.",
                     target)  # fmt: skip


@bp.post("/dashboard/builds/<build_id>/order")
def order_purchases(build_id: str) -> ResponseReturnValue:
    person = _require(RECEIVER_ROLES, "builder, operator or admin")
    target = url_for("dashboard.build", build_id=build_id)
    if request.form.get("which") == "all":
        parts: tuple[str, ...] | None = None
    elif not (parts := tuple(request.form.getlist("part"))):
        flash("tick the purchase lines you ordered, or choose 'Mark all ordered'", "error")
        return redirect(target)
    command = OrderPurchases(build_id, parts, person.actor)
    return carry_out(command, lambda n: f"Recorded {n} purchase line{'' if n == 1 else 's'} as ordered.",
                     target)  # fmt: skip


@bp.post("/dashboard/builds/<build_id>/cancel")
def cancel_build(build_id: str) -> ResponseReturnValue:
    person = _require(BUILDER_ROLES, "builder or admin")
    target = url_for("dashboard.build", build_id=build_id)
    if request.form.get("confirm") != "yes":
        flash("tick 'Stop every unfinished job of this build' to cancel it", "error")
        return redirect(target)
    command = CancelBuild(build_id, person.actor)
    return carry_out(command, lambda _: "Build cancelled; its unfinished jobs were cancelled too.", target)


@bp.post("/dashboard/builds/<build_id>/tasks/<task_id>/retry")
def retry_task(build_id: str, task_id: str) -> ResponseReturnValue:
    person = _require(BUILDER_ROLES, "builder or admin")
    target = url_for("dashboard.build", build_id=build_id)
    command = RetryTask(build_id, task_id, person.actor)
    return carry_out(command, lambda _: f"Part {task_id} queued to be made again.", target)
