"""Each service's state now, for the service desk's first look: is it running, which open
incidents hold it, and how much of this month's availability budget is left.

**State.** A service is ``down`` while an open incident that is an outage names it (as an
affected service, or as the CI at fault), ``degraded`` while only open incidents that
reduce its quality do, else ``ok``. Incidents record the services they take down when they
are opened (:func:`cmdb.practice.incidents.open_incident`), so no impact walk runs here.

**Budget.** The SLA's budget for the calendar month holding ``now``, in the SLA's zone,
with every outage recorded against the service this month spent (open ones up to now):
the same rule the impact engine applies to a change window or an incident
(:func:`impact.sla.budget`, :func:`impact.report.service_outages`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cmdb.domain.model import CI
from cmdb.domain.records import Incident, IncidentState
from cmdb.domain.service import ServiceKind
from impact.report import naming, service_outages
from impact.sla import Budget, budget


class ServiceState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


# The order a service desk reads a board in: what is down first.
_STATE_RANK = {ServiceState.DOWN: 0, ServiceState.DEGRADED: 1, ServiceState.OK: 2}


@dataclass(frozen=True)
class ServiceStatus:
    service: CI
    state: ServiceState
    open_incidents: list[Incident] = field(default_factory=list)
    budget: Budget | None = None  # None: the service has no SLA


def _names(inc: Incident, service_id: str) -> bool:
    return service_id in inc.service_ids or service_id in inc.ci_ids


def status_of(service: CI, incidents: Sequence[Incident], now: datetime) -> ServiceStatus:
    """One service's state at ``now`` from ``incidents`` (any, of any state)."""
    holding = [
        i
        for i in incidents
        if i.state is IncidentState.OPEN and i.opened_at <= now and _names(i, service.id)
    ]
    holding.sort(key=lambda i: (i.priority.value, i.opened_at, i.id))
    if any(i.outage for i in holding):
        state = ServiceState.DOWN
    elif holding:
        state = ServiceState.DEGRADED
    else:
        state = ServiceState.OK
    sla = service.service.sla if service.service is not None else None
    left = None if sla is None else budget(sla, now, service_outages(incidents, service.id, now))
    return ServiceStatus(service=service, state=state, open_incidents=holding, budget=left)


def board(
    services: Iterable[CI], incidents: Sequence[Incident], now: datetime
) -> list[ServiceStatus]:
    """Every service's status, worst first, then customer-facing before supporting, then
    the least budget left (as a share of the month's allowance), then by name."""

    def key(s: ServiceStatus) -> tuple[int, int, float, str]:
        details = s.service.service
        facing = details is not None and details.kind is ServiceKind.CUSTOMER_FACING
        b = s.budget
        share = (
            1.0 if b is None or b.allowed_minutes <= 0 else b.remaining_minutes / b.allowed_minutes
        )
        return (_STATE_RANK[s.state], 0 if facing else 1, share, s.service.name.casefold())

    named = naming(incidents)  # each service's own, found once
    return sorted((status_of(s, named.get(s.id, []), now) for s in services), key=key)
