"""``/incidents``: open an incident on CIs (its impacted services from the impact engine,
its priority from impact and urgency through the policy's matrix), re-prioritise, the SLA
clocks in service hours, resolve; the same practice as ``cmdb incident ...``.

Scope as for changes (cmdb/api/routers/changes.py): a scoped token sees an incident that
names something in its view (only those ids shown, only those services' clocks, only the
linked changes it reads) and writes only incidents whose CIs and services are all in it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cmdb.api.routers._shared import instant, resolve_visible, stamped
from cmdb.api.routers.changes import now, policy_of
from cmdb.app.inputs import MAX_REFS
from cmdb.app.scope import Visibility, change_readable, check_writable, readable
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import CI
from cmdb.domain.records import Incident, IncidentState, Level
from cmdb.domain.service import Priority
from cmdb.practice.clocks import ServiceClock
from cmdb.practice.incidents import clocks, mark, open_incident, reprioritise
from cmdb.practice.policy import Policy
from cmdb.store.contract import GraphStore
from cmdb.web.deps import Editor, Reader, SettingsDep, Store, Visible
from impact.queries import incident_impact

router = APIRouter(prefix="/incidents", tags=["incidents"])

# An incident may be recorded after it began, not before it happens (clock skew allowed).
SKEW = timedelta(minutes=5)


class IncidentOut(Incident):
    pass


class IncidentListOut(BaseModel):
    items: list[IncidentOut]


class _In(BaseModel):
    # Unknown or server-owned fields (state, priority, major, service_ids...) get 422.
    model_config = ConfigDict(extra="forbid")


class IncidentIn(_In):
    id: str = Field(
        min_length=1, max_length=128, pattern=r"^\S+$", description="The incident's reference."
    )
    title: str = Field(min_length=1, max_length=500)
    cis: list[str] = Field(
        min_length=1, max_length=MAX_REFS, description="Failing CIs: id, kind=value or name."
    )
    urgency: Level = Level.MEDIUM
    impact: Level | None = Field(default=None, description="Default: from the impact engine.")
    opened_at: datetime | None = Field(
        default=None, description="When it began, if before now (the SLA clocks start there)."
    )


class PriorityIn(_In):
    impact: Level | None = None
    urgency: Level | None = None


class ResolveIn(_In):
    responded_only: bool = Field(
        default=False, description="Only record the response (stops that clock)."
    )
    at: datetime | None = Field(default=None, description="When; default now.")


class ClocksOut(BaseModel):
    incident_id: str
    at: datetime
    clocks: list[ServiceClock] = Field(description="one per affected service with an SLA")


def incident_out(store: GraphStore, vis: Visibility, inc: Incident) -> IncidentOut:
    """``inc`` as the caller is shown it: the CIs and services in its view, and the linked
    changes it reads (a linked record's id is a hint too)."""
    if not vis.unrestricted:
        inc = inc.model_copy(
            update={
                "ci_ids": vis.keep(inc.ci_ids),
                "service_ids": vis.keep(inc.service_ids),
                "change_ids": [c for c in inc.change_ids if change_readable(store, vis, c)],
            }
        )
    return IncidentOut.model_validate(inc.model_dump())


def visible_incident(store: GraphStore, vis: Visibility, incident_id: str) -> Incident:
    try:
        inc: Incident | None = store.get_incident(incident_id)
    except NotFound:
        inc = None
    if inc is None or not readable(vis, inc):
        raise NotFound(f"no incident {incident_id!r}", where="incident_id")
    return inc


def _writable(store: GraphStore, vis: Visibility, incident_id: str, what: str) -> Incident:
    inc = visible_incident(store, vis, incident_id)
    check_writable(vis, inc, what)
    return inc


def _instant(at: datetime | None, where: str) -> datetime:
    current = now()
    got = instant(at) or current
    if got > current + SKEW:
        raise InvalidInput(f"{where} is in the future", where=where)
    return got


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
    ci_id = resolve_visible(store, vis, ci, where="ci").id if ci else None
    svc_id = resolve_visible(store, vis, service, where="service").id if service else None
    found = [
        i
        for i in store.list_incidents(ci_id=ci_id)
        if readable(vis, i)
        and (not state or i.state in state)
        and (not priority or i.priority in priority)
        and (svc_id is None or svc_id in i.service_ids)
        and (major is None or i.major is major)
    ]
    found.sort(key=lambda i: i.id)
    return IncidentListOut(items=[incident_out(store, vis, i) for i in found])


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
    return open_for(stamped(store, request), vis, principal.name, body, policy_of(settings))


def open_for(
    store: GraphStore, vis: Visibility, actor: str, body: IncidentIn, policy: Policy
) -> IncidentOut:
    """The write behind POST /incidents (GraphQL's openIncident too); ``store`` stamped."""
    cis: dict[str, CI] = {}
    for i, ref in enumerate(body.cis):
        ci = resolve_visible(store, vis, ref, where=f"cis.{i}")
        cis.setdefault(ci.id, ci)
    opened = _instant(body.opened_at, "opened_at")
    if not vis.unrestricted:
        # The incident records the services it takes down: a scoped caller may record
        # only what stays inside its view (checked before anything is written).
        probe = open_probe(store, list(cis.values()), opened)
        check_writable(vis, probe, "record it")
    inc, _ = open_incident(
        store,
        incident_id=body.id,
        title=body.title,
        cis=list(cis.values()),
        urgency=body.urgency,
        impact=body.impact,
        policy=policy,
        actor=actor,
        now=opened,
    )
    return incident_out(store, vis, inc)


def open_probe(store: GraphStore, failing: list[CI], at: datetime) -> Incident:
    """The CIs and services an incident on ``failing`` would name, as
    :func:`cmdb.practice.incidents.open_incident` records them (nothing written)."""
    report = incident_impact(store, failing, now=at)
    down = {s.id for s in report.services if s.severity == "down"}
    degraded = {s.id for s in report.services if s.severity == "degraded"}
    services = down | {c.id for c in failing if c.service is not None}
    return Incident(
        id="probe",
        title="probe",
        ci_ids=sorted({c.id for c in failing} - services),
        service_ids=sorted(services or degraded),
        opened_at=at,
    )


@router.get("/{incident_id}", operation_id="getIncident", response_model=IncidentOut)
def get_incident(incident_id: str, _: Reader, store: Store, vis: Visible) -> IncidentOut:
    """One incident: priority (impact, urgency), services, times, linked changes."""
    return incident_out(store, vis, visible_incident(store, vis, incident_id))


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
    visible_incident(store, vis, incident_id)
    when = instant(at) or now()
    found = [c for c in clocks(store, incident_id, when) if vis.allows(c.service_id)]
    return ClocksOut(incident_id=incident_id, at=when, clocks=found)


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
    return prioritise_for(
        stamped(store, request), vis, principal.name, incident_id, body, policy_of(settings)
    )


def prioritise_for(
    store: GraphStore,
    vis: Visibility,
    actor: str,
    incident_id: str,
    body: PriorityIn,
    policy: Policy,
) -> IncidentOut:
    _writable(store, vis, incident_id, "re-prioritise it")
    if body.impact is None and body.urgency is None:
        raise InvalidInput("give impact, urgency or both", where="body.urgency")
    inc = reprioritise(
        store, incident_id, policy, actor=actor, impact=body.impact, urgency=body.urgency
    )
    return incident_out(store, vis, inc)


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
    return resolve_for(stamped(store, request), vis, principal.name, incident_id, body)


def resolve_for(
    store: GraphStore, vis: Visibility, actor: str, incident_id: str, body: ResolveIn | None
) -> IncidentOut:
    inc = _writable(store, vis, incident_id, "resolve it")
    got = body or ResolveIn()
    when = _instant(got.at, "at")
    if inc.state is not IncidentState.OPEN:
        raise InvalidInput(f"{incident_id} is {inc.state.value}, not open", where="state")
    done = (
        mark(store, incident_id, actor=actor, responded_at=when)
        if got.responded_only
        else mark(store, incident_id, actor=actor, resolved_at=when)
    )
    return incident_out(store, vis, done)
