"""Opening hours as start calendars, and transport times between fablabs, in plan minutes.

Plan time is whole minutes after an origin instant (when the plan was made).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from coordinator.scheduling.model import Calendar
from protocol.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPAN_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
HORIZON_DAYS = 60
# Parts travel by courier or a volunteer's car: a fixed handling time (packing, hand-over) plus the
# road distance, taken as 1.3 x the great-circle distance, at 50 km/h average door to door.
HANDLING_MIN = 120
ROAD_FACTOR = 1.3
ROAD_SPEED_KMH = 50.0
EARTH_RADIUS_KM = 6371.0


def parse_opening_hours(hours: Mapping[str, Sequence[str]]) -> dict[int, list[tuple[int, int]]]:
    """{"mon": ["09:00-18:00"], ...} -> {0: [(540, 1080)], ...}; unknown days or spans are errors."""
    result: dict[int, list[tuple[int, int]]] = {}
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            raise InvalidInput(f"opening_hours: unknown day {day!r}; use {', '.join(WEEKDAYS)}")
        result[WEEKDAYS.index(day)] = sorted(_parse_span(day, span) for span in spans)
    return result


def _parse_span(day: str, span: str) -> tuple[int, int]:
    match = SPAN_RE.match(span.strip())
    if not match:
        raise InvalidInput(f"opening_hours.{day}: {span!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(x) for x in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < end <= 24 * 60) or m1 > 59 or m2 > 59:
        raise InvalidInput(f"opening_hours.{day}: {span!r} is not a span within one day")
    return start, end


def start_calendar(
    hours: Mapping[str, Sequence[str]], origin: datetime, utc_offset_min: int = 0, days: int = HORIZON_DAYS
) -> Calendar | None:
    """Start windows in plan minutes for the next `days`; None when the fablab is always staffed."""
    weekly = parse_opening_hours(hours)
    if not weekly:
        return None
    local_origin = origin.astimezone(UTC) + timedelta(minutes=utc_offset_min)
    midnight = local_origin.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (midnight - local_origin).total_seconds() / 60.0  # minutes from origin to local midnight
    windows: list[tuple[int, int]] = []
    for day in range(days + 1):
        weekday = (midnight.weekday() + day) % 7
        for start, end in weekly.get(weekday, []):
            a = math.ceil(offset + day * 1440 + start)
            b = math.floor(offset + day * 1440 + end)
            if b > 0 and b > a:
                windows.append((max(0, a), b))
    return tuple(windows)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def transport_minutes(a: tuple[float, float] | None, b: tuple[float, float] | None) -> int:
    """Door-to-door minutes for parts between two fablabs; handling only when a place is unknown."""
    if a is None or b is None:
        return HANDLING_MIN
    road_km = distance_km(a, b) * ROAD_FACTOR
    return HANDLING_MIN + math.ceil(road_km / ROAD_SPEED_KMH * 60)


def transport_table(
    places: Mapping[str, tuple[float, float] | None], sites: Sequence[str]
) -> dict[tuple[str, str], int]:
    """Minutes from every fablab to every build site."""
    return {
        (source, site): transport_minutes(places.get(source), places.get(site))
        for source in places
        for site in sites
        if source != site
    }
