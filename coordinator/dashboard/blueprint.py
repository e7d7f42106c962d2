"""The dashboard blueprint, its error pages and the helpers every page shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import Session
from werkzeug.exceptions import HTTPException

from coordinator.db import session_scope
from coordinator.jobs.lifecycle import allowed_controls
from coordinator.runtime import runtime
from protocol.errors import PeerfabError

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)


# Pages anyone may open even when reads are private: signing in needs its form and its styles.
_OPEN_ENDPOINTS = frozenset({"dashboard.sign_in", "dashboard.static"})


# An app-wide hook (APIFlask's spec builder expects only its own blueprints to have request hooks).
@bp.before_app_request
def _private_reads() -> ResponseReturnValue | None:
    """With `auth.public_reads = false` only signed-in people see the dashboard."""
    from coordinator.dashboard import access

    if request.blueprint != bp.name or runtime().settings.auth.public_reads:
        return None
    if request.endpoint in _OPEN_ENDPOINTS:
        return None
    if access.current_person() is None:
        return redirect(url_for("dashboard.sign_in", next=request.full_path))
    return None


@contextmanager
def db() -> Iterator[Session]:
    """A session on the coordinator's database for one page."""
    with session_scope(runtime().engine) as session:
        yield session


@bp.errorhandler(PeerfabError)
def _domain_error(exc: PeerfabError) -> tuple[str, int]:
    return render_template("error.html", status=exc.status, message=exc.message), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    return render_template("error.html", status=code, message=exc.description or exc.name), code


def page(template: str, **context: Any) -> str:
    """Render a dashboard page."""
    return render_template(template, **context)


NAV_LINKS = [
    ("dashboard.designs_index", "Designs", "/dashboard/designs"),
    ("dashboard.machines", "Machines", "/dashboard/machines"),
    ("dashboard.jobs", "Jobs", "/dashboard/jobs"),
    ("dashboard.spools_page", "Spools", "/dashboard/spools"),
    ("dashboard.maintenance", "Maintenance", "/dashboard/maintenance"),
    ("dashboard.statistics_page", "Statistics", "/dashboard/statistics"),
    ("dashboard.contributions_page", "Contributions", "/dashboard/contributions"),
    ("dashboard.notifications", "Notify me", "/dashboard/notifications"),
]


@bp.context_processor
def _page_context() -> dict[str, Any]:
    from coordinator.dashboard import access, present

    links = list(NAV_LINKS)
    if "dashboard.builds" in _endpoints():
        links.append(("dashboard.builds", "Builds", "/dashboard/builds"))
    return {
        "nav_links": links,
        "person": access.current_person(),
        "csrf_token": access.csrf_token,
        "percent": present.percent,
        "duration": present.duration,
        "ago": present.ago,
        "iso": present.iso,
        "quantity": present.quantity,
        "money": present.money,
        "children_changes": present.children_changes,
        "job_badge": present.job_badge,
        "machine_badge": present.machine_badge,
        "held_badge": present.HELD_BADGE,
        "low_badge": present.LOW_BADGE,
        "job_controls": allowed_controls,
        "live_after": _latest_event_id,
    }


def _latest_event_id() -> int:
    from coordinator.dashboard.live import latest_event_id

    with db() as session:
        return latest_event_id(session)


def _endpoints() -> set[str]:
    from flask import current_app

    return set(current_app.view_functions)
