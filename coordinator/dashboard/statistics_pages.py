"""Statistics: success rates, hours, material and estimate accuracy, as tables and bar charts."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from coordinator.dashboard.blueprint import bp, db, page
from coordinator.dashboard.svg_bars import Row, render_bars
from coordinator.fablab import statistics
from protocol.errors import InvalidInput

CHARTS = ("success", "accuracy", "hours", "filament")


def _by() -> str:
    by = request.args.get("by", "machine")
    if by not in statistics.GROUPS:
        raise InvalidInput(f"group by one of {', '.join(statistics.GROUPS)}, got {by!r}")
    return by


@bp.get("/dashboard/statistics")
def statistics_page() -> str:
    by = _by()
    with db() as session:
        summary = statistics.summary(session, by)
        speeds = list(statistics.measured_speed_factors(session).values())
    charts = {name: chart(name, summary["groups"]) for name in CHARTS}
    return page(
        "statistics.html", summary=summary, by=by, groups=statistics.GROUPS, charts=charts, speeds=speeds
    )


@bp.get("/dashboard/statistics/<name>.svg")
def statistics_chart(name: str) -> Response:
    if name not in CHARTS:
        raise InvalidInput(f"no chart {name!r}; charts: {', '.join(CHARTS)}")
    with db() as session:
        summary = statistics.summary(session, _by())
    response = Response(chart(name, summary["groups"]), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-cache"
    return response


def chart(name: str, groups: list[dict[str, Any]]) -> str:
    """One of the statistics charts over the groups (machines, fablabs or designs)."""
    if name == "success":
        rows = [Row(g["key"], g["success_rate"], _rate(g), _tone(g["success_rate"])) for g in groups]
        return render_bars(rows, title="Success rate (done of done and failed runs)", maximum=1.0)
    if name == "accuracy":
        rows = [
            Row(g["key"], g["estimate_ratio"], _ratio(g), _accuracy_tone(g["estimate_ratio"])) for g in groups
        ]
        return render_bars(rows, title="Actual time over estimate (median of done runs; 1 = exact)", mark=1.0)
    if name == "hours":
        rows = [Row(g["key"], g["hours"], f"{g['hours']:.2f} h in {g['runs']} runs") for g in groups]
        return render_bars(rows, title="Machine hours")
    rows = [Row(g["key"], g["filament_g"], f"{g['filament_g']:.0f} g") for g in groups]
    return render_bars(rows, title="Filament used")


def _rate(group: dict[str, Any]) -> str:
    rate = group["success_rate"]
    judged = group["done"] + group["failed"]
    return "no finished run" if rate is None else f"{rate * 100:.0f} % of {judged}"


def _tone(rate: float | None) -> str:
    if rate is None:
        return "info"
    return "ok" if rate >= 0.9 else "warn" if rate >= 0.7 else "bad"


def _ratio(group: dict[str, Any]) -> str:
    ratio = group["estimate_ratio"]
    return "no estimated run" if ratio is None else f"×{ratio:.2f} ({group['estimated_runs']} runs)"


def _accuracy_tone(ratio: float | None) -> str:
    if ratio is None:
        return "info"
    return "ok" if 0.8 <= ratio <= 1.25 else "warn" if 0.5 <= ratio <= 2 else "bad"
