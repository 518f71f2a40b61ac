"""Service hours and budgets: midnight, time zones, DST, exceptions, partly spent budgets."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from cmdb.domain.service import (
    SLA,
    AllowedInterruptions,
    CalendarException,
    ServiceCalendar,
    TimeRange,
    Weekday,
)
from impact.sla import (
    budget,
    incident_exposure,
    minutes_in_hours,
    month_of,
    service_intervals,
    wall_to_utc,
    window_exposure,
)


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


def cal(
    zone: str, start: time, end: time, days: list[Weekday] | None = None, **kw
) -> ServiceCalendar:  # type: ignore[no-untyped-def]
    rng = [TimeRange(start=start, end=end)]
    return ServiceCalendar(timezone=zone, weekly={d: rng for d in days or list(Weekday)}, **kw)


OFFICE = cal(
    "UTC", time(9), time(17), [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]
)
EVENING = cal("UTC", time(20), time(0))  # ends at midnight


def test_office_hours_of_a_week_and_a_weekend() -> None:
    # 2026-01-05 is a Monday.
    assert minutes_in_hours(OFFICE, utc(2026, 1, 5), utc(2026, 1, 12)) == 5 * 8 * 60
    assert minutes_in_hours(OFFICE, utc(2026, 1, 10), utc(2026, 1, 12)) == 0
    assert minutes_in_hours(OFFICE, utc(2026, 1, 5, 16, 30), utc(2026, 1, 6, 9, 15)) == 45


def test_range_ending_at_midnight_and_a_window_across_midnight() -> None:
    assert minutes_in_hours(EVENING, utc(2026, 1, 5), utc(2026, 1, 6)) == 240
    # 22:00 -> 02:00: two hours before midnight count, the two after do not.
    assert minutes_in_hours(EVENING, utc(2026, 1, 5, 22), utc(2026, 1, 6, 2)) == 120
    # Hours that cross midnight are two ranges (22-00 and 00-02): one stretch.
    night = ServiceCalendar(
        timezone="UTC",
        weekly={
            Weekday.MON: [TimeRange(start=time(22), end=time(0))],
            Weekday.TUE: [TimeRange(start=time(0), end=time(2))],
        },
    )
    got = list(service_intervals(night, utc(2026, 1, 5), utc(2026, 1, 7)))
    assert got == [(utc(2026, 1, 5, 22), utc(2026, 1, 6, 2))]


def test_time_zones_shift_the_hours() -> None:
    ny = cal("America/New_York", time(9), time(17))
    # 09:00-17:00 in New York in January is 14:00-22:00 UTC.
    assert minutes_in_hours(ny, utc(2026, 1, 5, 12), utc(2026, 1, 5, 15)) == 60
    tokyo = cal("Asia/Tokyo", time(9), time(17))  # 00:00-08:00 UTC
    assert minutes_in_hours(tokyo, utc(2026, 1, 4, 23), utc(2026, 1, 5, 1)) == 60


def test_dst_days_are_23_and_25_hours_long() -> None:
    london = ServiceCalendar.always("Europe/London")
    # Local days: 29 March 2026 (spring forward) and 25 October 2026 (fall back).
    spring = (
        wall_to_utc(datetime(2026, 3, 29), london_tz()),
        wall_to_utc(datetime(2026, 3, 30), london_tz()),
    )
    autumn = (
        wall_to_utc(datetime(2026, 10, 25), london_tz()),
        wall_to_utc(datetime(2026, 10, 26), london_tz()),
    )
    assert minutes_in_hours(london, *spring) == 23 * 60
    assert minutes_in_hours(london, *autumn) == 25 * 60


def london_tz():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/London")


def test_dst_hours_that_do_not_exist_or_happen_twice() -> None:
    early = cal("Europe/London", time(0, 30), time(1, 30), [Weekday.SUN])
    # Spring forward at 01:00 GMT: 01:00-01:30 local never happens.
    assert minutes_in_hours(early, utc(2026, 3, 28), utc(2026, 3, 30)) == 30
    # Fall back at 02:00 BST: 01:00-01:30 local happens twice.
    assert minutes_in_hours(early, utc(2026, 10, 24), utc(2026, 10, 26)) == 90
    # A wall time in the gap maps to the jump itself.
    assert wall_to_utc(datetime(2026, 3, 29, 1, 30), london_tz()) == utc(2026, 3, 29, 1)


def test_exceptions_close_a_day_or_change_its_hours() -> None:
    c = cal(
        "UTC",
        time(9),
        time(17),
        exceptions=[
            CalendarException(day=date(2026, 1, 6), hours=[]),
            CalendarException(
                day=date(2026, 1, 7), hours=[TimeRange(start=time(10), end=time(12))]
            ),
        ],
    )
    assert minutes_in_hours(c, utc(2026, 1, 6), utc(2026, 1, 7)) == 0
    assert minutes_in_hours(c, utc(2026, 1, 7), utc(2026, 1, 8)) == 120


def test_month_follows_the_calendar_zone() -> None:
    london = ServiceCalendar.always("Europe/London")
    # 31 March 23:30 UTC is already 1 April in London (BST).
    start, end = month_of(london, utc(2026, 3, 31, 23, 30))
    assert (start, end) == (utc(2026, 3, 31, 23), utc(2026, 4, 30, 23))


SLA_9999 = SLA(name="gold", availability_target=99.9, service_hours=ServiceCalendar.always())


def test_budget_partly_spent() -> None:
    # January: 31 days = 44,640 minutes; 0.1 % = 44.64 allowed.
    b = budget(SLA_9999, utc(2026, 1, 20), [(utc(2026, 1, 3, 10), utc(2026, 1, 3, 10, 30))])
    assert b.agreed_minutes == 44_640
    assert b.allowed_minutes == pytest.approx(44.64)
    assert b.spent_minutes == 30
    assert b.remaining_minutes == pytest.approx(14.64)
    # Overlapping records count once; outages in other months do not count.
    b2 = budget(
        SLA_9999,
        utc(2026, 1, 20),
        [
            (utc(2026, 1, 3, 10), utc(2026, 1, 3, 10, 30)),
            (utc(2026, 1, 3, 10, 15), utc(2026, 1, 3, 10, 40)),
            (utc(2025, 12, 31, 23), utc(2026, 1, 1, 0, 10)),
        ],
    )
    assert b2.spent_minutes == 50


def test_window_breaches_only_the_budget_left() -> None:
    spent = [(utc(2026, 1, 3, 10), utc(2026, 1, 3, 10, 30))]
    fine = window_exposure(SLA_9999, utc(2026, 1, 20, 2), utc(2026, 1, 20, 2, 10), spent)
    assert not fine.breach and fine.periods[0].remaining_after == pytest.approx(4.64)
    bad = window_exposure(SLA_9999, utc(2026, 1, 20, 2), utc(2026, 1, 20, 2, 20), spent)
    assert bad.breach
    # A degradation spends nothing.
    soft = window_exposure(SLA_9999, utc(2026, 1, 20, 2), utc(2026, 1, 20, 4), spent, counts=False)
    assert not soft.breach and soft.minutes_in_hours == 120


def test_window_across_a_month_end_is_charged_to_each_month() -> None:
    w = window_exposure(SLA_9999, utc(2026, 1, 31, 23, 40), utc(2026, 2, 1, 0, 20))
    assert [p.window_minutes for p in w.periods] == [20, 20]
    assert [p.budget.period_start for p in w.periods] == [utc(2026, 1, 1), utc(2026, 2, 1)]


def test_outside_service_hours_costs_nothing() -> None:
    office = SLA(name="office", availability_target=99.0, service_hours=OFFICE)
    w = window_exposure(office, utc(2026, 1, 5, 20), utc(2026, 1, 6, 6))
    assert w.minutes_in_hours == 0 and not w.breach


def test_allowed_scheduled_interruption_does_not_spend_the_budget() -> None:
    sla = SLA_9999.model_copy(
        update={
            "scheduled_interruptions": AllowedInterruptions(
                per_month=1, max_minutes=60, notice_hours=72
            )
        }
    )
    start = utc(2026, 1, 20, 2)
    ok = window_exposure(
        sla, start, start + timedelta(minutes=60), planned=True, announced=start - timedelta(days=5)
    )
    assert ok.scheduled_interruption and not ok.counts_against_budget and not ok.breach
    late = window_exposure(
        sla,
        start,
        start + timedelta(minutes=60),
        planned=True,
        announced=start - timedelta(hours=1),
    )
    assert not late.scheduled_interruption and late.breach
    long = window_exposure(sla, start, start + timedelta(minutes=90), planned=True)
    assert not long.scheduled_interruption


def test_incident_time_left_walks_through_service_hours() -> None:
    office = SLA(name="office", availability_target=99.0, service_hours=OFFICE)
    # January 2026 has 22 weekdays: 10,560 agreed minutes, 105.6 allowed.
    opened, now = utc(2026, 1, 5, 16), utc(2026, 1, 5, 16, 30)
    x = incident_exposure(office, opened, now)
    assert x.budget.agreed_minutes == 22 * 480
    assert x.minutes_so_far == 30
    assert x.service_minutes_left == pytest.approx(75.6)
    # 30 minutes left today (16:30-17:00), the other 45.6 from 09:00 tomorrow.
    assert x.breach_at == utc(2026, 1, 6, 9, 45, 36)
    assert x.minutes_left == pytest.approx((x.breach_at - now).total_seconds() / 60)
    gone = incident_exposure(office, utc(2026, 1, 5, 9), utc(2026, 1, 5, 12))
    assert gone.breached and gone.breach_at is None


def test_incident_whose_budget_outlasts_the_month() -> None:
    x = incident_exposure(SLA_9999, utc(2026, 1, 31, 23, 50), utc(2026, 1, 31, 23, 55))
    assert not x.breached and x.breach_at is None and x.service_minutes_left > 0
