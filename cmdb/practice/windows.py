"""Change windows against services' calendars: blackouts, maintenance windows, service
hours, and the earliest window that fits them all.

Pure, over UTC intervals ``[start, end)``. A service's **maintenance windows** are a
calendar (:class:`ServiceCalendar`, weekly ranges in a zone with dated exceptions) of when
changes that take it down may happen; none means "any time". Its **blackouts** are dated
periods no change may touch it. A change that takes a service down or degrades it should
also stay out of its **service hours** (downtime in hours must be agreed in advance: it is
reported, and a suggested window avoids it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from cmdb.domain.service import Blackout, ServiceCalendar
from impact.sla import Interval, service_intervals, union

ViolationKind = Literal["blackout", "outside_maintenance", "in_service_hours"]


def utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def overlap(a: Interval, b: Interval) -> Interval | None:
    s, e = max(utc(a[0]), utc(b[0])), min(utc(a[1]), utc(b[1]))
    return (s, e) if s < e else None


def subtract(base: Sequence[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    """``base`` minus every cut (both as unions)."""
    out = union(list(base))
    for cs, ce in union(list(cuts)):
        nxt: list[Interval] = []
        for s, e in out:
            if ce <= s or cs >= e:
                nxt.append((s, e))
                continue
            if s < cs:
                nxt.append((s, cs))
            if ce < e:
                nxt.append((ce, e))
        out = nxt
    return out


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    ua, ub = union(list(a)), union(list(b))
    i = j = 0
    while i < len(ua) and j < len(ub):
        got = overlap(ua[i], ub[j])
        if got is not None:
            out.append(got)
        if ua[i][1] < ub[j][1]:
            i += 1
        else:
            j += 1
    return out


@dataclass(frozen=True)
class ServiceWindows:
    """What one impacted service allows a change to do, and when."""

    id: str
    name: str
    severity: str  # what the change does to it: down, degraded, at_risk
    service_hours: ServiceCalendar | None = None
    maintenance: ServiceCalendar | None = None
    blackouts: tuple[Blackout, ...] = field(default_factory=tuple)

    @property
    def interrupted(self) -> bool:
        return self.severity in ("down", "degraded")


class Violation(BaseModel):
    change_id: str
    kind: ViolationKind
    service_id: str
    service: str
    start: datetime
    end: datetime
    detail: str


def violations(
    change_id: str, window: Interval, services: Sequence[ServiceWindows]
) -> list[Violation]:
    """Blackouts the window touches (any impacted service, at risk included); for the
    services it interrupts, the parts outside their maintenance windows or inside their
    service hours."""
    start, end = utc(window[0]), utc(window[1])
    out: list[Violation] = []

    def add(s: ServiceWindows, kind: ViolationKind, iv: Interval, detail: str) -> None:
        out.append(
            Violation(
                change_id=change_id,
                kind=kind,
                service_id=s.id,
                service=s.name,
                start=iv[0],
                end=iv[1],
                detail=detail,
            )
        )

    for s in services:
        for b in s.blackouts:
            hit = overlap((start, end), (b.start, b.end))
            if hit is not None:
                add(s, "blackout", hit, f"blackout: {b.reason or 'freeze'}")
        if not s.interrupted:
            continue
        if s.maintenance is not None:
            allowed = list(service_intervals(s.maintenance, start, end))
            for iv in subtract([(start, end)], allowed):
                add(s, "outside_maintenance", iv, f"{s.severity} outside its maintenance windows")
        if s.service_hours is not None:
            for iv in service_intervals(s.service_hours, start, end):
                add(s, "in_service_hours", iv, f"{s.severity} inside its service hours")
    out.sort(key=lambda v: (v.start, v.service, v.kind))
    return out


def free_time(
    services: Sequence[ServiceWindows], busy: Iterable[Interval], start: datetime, end: datetime
) -> list[Interval]:
    """The parts of [start, end) a change touching ``services`` may use: inside every
    interrupted service's maintenance windows, outside its service hours, outside every
    service's blackouts and outside ``busy`` (windows of changes it would collide with)."""
    start, end = utc(start), utc(end)
    free: list[Interval] = [(start, end)]
    for s in services:
        free = subtract(free, [(utc(b.start), utc(b.end)) for b in s.blackouts])
        if not s.interrupted:
            continue
        if s.maintenance is not None:
            free = intersect(free, list(service_intervals(s.maintenance, start, end)))
        if s.service_hours is not None:
            free = subtract(free, list(service_intervals(s.service_hours, start, end)))
    return subtract(free, [(utc(a), utc(b)) for a, b in busy])


def earliest_fit(
    free: Sequence[Interval], duration: timedelta, *, not_before: datetime
) -> Interval | None:
    """The earliest [s, s + duration) inside one free interval, starting at or after
    ``not_before`` (rounded up to the minute)."""
    nb = utc(not_before)
    if nb.second or nb.microsecond:
        nb = nb.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for a, b in union(list(free)):
        s = max(a, nb)
        if s + duration <= b:
            return s, s + duration
    return None
