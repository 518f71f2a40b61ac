"""Incidents in a store: opened with their impacted services and priority, re-prioritised,
and their SLA clocks. Every write is one change set carrying the incident record.

An incident records as its services those it takes down (an outage: it spends their
availability budget, see :func:`impact.report.service_outages`); one that only degrades
services records those and is not an outage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import CI
from cmdb.domain.records import Incident, IncidentState, Level
from cmdb.practice.clocks import ServiceClock, impact_level, prioritise, service_clock
from cmdb.practice.policy import Policy
from cmdb.store.contract import GraphStore
from impact.queries import incident_impact
from impact.report import ImpactReport


def save(store: GraphStore, incidents: Sequence[Incident], *, actor: str) -> None:
    store.apply(ChangeSet(actor=actor, source="manual", incidents=list(incidents)))


def open_incident(
    store: GraphStore,
    *,
    incident_id: str,
    title: str,
    cis: Sequence[CI],
    urgency: Level,
    policy: Policy,
    actor: str,
    now: datetime,
    impact: Level | None = None,
) -> tuple[Incident, ImpactReport]:
    try:
        store.get_incident(incident_id)
    except NotFound:
        pass
    else:
        raise InvalidInput(f"an incident {incident_id} exists already", where="id")
    if not cis:
        raise InvalidInput("an incident names at least one CI", where="--ci")
    report = incident_impact(store, cis, now=now)
    down = [s.id for s in report.services if s.severity == "down"]
    degraded = [s.id for s in report.services if s.severity == "degraded"]
    services = sorted({*down, *(c.id for c in cis if c.service is not None)})
    incident = Incident(
        id=incident_id,
        title=title,
        ci_ids=sorted({c.id for c in cis} - set(services)),
        service_ids=services or sorted(degraded),
        opened_at=now,
        outage=bool(services),
    )
    incident = prioritise(incident, policy, impact or impact_level(report), urgency)
    save(store, [incident], actor=actor)
    return incident, report


def reprioritise(
    store: GraphStore,
    incident_id: str,
    policy: Policy,
    *,
    actor: str,
    impact: Level | None = None,
    urgency: Level | None = None,
) -> Incident:
    inc = store.get_incident(incident_id)
    new_impact = impact or inc.impact
    new_urgency = urgency or inc.urgency
    if new_impact is None or new_urgency is None:
        raise InvalidInput(
            f"{incident_id} has no recorded impact/urgency: give both", where="--impact"
        )
    updated = prioritise(inc, policy, new_impact, new_urgency)
    save(store, [updated], actor=actor)
    return updated


def mark(
    store: GraphStore,
    incident_id: str,
    *,
    actor: str,
    responded_at: datetime | None = None,
    resolved_at: datetime | None = None,
) -> Incident:
    """Stop the response clock, or resolve (stops both). Each clock stops once: a second
    response or resolution, or a response after the resolution, is refused (it would move
    a stopped clock, and the outage, after the fact)."""
    inc = store.get_incident(incident_id)
    if resolved_at is not None and inc.state is not IncidentState.OPEN:
        raise InvalidInput(
            f"{incident_id} is {inc.state.value} already (at {inc.resolved_at})", where="state"
        )
    if responded_at is not None and inc.responded_at is not None:
        raise InvalidInput(
            f"{incident_id}'s response is recorded already (at {inc.responded_at})",
            where="responded_at",
        )
    update: dict[str, object] = {}
    for name, at in (("responded_at", responded_at), ("resolved_at", resolved_at)):
        if at is None:
            continue
        if at < inc.opened_at:
            raise InvalidInput(f"{name} is before the incident was opened", where=name)
        update[name] = at
    response = responded_at or inc.responded_at
    resolution = resolved_at or inc.resolved_at
    if response is not None and resolution is not None and response > resolution:
        raise InvalidInput("responded_at is after the resolution", where="responded_at")
    if resolved_at is not None:
        update["state"] = IncidentState.RESOLVED
        if inc.responded_at is None and responded_at is None:
            update["responded_at"] = resolved_at
    updated = inc.model_copy(update=update)
    save(store, [updated], actor=actor)
    return updated


def clocks(store: GraphStore, incident_id: str, now: datetime) -> list[ServiceClock]:
    """One clock pair per affected service that has an SLA."""
    inc = store.get_incident(incident_id)
    out: list[ServiceClock] = []
    for sid in inc.service_ids:
        svc = store.get_ci(sid)
        if svc.service is None or svc.service.sla is None:
            continue
        out.append(service_clock(sid, svc.name, svc.service.sla, inc, now))
    return out
