"""Change windows against blackouts, maintenance windows and service hours, and the
earliest window that fits: pure interval answers."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from cmdb.domain.records import Incident
from cmdb.domain.service import Blackout, ServiceCalendar, TimeRange, Weekday
from cmdb.practice.windows import (
    ServiceWindows,
    earliest_fit,
    free_time,
    intersect,
    subtract,
    violations,
)
from impact.report import service_outages


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)  # December: London is UTC


HOURS = ServiceCalendar(
    timezone="Europe/London",
    weekly={d: [TimeRange(start=time(5), end=time(23))] for d in Weekday},
)
# Maintenance: Tuesday and Sunday nights 01:00-04:00 London.
MAINT = ServiceCalendar(
    timezone="Europe/London",
    weekly={d: [TimeRange(start=time(1), end=time(4))] for d in (Weekday.TUE, Weekday.SUN)},
)
FREEZE = Blackout(start=at(18, 0), end=at(28, 0), reason="Christmas sailings")


def booking(severity: str = "down") -> ServiceWindows:
    return ServiceWindows(
        id="svc-1",
        name="Online Ferry Booking",
        severity=severity,
        service_hours=HOURS,
        maintenance=MAINT,
        blackouts=(FREEZE,),
    )


def test_interval_algebra() -> None:
    base = [(at(1, 0), at(1, 10))]
    assert subtract(base, [(at(1, 2), at(1, 3)), (at(1, 9), at(1, 12))]) == [
        (at(1, 0), at(1, 2)),
        (at(1, 3), at(1, 9)),
    ]
    assert intersect(base, [(at(1, 5), at(1, 12)), (at(1, 0), at(1, 1))]) == [
        (at(1, 0), at(1, 1)),
        (at(1, 5), at(1, 10)),
    ]


def test_a_window_in_a_blackout_outside_maintenance_and_in_hours_is_reported() -> None:
    # Monday 21 December 22:00-23:30: in the freeze, not a maintenance night, and the
    # first hour inside service hours.
    got = violations("RFC-1", (at(21, 22), at(21, 23, 30)), [booking()])
    assert [(v.kind, v.start, v.end) for v in got] == [
        ("blackout", at(21, 22), at(21, 23, 30)),
        ("in_service_hours", at(21, 22), at(21, 23)),
        ("outside_maintenance", at(21, 22), at(21, 23, 30)),
    ]
    assert got[0].detail == "blackout: Christmas sailings"


def test_a_window_inside_maintenance_is_clean_and_at_risk_only_minds_blackouts() -> None:
    assert violations("RFC-1", (at(1, 1), at(1, 3)), [booking()]) == []  # Tuesday 1st
    at_risk = violations("RFC-1", (at(2, 12), at(2, 13)), [booking("at_risk")])
    assert at_risk == []
    frozen = violations("RFC-1", (at(20, 12), at(20, 13)), [booking("at_risk")])
    assert [v.kind for v in frozen] == ["blackout"]


def test_the_earliest_window_skips_hours_blackouts_and_busy_windows() -> None:
    svc = booking()
    # From Wednesday 16 December: the next maintenance nights are Sunday 20th and Tuesday
    # 22nd (frozen), Sunday 27th (frozen), then Tuesday 29 December 01:00.
    free = free_time([svc], [], at(16, 9), at(31, 0))
    assert earliest_fit(free, timedelta(hours=2), not_before=at(16, 9)) == (at(29, 1), at(29, 3))
    # Before the freeze, Sunday 13th: a busy change 01:00-02:30 leaves 02:30-04:00.
    free = free_time([svc], [(at(13, 1), at(13, 2, 30))], at(12, 0), at(31, 0))
    assert earliest_fit(free, timedelta(minutes=90), not_before=at(12, 0)) == (
        at(13, 2, 30),
        at(13, 4),
    )
    assert earliest_fit(free, timedelta(hours=4), not_before=at(12, 0)) is None


def test_earliest_fit_rounds_the_start_up_to_the_minute() -> None:
    free = [(at(1, 0), at(1, 5))]
    start = at(1, 0) + timedelta(seconds=10)
    assert earliest_fit(free, timedelta(hours=1), not_before=start) == (at(1, 0, 1), at(1, 1, 1))


def test_only_outages_spend_the_availability_budget() -> None:
    out = Incident(id="I1", title="x", service_ids=["s"], opened_at=at(1, 9), resolved_at=at(1, 10))
    slow = out.model_copy(update={"id": "I2", "outage": False})
    assert service_outages([out, slow], "s", at(2, 0)) == [(at(1, 9), at(1, 10))]
