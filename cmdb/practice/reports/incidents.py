"""The incidents report: what was opened in a period, and the SLA targets it missed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from cmdb.domain.records import Incident, IncidentState
from cmdb.domain.service import SLA
from cmdb.practice.clocks import service_clock
from cmdb.practice.reports.base import DEFAULT_TOP, Count, NameOf, Period, tally


class SlaBreach(BaseModel):
    incident_id: str
    title: str
    priority: str
    service_id: str
    service: str
    sla: str
    target: Literal["response", "resolution"]
    target_minutes: int | None
    elapsed_minutes: float
    due_at: datetime | None
    running: bool  # the clock still runs (not responded/resolved yet)


class IncidentsReport(BaseModel):
    generated_at: datetime
    period: Period
    total: int
    open: int
    major: int
    outages: int
    by_state: list[Count]
    by_priority: list[Count]
    by_service: list[Count]
    by_ci: list[Count]
    clocks: int  # service clocks checked (affected services with an SLA)
    breached_incidents: int
    breaches: list[SlaBreach]


def incidents_report(
    incidents: Sequence[Incident],
    slas: Mapping[str, tuple[str, SLA]],
    now: datetime,
    *,
    period: Period | None = None,
    name_of: NameOf | None = None,
    top: int = DEFAULT_TOP,
) -> IncidentsReport:
    """``incidents`` opened in ``period``; ``slas``: service id -> (name, SLA) for every
    service with one. Breaches are judged at ``now`` (a running clock past its target is
    breached already)."""
    period = period or Period()
    picked = [i for i in incidents if period.holds(i.opened_at)]
    breaches: list[SlaBreach] = []
    clocks = 0
    for inc in picked:
        for sid in inc.service_ids:
            if sid not in slas:
                continue
            name, sla = slas[sid]
            clock = service_clock(sid, name, sla, inc, now)
            clocks += 1
            for tc in (clock.response, clock.resolution):
                if tc.breached:
                    breaches.append(
                        SlaBreach(
                            incident_id=inc.id,
                            title=inc.title,
                            priority=inc.priority.value,
                            service_id=sid,
                            service=name,
                            sla=sla.name,
                            target=tc.target,
                            target_minutes=tc.target_minutes,
                            elapsed_minutes=tc.elapsed_minutes,
                            due_at=tc.due_at,
                            running=tc.running,
                        )
                    )
    breaches.sort(key=lambda b: (b.incident_id, b.service, b.target))
    return IncidentsReport(
        generated_at=now,
        period=period,
        total=len(picked),
        open=sum(i.state is IncidentState.OPEN for i in picked),
        major=sum(i.major for i in picked),
        outages=sum(i.outage for i in picked),
        by_state=tally(Counter(i.state.value for i in picked)),
        by_priority=tally(Counter(i.priority.value for i in picked)),
        by_service=tally(Counter(s for i in picked for s in set(i.service_ids)), name_of, top),
        by_ci=tally(Counter(c for i in picked for c in set(i.ci_ids)), name_of, top),
        clocks=clocks,
        breached_incidents=len({b.incident_id for b in breaches}),
        breaches=breaches,
    )
