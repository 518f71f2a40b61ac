"""``/incidents``: open an incident on CIs (its impacted services from the impact engine,
its priority from impact and urgency through the policy's matrix), re-prioritise, the SLA
clocks in service hours, resolve; the same practice as ``cmdb incident ...``.

The same use cases as GraphQL and ``cmdb incident ...`` (cmdb/app/incidents.py), scope
included: a scoped token sees an incident that names something in its view (only those ids
shown, only those services' clocks, only the linked changes it reads) and writes only
incidents whose CIs and services are all in it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from cmdb.api.routers._shared import caller
from cmdb.app import incidents
from cmdb.app.changes import policy_of
from cmdb.app.incident_inputs import NewIncident, NewPriority, Resolution
from cmdb.domain.records import Incident, IncidentState
from cmdb.domain.service import Priority
from cmdb.practice.clocks import ServiceClock
from cmdb.web.deps import Editor, Reader, SettingsDep, Store, Visible

router = APIRouter(prefix="/incidents", tags=["incidents"])


class IncidentOut(Incident):
    pass


class IncidentListOut(BaseModel):
    items: list[IncidentOut]


# The bodies are the use cases' inputs (unknown or server-owned fields get 422).
class IncidentIn(NewIncident):
    pass


class PriorityIn(NewPriority):
    pass


class ResolveIn(Resolution):
    pass


class ClocksOut(BaseModel):
    incident_id: str
    at: datetime
    clocks: list[ServiceClock] = Field(description="one per affected service with an SLA")


def incident_out(inc: Incident) -> IncidentOut:
    return IncidentOut.model_validate(inc.model_dump())


@router.get("", operation_id="listIncidents", response_model=IncidentListOut)
def list_incidents(
    _: Reader,
    store: Store,
    vis: Visible,
    state: Annotated[list[IncidentState] | None, Query(description="repeatable")] = None,
    priority: Annotated[list[Priority] | None, Query(description="repeatable")] = None,
    ci: Annotated[str | None, Query(description="incidents naming this CI")] = None,
    service: Annotated[str | None, Query(description="incidents naming this service")] = None,
    major: bool | None = None,
) -> IncidentListOut:
    """Incidents by reference, filtered by state, priority, CI, service or major."""
    found = incidents.list_incidents(
        store, vis, states=state, priorities=priority, ci=ci, service=service, major=major
    )
    return IncidentListOut(items=[incident_out(i) for i in found])


@router.post("", operation_id="openIncident", status_code=201, response_model=IncidentOut)
def open_incident_route(
    body: IncidentIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
    settings: SettingsDep,
) -> IncidentOut:
    """Record an incident on failing CIs: the services it takes down (or, if none, those it
    degrades), its impact (default: from the impact engine) and the priority the matrix
    gives with the urgency; P1 is a major incident."""
    inc = incidents.open_incident(store, caller(principal, request), vis, body, policy_of(settings))
    return incident_out(inc)


@router.get("/{incident_id}", operation_id="getIncident", response_model=IncidentOut)
def get_incident(incident_id: str, _: Reader, store: Store, vis: Visible) -> IncidentOut:
    """One incident: priority (impact, urgency), services, times, linked changes."""
    return incident_out(incidents.get(store, vis, incident_id))


@router.get("/{incident_id}/clock", operation_id="getIncidentClock", response_model=ClocksOut)
def get_incident_clock(
    incident_id: str,
    _: Reader,
    store: Store,
    vis: Visible,
    at: Annotated[
        datetime | None, Query(description="The instant to read them at; default now.")
    ] = None,
) -> ClocksOut:
    """Response and resolution clocks per affected service with an SLA, counted inside its
    service hours (time zone, DST, holidays): elapsed, remaining, due, breached."""
    got = incidents.clocks(store, vis, incident_id, at=at)
    return ClocksOut(incident_id=got.incident_id, at=got.at, clocks=got.clocks)


@router.post(
    "/{incident_id}/priority", operation_id="prioritiseIncident", response_model=IncidentOut
)
def prioritise_incident(
    incident_id: str,
    body: PriorityIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
    settings: SettingsDep,
) -> IncidentOut:
    """Re-prioritise from a new impact and/or urgency, through the policy's matrix."""
    inc = incidents.prioritise(
        store, caller(principal, request), vis, incident_id, body, policy_of(settings)
    )
    return incident_out(inc)


@router.post("/{incident_id}/resolve", operation_id="resolveIncident", response_model=IncidentOut)
def resolve_incident(
    incident_id: str,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
    body: Annotated[ResolveIn | None, Body()] = None,
) -> IncidentOut:
    """Resolve (stops both clocks; the response too if none was recorded), or with
    ``responded_only`` record only the response."""
    inc = incidents.resolve(
        store, caller(principal, request), vis, incident_id, body or ResolveIn()
    )
    return incident_out(inc)
