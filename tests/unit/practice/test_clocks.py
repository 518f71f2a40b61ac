"""Incident priority through the matrix, and SLA clocks counted in service hours: across
midnight, days the service is closed, time zones and a DST change."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from cmdb.domain.records import Incident, Level
from cmdb.domain.service import (
    SLA,
    CalendarException,
    Priority,
    ServiceCalendar,
    TimeRange,
    Weekday,
)
from cmdb.practice.clocks import due_at, prioritise, service_clock, target_clock
from cmdb.practice.policy import default_policy

H, M, L = Level.HIGH, Level.MEDIUM, Level.LOW


def daily(start: time, end: time, zone: str, **kw: object) -> ServiceCalendar:
    r = [TimeRange(start=start, end=end)]
    return ServiceCalendar.model_validate(
        {"timezone": zone, "weekly": {d: r for d in Weekday}, **kw}
    )


LONDON = daily(time(5), time(23), "Europe/London")
SLA_LONDON = SLA(
    name="Booking SLA",
    service_hours=LONDON,
    availability_target=99.9,
    response_minutes={Priority.P1: 15, Priority.P2: 30},
    resolution_minutes={Priority.P1: 240, Priority.P2: 480},
)


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [
        (H, H, "P1"), (H, M, "P2"), (H, L, "P3"),
        (M, H, "P2"), (M, M, "P3"), (M, L, "P4"),
        (L, H, "P3"), (L, M, "P4"), (L, L, "P4"),
    ],
)  # fmt: skip
def test_the_default_priority_matrix(impact: Level, urgency: Level, priority: str) -> None:
    inc = Incident(id="INC-1", title="x", opened_at=datetime(2026, 1, 1, tzinfo=UTC))
    got = prioritise(inc, default_policy(), impact, urgency)
    assert got.priority.value == priority and got.major == (priority == "P1")
    assert (got.impact, got.urgency) == (impact, urgency)


def test_a_clock_stands_still_outside_service_hours_across_midnight() -> None:
    # 22:50 London (GMT in January) with a 30-minute P2 response: 10 minutes tonight,
    # 20 more from 05:00 tomorrow.
    opened = datetime(2026, 1, 14, 22, 50, tzinfo=UTC)
    assert due_at(LONDON, opened, 30) == datetime(2026, 1, 15, 5, 20, tzinfo=UTC)
    at_2am = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    c = target_clock(SLA_LONDON, "response", Priority.P2, opened, at_2am, None)
    assert (c.elapsed_minutes, c.remaining_minutes, c.breached) == (10.0, 20.0, False)
    assert c.running and not c.in_service_hours_now
    later = target_clock(
        SLA_LONDON, "response", Priority.P2, opened, datetime(2026, 1, 15, 5, 25, tzinfo=UTC), None
    )
    assert (later.elapsed_minutes, later.remaining_minutes, later.breached) == (35.0, -5.0, True)


def test_british_summer_time_shifts_the_hours_an_hour_earlier_in_utc() -> None:
    # 22:50 BST is 21:50 UTC; the morning's 05:00 BST is 04:00 UTC.
    opened = datetime(2026, 7, 14, 21, 50, tzinfo=UTC)
    assert due_at(LONDON, opened, 30) == datetime(2026, 7, 15, 4, 20, tzinfo=UTC)


def test_the_clock_counts_across_the_spring_forward_night() -> None:
    # 24x7 in London: the night of 29 March 2026 has 23 hours; a 240-minute target from
    # 00:30 GMT is due at 04:30 UTC either way (UTC minutes are real minutes).
    cal = ServiceCalendar.always("Europe/London")
    assert due_at(cal, datetime(2026, 3, 29, 0, 30, tzinfo=UTC), 240) == datetime(
        2026, 3, 29, 4, 30, tzinfo=UTC
    )
    # 05:00-23:00 local: on 29 March the hours are BST, so 05:00 local = 04:00 UTC.
    assert due_at(LONDON, datetime(2026, 3, 28, 22, 55, tzinfo=UTC), 15) == datetime(
        2026, 3, 29, 4, 10, tzinfo=UTC
    )


def test_another_zone_and_a_closed_holiday() -> None:
    # New York office hours 09:00-17:00 with Christmas Day closed: a P1 (15 min) opened
    # at 16:55 EST on 24 December is due 10 minutes into 26 December's hours.
    ny = daily(
        time(9),
        time(17),
        "America/New_York",
        exceptions=[CalendarException(day=datetime(2026, 12, 25).date(), hours=[])],
    )
    opened = datetime(2026, 12, 24, 21, 55, tzinfo=UTC)  # 16:55 EST
    assert due_at(ny, opened, 15) == datetime(2026, 12, 26, 14, 10, tzinfo=UTC)  # 09:10 EST


def test_a_response_stops_its_clock_and_resolution_stops_both() -> None:
    opened = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)
    inc = Incident(
        id="INC-2",
        title="x",
        priority=Priority.P1,
        opened_at=opened,
        responded_at=opened + timedelta(minutes=12),
    )
    now = opened + timedelta(hours=5)
    c = service_clock("svc", "Booking", SLA_LONDON, inc, now)
    assert (c.response.elapsed_minutes, c.response.breached, c.response.running) == (
        12.0,
        False,
        False,
    )
    assert c.resolution.elapsed_minutes == 300.0 and c.resolution.breached
    assert c.resolution.due_at == opened + timedelta(minutes=240)
    resolved = inc.model_copy(update={"resolved_at": opened + timedelta(minutes=200)})
    r = service_clock("svc", "Booking", SLA_LONDON, resolved, now).resolution
    assert (r.elapsed_minutes, r.remaining_minutes, r.breached, r.running) == (
        200.0,
        40.0,
        False,
        False,
    )


def test_a_priority_without_a_target_has_no_clock_to_breach() -> None:
    c = target_clock(
        SLA_LONDON,
        "resolution",
        Priority.P4,
        datetime(2026, 1, 14, tzinfo=UTC),
        datetime(2026, 2, 14, tzinfo=UTC),
        None,
    )
    assert c.target_minutes is None and c.due_at is None and not c.breached
