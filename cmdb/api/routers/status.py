"""``/status/services``: each service's state now (the open incidents holding it) and the
SLA budget left this month, worst first: what the service desk's landing page shows.

The same use case for every caller (cmdb/app/status.py); a scoped token sees the services
in its view and the incidents it reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cmdb.app import status
from cmdb.domain.model import Criticality
from cmdb.domain.records import Incident
from cmdb.domain.service import PortfolioState, ServiceDetails, ServiceKind
from cmdb.practice.service_status import ServiceState, ServiceStatus
from cmdb.web.deps import Reader, Store, Visible

router = APIRouter(prefix="/status", tags=["services"])


class OpenIncidentOut(BaseModel):
    id: str
    title: str
    priority: str
    opened_at: datetime
    major: bool
    outage: bool = Field(description="the service is out (false: a reduction in quality)")


class BudgetOut(BaseModel):
    """This month's availability budget (the calendar month in the SLA's zone)."""

    period_start: datetime
    period_end: datetime
    target_percent: float
    agreed_minutes: float = Field(description="service-hour minutes in the month")
    allowed_minutes: float = Field(description="outage minutes the target allows")
    spent_minutes: float = Field(description="service-hour minutes of recorded outages")
    remaining_minutes: float = Field(description="allowed - spent (negative: breached)")
    breached: bool


class ServiceStatusOut(BaseModel):
    id: str
    name: str
    kind: ServiceKind
    portfolio: PortfolioState
    criticality: Criticality | None = None
    owner: str | None = None
    customers: list[str]
    state: ServiceState = Field(description="down, degraded or ok, from the open incidents")
    open_incidents: list[OpenIncidentOut]
    sla: str | None = Field(default=None, description="the SLA's name; null: none")
    budget: BudgetOut | None = None


class ServicesStatusOut(BaseModel):
    at: datetime
    items: list[ServiceStatusOut]


def _incident(i: Incident) -> OpenIncidentOut:
    return OpenIncidentOut(
        id=i.id,
        title=i.title,
        priority=i.priority.value,
        opened_at=i.opened_at,
        major=i.major,
        outage=i.outage,
    )


def _row(s: ServiceStatus) -> ServiceStatusOut:
    ci = s.service
    details = ci.service or ServiceDetails()
    b = s.budget
    return ServiceStatusOut(
        id=ci.id,
        name=ci.name,
        kind=details.kind,
        portfolio=details.portfolio,
        criticality=ci.criticality,
        owner=ci.owner,
        customers=details.customers,
        state=s.state,
        open_incidents=[_incident(i) for i in s.open_incidents],
        sla=details.sla.name if details.sla else None,
        budget=None if b is None else BudgetOut(**b.model_dump(), breached=b.remaining_minutes < 0),
    )


@router.get("/services", operation_id="servicesStatus", response_model=ServicesStatusOut)
def services_status(
    _: Reader,
    store: Store,
    vis: Visible,
    at: Annotated[
        datetime | None,
        Query(description="the instant asked about (ISO 8601; no zone: UTC); default now"),
    ] = None,
) -> ServicesStatusOut:
    """Every service with its state now (down while an open outage names it, degraded
    while only reductions in quality do), the open incidents holding it, and this month's
    SLA budget left with the month's outages spent; worst first."""
    when, rows = status.services_status(store, vis, at=at)
    return ServicesStatusOut(at=when, items=[_row(r) for r in rows])
