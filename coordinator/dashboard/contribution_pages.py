"""Contributions: each fablab's and each person's share of the commons, as bar charts and tables, and the
reciprocity scores the dispatch round can order contended jobs by."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request

from coordinator.dashboard.blueprint import bp, db, page
from coordinator.dashboard.paging import offset_arg
from coordinator.dashboard.svg_bars import Row, render_bars
from coordinator.jobs import reciprocity
from coordinator.ledger import contributions
from coordinator.models.base import utcnow
from coordinator.runtime import runtime
from protocol.errors import InvalidInput

PAGE_SIZE = 25  # builds per page, a table each
STANDINGS = 25  # reciprocity scores shown, highest first (the API pages through all)

# (figure, chart title, how a bar's figure reads) of the fablabs' and the people's charts
FABLAB_CHARTS = (
    ("machine_hours", "Machine hours", "{:.2f} h"),
    ("material_g", "Material used", "{:.0f} g"),
    ("parts_for_others", "Parts made for other fablabs' builds", "{:g} parts"),
)
PERSON_CHARTS = (
    ("work_events", "Work given (interventions, publications, assembly)", "{:g} events"),
    ("work_hours", "Assembly hours", "{:.2f} h"),
    ("versions", "Design versions published or maintained", "{:g} versions"),
)


def _when(name: str) -> datetime | None:
    text = request.args.get(name) or None
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError as exc:
        raise InvalidInput(f"{name}: {text!r} is not an ISO 8601 time") from exc


@bp.get("/dashboard/contributions")
def contributions_page() -> str:
    """Everyone's contributions over the window, with the per-build tables a page at a time."""
    since, until, offset = _when("since"), _when("until"), offset_arg()
    weights = runtime().settings.reciprocity
    with db() as session:
        labs = contributions.contributions(session, "fablab", since=since, until=until)
        people = contributions.contributions(session, "person", since=since, until=until)
        standings = reciprocity.standings(session, utcnow(), weights)
    charts = [
        *charts_of(labs["agents"], FABLAB_CHARTS, "fablab"),
        *charts_of(people["agents"], PERSON_CHARTS, "person"),
    ]
    builds = labs["builds"][offset : offset + PAGE_SIZE]
    return page("contributions.html", labs=labs, people=people, charts=charts, builds=builds,
                more=len(labs["builds"]) > offset + PAGE_SIZE, offset=offset, page_size=PAGE_SIZE,
                since=request.args.get("since", ""), until=request.args.get("until", ""),
                standings=standings[:STANDINGS], parties=len(standings), weights=weights)  # fmt: skip


def charts_of(
    agents: list[dict[str, Any]], figures: tuple[tuple[str, str, str], ...], kind: str
) -> list[tuple[str, str, str]]:
    """(kind, title, SVG bar chart) of each figure some agent gave."""
    charts = []
    for figure, title, text in figures:
        rows = [Row(a["name"], a[figure], text.format(a[figure]), tone="ok") for a in agents if a[figure]]
        if rows:
            charts.append((kind, title, render_bars(rows, title=title)))
    return charts
