"""The overview page and signing in and out with an API token."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from coordinator.dashboard import access, queries
from coordinator.dashboard.blueprint import bp, db, page
from coordinator.jobs import queries as job_service
from coordinator.services import designs


@bp.get("/dashboard/")
def home() -> str:
    with db() as session:
        design_count = designs.count_designs(session)
        sections = queries.fablab_sections(session)
        job_counts = job_service.count_by_state(session)
    cards = [c for lab in sections for c in lab.cards]
    return page(
        "home.html",
        design_count=design_count,
        fablab_count=len(sections),
        machine_counts=queries.status_counts(cards),
        machine_total=len(cards),
        job_counts=job_counts,
    )


@bp.route("/dashboard/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    target = _local(request.values.get("next", ""))
    if request.method == "GET":
        return page("sign_in.html", next_url=target)
    access.check_csrf()
    person = access.sign_in(request.form.get("token", ""))
    if person is None:
        return page("sign_in.html", next_url=target, failed=True), 401
    flash(f"Signed in as {person.name} ({person.role}).", "ok")
    return redirect(target)


@bp.post("/dashboard/sign-out")
def sign_out() -> ResponseReturnValue:
    access.check_csrf()
    access.sign_out()
    flash("Signed out.", "ok")
    return redirect(url_for("dashboard.home"))


def _local(target: str) -> str:
    """Only dashboard pages are valid places to return to after signing in."""
    if target.startswith("/dashboard/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.machines")
