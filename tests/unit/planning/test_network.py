from __future__ import annotations

from datetime import UTC, datetime

import pytest

from coordinator.planning.network import (
    HANDLING_MIN,
    distance_km,
    parse_opening_hours,
    start_calendar,
    transport_minutes,
)
from protocol.errors import InvalidInput

MONDAY_8AM = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_calendar_windows_are_relative_to_the_origin() -> None:
    calendar = start_calendar({"mon": ["09:00-18:00"], "tue": ["09:00-12:00"]}, MONDAY_8AM, days=7)
    assert calendar is not None
    assert calendar[:2] == ((60, 600), (60 + 1440, 60 + 1440 + 180))


def test_calendar_starting_mid_window_and_with_an_offset() -> None:
    noon = MONDAY_8AM.replace(hour=12)
    calendar = start_calendar({"mon": ["09:00-18:00"]}, noon, days=0)
    assert calendar == ((0, 360),)
    # the fablab is at UTC+2: 12:00 UTC is 14:00 local, four hours before closing
    assert start_calendar({"mon": ["09:00-18:00"]}, noon, utc_offset_min=120, days=0) == ((0, 240),)


def test_always_staffed_has_no_calendar() -> None:
    assert start_calendar({}, MONDAY_8AM) is None


def test_bad_opening_hours_are_named() -> None:
    with pytest.raises(InvalidInput, match="unknown day 'monday'"):
        parse_opening_hours({"monday": ["09:00-18:00"]})
    with pytest.raises(InvalidInput, match=r"opening_hours\.mon: '18:00-09:00'"):
        parse_opening_hours({"mon": ["18:00-09:00"]})


def test_transport_between_cities() -> None:
    berlin, leipzig = (52.52, 13.405), (51.34, 12.375)
    assert 145 < distance_km(berlin, leipzig) < 155
    minutes = transport_minutes(berlin, leipzig)
    assert HANDLING_MIN + 225 < minutes < HANDLING_MIN + 245  # ~195 km of road at 50 km/h
    assert transport_minutes(None, leipzig) == HANDLING_MIN
