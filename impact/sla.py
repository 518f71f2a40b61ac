"""SLA exposure: service-hour minutes of a window, the period's budget, time to breach.

**Service hours.** A calendar is weekly time ranges in a time zone plus dated exceptions
(an exception replaces that day's weekly ranges; no ranges = closed). A range ending at
00:00 runs to midnight. Minutes are counted on the wall clock of the calendar's zone: the
window is cut wherever the zone's UTC offset changes, each piece is mapped to local time
with its own fixed offset and intersected with the day's ranges. So a spring-forward night
has one hour less of "00:00-00:00" and an autumn night one hour more, and a wall time that
does not exist (01:30 on the spring-forward night in London) is simply never reached.

**Budget.** The period is the calendar month (in the calendar's zone) that holds the
instant asked about. ``agreed`` = service-hour minutes in that month; ``allowed`` =
``(1 - target/100) * agreed``; ``spent`` = service-hour minutes of recorded outages in the
month (their union, so overlapping records count once); ``remaining = allowed - spent``.

**A planned window** breaches when its service-hour minutes in a month exceed that month's
remaining budget (a window across a month end is charged to each month for its part). A
planned outage that fits the SLA's *allowed scheduled interruptions* (at most
``max_minutes`` of service hours, announced ``notice_hours`` ahead, the SLA allowing at
least one a month) is agreed downtime: it is reported but does not spend the budget. How
many of the month's allowed interruptions were already used is not known here.
**An ongoing incident** counts as spent from its start to now; the breach instant is found
by walking forward through service hours until the remaining budget is used up, and is
``None`` when the month ends first (a new budget starts).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from cmdb.domain.service import SLA, ServiceCalendar, TimeRange, Weekday

Interval = tuple[datetime, datetime]

_WEEKDAYS = list(Weekday)  # date.weekday(): 0 is Monday, as is Weekday's first member
_PROBE = timedelta(hours=6)  # offset changes are found by probing this often, then bisection


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


# -- the zone's offset pieces ------------------------------------------------------------


def _offset(tz: tzinfo, at: datetime) -> timedelta:
    off = at.astimezone(tz).utcoffset()
    return off if off is not None else timedelta(0)


def _pieces(
    tz: tzinfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, timedelta]]:
    """[start, end) cut where the zone's UTC offset changes: (from, to, offset) in UTC."""
    out: list[tuple[datetime, datetime, timedelta]] = []
    a = start
    off = _offset(tz, a)
    probe = a
    while probe < end:
        nxt = min(probe + _PROBE, end)
        if _offset(tz, nxt) != off:
            # An offset change lies in (probe, nxt]: find its first second by bisection.
            lo, hi = probe, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid <= lo:
                    break
                if _offset(tz, mid) == off:
                    lo = mid
                else:
                    hi = mid
            out.append((a, hi, off))
            a, off = hi, _offset(tz, hi)
        probe = nxt
    if a < end:
        out.append((a, end, off))
    return out


# -- the calendar's ranges per local day ---------------------------------------------------


def _day_ranges(cal: ServiceCalendar, day: date) -> list[tuple[datetime, datetime]]:
    """The day's service hours as naive local datetimes, merged, in order."""
    exc = [e for e in cal.exceptions if e.day == day]
    ranges: list[TimeRange] = (
        [r for e in exc for r in e.hours] if exc else cal.weekly.get(_WEEKDAYS[day.weekday()], [])
    )
    spans = sorted(
        (
            datetime.combine(day, r.start),
            datetime.combine(day + timedelta(days=1), time(0))
            if r.end == time(0)
            else datetime.combine(day, r.end),
        )
        for r in ranges
    )
    merged: list[tuple[datetime, datetime]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def service_intervals(cal: ServiceCalendar, start: datetime, end: datetime) -> Iterator[Interval]:
    """The parts of [start, end) inside service hours, as UTC intervals in order."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return
    tz = _zone(cal.timezone)
    pending: Interval | None = None
    for a, b, off in _pieces(tz, start, end):
        la = (a + off).replace(tzinfo=None)
        lb = (b + off).replace(tzinfo=None)
        day = la.date()
        while datetime.combine(day, time(0)) < lb:
            for rs, re in _day_ranges(cal, day):
                s, e = max(rs, la), min(re, lb)
                if s >= e:
                    continue
                us = (s - off).replace(tzinfo=UTC)
                ue = (e - off).replace(tzinfo=UTC)
                # Pieces and midnight-ending ranges split one stretch of hours: rejoin them.
                if pending is not None and us <= pending[1]:
                    pending = (pending[0], max(pending[1], ue))
                    continue
                if pending is not None:
                    yield pending
                pending = (us, ue)
            day += timedelta(days=1)
    if pending is not None:
        yield pending


def minutes_in_hours(cal: ServiceCalendar, start: datetime, end: datetime) -> float:
    """Minutes of [start, end) inside the calendar's service hours."""
    return sum((b - a).total_seconds() for a, b in service_intervals(cal, start, end)) / 60.0


def union(intervals: Sequence[Interval]) -> list[Interval]:
    spans = sorted((_utc(a), _utc(b)) for a, b in intervals if _utc(b) > _utc(a))
    out: list[Interval] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def outage_minutes(
    cal: ServiceCalendar, outages: Sequence[Interval], start: datetime, end: datetime
) -> float:
    """Service-hour minutes of the union of ``outages`` clipped to [start, end)."""
    start, end = _utc(start), _utc(end)
    total = 0.0
    for a, b in union(outages):
        a, b = max(a, start), min(b, end)
        if a < b:
            total += minutes_in_hours(cal, a, b)
    return total


# -- periods -----------------------------------------------------------------------------


def wall_to_utc(local: datetime, tz: tzinfo) -> datetime:
    """A naive local wall time as a UTC instant; a time the clock skips (a DST gap) maps to
    the moment the clock jumps past it, an ambiguous one to its first occurrence."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    other = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(first, other), max(first, other)
    while hi - lo > timedelta(seconds=1):
        mid = (lo + (hi - lo) / 2).replace(microsecond=0)
        if mid <= lo:
            break
        if mid.astimezone(tz).replace(tzinfo=None) >= local:
            hi = mid
        else:
            lo = mid
    return hi


def month_of(cal: ServiceCalendar, at: datetime) -> Interval:
    """The calendar month holding ``at``, in the calendar's zone, as UTC instants."""
    local = _utc(at).astimezone(_zone(cal.timezone))
    return _month(cal.timezone, local.year, local.month)


# A calendar month begins at most 31 days and a zone's offset (under a day) before any
# instant in it.
_MONTH_REACH = timedelta(days=33)


def budget_since(at: datetime) -> datetime:
    """An instant before the start of the month holding ``at`` in any zone: an outage
    resolved before it spends nothing of that month's budget, or of any later month's
    (what ``list_incidents(resolved_since=...)`` may leave unread)."""
    return _utc(at) - _MONTH_REACH


@lru_cache(maxsize=256)
def _month(zone: str, year: int, month: int) -> Interval:
    # Every service of an answer asks for the same month (its calendar's zone is mostly
    # the same too): its bounds are found once.
    tz = _zone(zone)
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    return wall_to_utc(datetime(year, month, 1), tz), wall_to_utc(nxt, tz)


class Budget(BaseModel):
    """The availability budget of one SLA period (a calendar month)."""

    period_start: datetime
    period_end: datetime
    target_percent: float
    agreed_minutes: float
    allowed_minutes: float
    spent_minutes: float
    remaining_minutes: float


@lru_cache(maxsize=1024)
def _shared_minutes(calendar_json: str, start: datetime, end: datetime) -> float:
    # Many services share a calendar (24x7, office hours): a month, or a change's window,
    # is counted once for all of them.
    return minutes_in_hours(ServiceCalendar.model_validate_json(calendar_json), start, end)


def budget(
    sla: SLA, at: datetime, outages: Sequence[Interval] = (), *, calendar_json: str | None = None
) -> Budget:
    """The budget of the month holding ``at``, with ``outages`` already spent
    (``calendar_json``: the SLA's service hours as JSON, when the caller has it)."""
    cal = sla.service_hours
    start, end = month_of(cal, at)
    agreed = _shared_minutes(calendar_json or cal.model_dump_json(), start, end)
    allowed = (1.0 - sla.availability_target / 100.0) * agreed
    spent = outage_minutes(cal, outages, start, end)
    return Budget(
        period_start=start,
        period_end=end,
        target_percent=sla.availability_target,
        agreed_minutes=agreed,
        allowed_minutes=allowed,
        spent_minutes=spent,
        remaining_minutes=allowed - spent,
    )


class PeriodExposure(BaseModel):
    budget: Budget
    window_minutes: float  # service-hour minutes of the window inside this period
    remaining_after: float
    breach: bool


class WindowExposure(BaseModel):
    """What a planned window costs against an SLA."""

    sla: str
    start: datetime
    end: datetime
    minutes_in_hours: float
    scheduled_interruption: bool  # fits the SLA's allowed scheduled interruptions
    counts_against_budget: bool  # only an unagreed outage (down) spends availability
    periods: list[PeriodExposure]
    breach: bool


def fits_scheduled_interruption(
    sla: SLA, start: datetime, minutes: float, announced: datetime | None
) -> bool:
    rules = sla.scheduled_interruptions
    if rules.per_month < 1 or minutes > rules.max_minutes:
        return False
    if announced is None:
        return True
    return _utc(start) - _utc(announced) >= timedelta(hours=rules.notice_hours)


def window_exposure(
    sla: SLA,
    start: datetime,
    end: datetime,
    outages: Sequence[Interval] = (),
    *,
    counts: bool = True,
    planned: bool = False,
    announced: datetime | None = None,
) -> WindowExposure:
    """Service-hour minutes of [start, end) and, per month it touches, the budget left.

    ``counts``: the window is an outage (down), not a degradation. ``planned``: it is a
    scheduled change announced at ``announced``, which may fit the allowed interruptions.
    """
    start, end = _utc(start), _utc(end)
    cal = sla.service_hours
    key = cal.model_dump_json()
    total = _shared_minutes(key, start, end)
    agreed = planned and fits_scheduled_interruption(sla, start, total, announced)
    counts = counts and not agreed
    periods: list[PeriodExposure] = []
    at = start
    while at < end:
        b = budget(sla, at, outages, calendar_json=key)
        part = _shared_minutes(key, at, min(end, b.period_end))
        spend = part if counts else 0.0
        periods.append(
            PeriodExposure(
                budget=b,
                window_minutes=part,
                remaining_after=b.remaining_minutes - spend,
                # A window of no service-hour minutes costs nothing, even on a spent budget.
                breach=counts and part > 0 and spend > b.remaining_minutes,
            )
        )
        at = b.period_end
    return WindowExposure(
        sla=sla.name,
        start=start,
        end=end,
        minutes_in_hours=total,
        scheduled_interruption=agreed,
        counts_against_budget=counts,
        periods=periods,
        breach=any(p.breach for p in periods),
    )


class IncidentExposure(BaseModel):
    """Where an ongoing outage stands against an SLA's budget."""

    sla: str
    opened_at: datetime
    now: datetime
    minutes_so_far: float  # service-hour minutes of this outage in the current period
    budget: Budget  # spent includes this outage up to now
    breached: bool
    breach_at: datetime | None  # None: already breached, or the period ends first
    minutes_left: float | None  # wall-clock minutes from now to breach_at
    service_minutes_left: float  # budget minutes left (only service hours consume them)


def incident_exposure(
    sla: SLA, opened_at: datetime, now: datetime, outages: Sequence[Interval] = ()
) -> IncidentExposure:
    opened_at, now = _utc(opened_at), _utc(now)
    cal = sla.service_hours
    b = budget(sla, now, [*outages, (opened_at, now)])
    so_far = outage_minutes(cal, [(opened_at, now)], b.period_start, b.period_end)
    remaining = b.remaining_minutes
    breach_at: datetime | None = None
    if remaining > 0:
        left = remaining * 60.0
        for a, e in service_intervals(cal, now, b.period_end):
            span = (e - a).total_seconds()
            if span >= left:
                breach_at = a + timedelta(seconds=left)
                break
            left -= span
    return IncidentExposure(
        sla=sla.name,
        opened_at=opened_at,
        now=now,
        minutes_so_far=so_far,
        budget=b,
        breached=remaining <= 0,
        breach_at=breach_at,
        minutes_left=None if breach_at is None else (breach_at - now).total_seconds() / 60.0,
        service_minutes_left=max(0.0, remaining),
    )
