"""Incident priority and SLA clocks. Pure.

**Priority** comes from impact and urgency through the policy's matrix. The impact, unless
the service desk states it, comes from the impact engine: *high* when a customer-facing
service goes down, *medium* when any service goes down or a customer-facing one is
degraded, *low* otherwise.

**SLA clocks.** For each affected service with an SLA, the response and resolution targets
of the incident's priority are minutes of *service hours* (the SLA's calendar: weekly
ranges in its time zone, holidays and other dated exceptions, DST handled by
:func:`impact.sla.service_intervals`). A clock runs from ``opened_at`` until it is stopped
(responded, resolved) or until now: ``elapsed`` service-hour minutes, ``remaining`` ones,
the instant it falls ``due``, and whether it is ``breached``. Outside service hours a
clock stands still: a P2 opened at 22:50 on a 05:00-23:00 service with a 30-minute
response target is due at 05:20 the next morning, local time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from cmdb.domain.records import Incident, Level
from cmdb.domain.service import SLA, Priority, ServiceCalendar
from cmdb.practice.policy import Policy
from cmdb.practice.windows import utc
from impact.report import ImpactReport
from impact.sla import minutes_in_hours, service_intervals

# How far ahead a due instant is looked for: a year of a calendar with no hours at all
# means "never due".
_SEARCH = timedelta(days=31)
_SEARCH_MAX = 12


def impact_level(report: ImpactReport) -> Level:
    down = [s for s in report.services if s.severity == "down"]
    if any(s.kind == "customer_facing" for s in down):
        return Level.HIGH
    degraded_cf = any(
        s.severity == "degraded" and s.kind == "customer_facing" for s in report.services
    )
    return Level.MEDIUM if down or degraded_cf else Level.LOW


def prioritise(incident: Incident, policy: Policy, impact: Level, urgency: Level) -> Incident:
    """The incident with its impact, urgency, priority and major flag set."""
    priority = policy.priority_for(impact, urgency)
    return incident.model_copy(
        update={
            "impact": impact,
            "urgency": urgency,
            "priority": priority,
            "major": priority in policy.major_priorities,
        }
    )


def due_at(cal: ServiceCalendar, start: datetime, minutes: float) -> datetime | None:
    """The instant ``minutes`` of service hours after ``start`` are used up."""
    left = minutes * 60.0
    if left <= 0:
        return utc(start)
    at = utc(start)
    for _ in range(_SEARCH_MAX):
        for a, b in service_intervals(cal, at, at + _SEARCH):
            span = (b - a).total_seconds()
            if span >= left:
                return a + timedelta(seconds=left)
            left -= span
        at += _SEARCH
    return None


class TargetClock(BaseModel):
    target: Literal["response", "resolution"]
    target_minutes: int | None  # None: the SLA sets no target for this priority
    elapsed_minutes: float  # service-hour minutes from opened to stopped (or now)
    remaining_minutes: float | None
    due_at: datetime | None
    stopped_at: datetime | None
    running: bool
    in_service_hours_now: bool
    breached: bool


class ServiceClock(BaseModel):
    service_id: str
    service: str
    sla: str
    timezone: str
    priority: Priority
    response: TargetClock
    resolution: TargetClock


def target_clock(
    sla: SLA,
    which: Literal["response", "resolution"],
    priority: Priority,
    opened_at: datetime,
    now: datetime,
    stopped_at: datetime | None,
) -> TargetClock:
    cal = sla.service_hours
    targets = sla.response_minutes if which == "response" else sla.resolution_minutes
    target = targets.get(priority)
    end = utc(stopped_at) if stopped_at is not None else utc(now)
    elapsed = minutes_in_hours(cal, opened_at, end) if end > utc(opened_at) else 0.0
    due = due_at(cal, opened_at, target) if target is not None else None
    inside = any(True for _ in service_intervals(cal, utc(now), utc(now) + timedelta(seconds=1)))
    return TargetClock(
        target=which,
        target_minutes=target,
        elapsed_minutes=round(elapsed, 2),
        remaining_minutes=None if target is None else round(target - elapsed, 2),
        due_at=due,
        stopped_at=stopped_at,
        running=stopped_at is None,
        in_service_hours_now=inside,
        breached=target is not None and elapsed > target,
    )


def service_clock(
    service_id: str, service: str, sla: SLA, incident: Incident, now: datetime
) -> ServiceClock:
    stop_response = incident.responded_at or incident.resolved_at
    return ServiceClock(
        service_id=service_id,
        service=service,
        sla=sla.name,
        timezone=sla.service_hours.timezone,
        priority=incident.priority,
        response=target_clock(
            sla, "response", incident.priority, incident.opened_at, now, stop_response
        ),
        resolution=target_clock(
            sla, "resolution", incident.priority, incident.opened_at, now, incident.resolved_at
        ),
    )
