"""Incidents: open one on failing CIs, read one or a list, re-prioritise, resolve, and the
SLA clocks (cmdb/practice/incidents.py does the record work).

What ``/incidents``, GraphQL's incident mutations and ``cmdb incident`` all call. A scoped
caller reads an incident naming something in its view, shown with only the ids in view
(its CIs and services, and the linked changes it reads); anything else is missing to it.
It writes only incidents whose CIs and services are all in its view, those an open would
record included (judged before anything is written).

What a caller sends is in :mod:`cmdb.app.incident_inputs`; errors name it in the caller's
own words (:class:`~cmdb.app.incident_inputs.Words`): a request's fields by default, the
CLI's arguments and options when it passes its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cmdb.app.caller import Caller, stamped
from cmdb.app.changes import now
from cmdb.app.incident_inputs import REQUEST, NewIncident, NewPriority, Resolution, Words
from cmdb.app.inputs import instant, resolve_visible
from cmdb.app.scope import Visibility, change_readable, check_writable, readable
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import CI
from cmdb.domain.records import Incident, IncidentAlert, IncidentNote, IncidentState
from cmdb.domain.service import Priority
from cmdb.practice import incidents as practice
from cmdb.practice.clocks import ServiceClock
from cmdb.practice.policy import Policy
from cmdb.store.contract import GraphStore
from impact.queries import incident_impact

# An incident may be recorded after it began, not before it happens (clock skew allowed).
SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Clocks:
    """An incident's SLA clocks at an instant: one per affected service with an SLA."""

    incident_id: str
    at: datetime
    clocks: list[ServiceClock]


# --- reading ------------------------------------------------------------------------------


def visible(
    store: GraphStore, vis: Visibility, incident_id: str, *, where: str | None = "incident_id"
) -> Incident:
    """The stored incident, if the caller reads it; NotFound otherwise, the same answer for
    one out of its view as for a missing one (``where=None``: the store's own answer for a
    missing one, for an unrestricted caller naming it by argument)."""
    try:
        inc: Incident | None = store.get_incident(incident_id)
    except NotFound:
        if where is None:
            raise
        inc = None
    if inc is None or not readable(vis, inc):
        raise NotFound(f"no incident {incident_id!r}", where=where)
    return inc


def shown(store: GraphStore, vis: Visibility, inc: Incident) -> Incident:
    """``inc`` as the caller is shown it: the CIs and services in its view, and the linked
    changes it reads (a linked record's id is a hint too)."""
    if vis.unrestricted:
        return inc
    return inc.model_copy(
        update={
            "ci_ids": vis.keep(inc.ci_ids),
            "service_ids": vis.keep(inc.service_ids),
            "change_ids": [c for c in inc.change_ids if change_readable(store, vis, c)],
            "cause_id": cause_shown(vis, inc),
            "alerts": alerts_shown(vis, inc),
            "notes": notes_shown(vis, inc),
        }
    )


# The alert parts of an incident as the caller is shown them (REST through ``shown``,
# GraphQL field by field): an alert's labels and the notes name CIs by name, so a reader
# limited to services gets neither; the cause and the alerts' CIs only inside its view.
def cause_shown(vis: Visibility, inc: Incident) -> str | None:
    if vis.unrestricted or inc.cause_id is None:
        return inc.cause_id
    return inc.cause_id if vis.allows(inc.cause_id) else None


def alerts_shown(vis: Visibility, inc: Incident) -> list[IncidentAlert]:
    if vis.unrestricted:
        return inc.alerts
    return [a.model_copy(update={"ci_ids": vis.keep(a.ci_ids), "labels": {}}) for a in inc.alerts]


def notes_shown(vis: Visibility, inc: Incident) -> list[IncidentNote]:
    return inc.notes if vis.unrestricted else []


def get(store: GraphStore, vis: Visibility, incident_id: str, words: Words = REQUEST) -> Incident:
    return shown(store, vis, visible(store, vis, incident_id, where=words.incident_id))


def list_incidents(
    store: GraphStore,
    vis: Visibility,
    *,
    states: Sequence[IncidentState] | None = None,
    priorities: Sequence[Priority] | None = None,
    ci: str | None = None,
    service: str | None = None,
    major: bool | None = None,
    open_only: bool = False,
    words: Words = REQUEST,
) -> list[Incident]:
    """The incidents the caller reads, by reference: in one of ``states`` or
    ``priorities``, naming the CI (or service) ``ci`` or the service ``service``
    (references), major or not, open only."""
    ci_id = resolve_visible(store, vis, ci, where=words.ci).id if ci else None
    svc_id = resolve_visible(store, vis, service, where=words.service).id if service else None
    # Only open ones asked for: the store finds them by their state (an index on both
    # stores), rather than reading years of closed ones to drop them here.
    open_only = open_only or set(states or ()) == {IncidentState.OPEN}
    found = [
        i
        for i in store.list_incidents(ci_id=ci_id, open_only=open_only)
        if readable(vis, i)
        and (not states or i.state in states)
        and (not priorities or i.priority in priorities)
        and (svc_id is None or svc_id in i.service_ids)
        and (major is None or i.major is major)
    ]
    found.sort(key=lambda i: i.id)
    return [shown(store, vis, i) for i in found]


def clocks(
    store: GraphStore,
    vis: Visibility,
    incident_id: str,
    *,
    at: datetime | None = None,
    words: Words = REQUEST,
) -> Clocks:
    """Response and resolution clocks per affected service with an SLA (those in the
    caller's view), counted inside its service hours, at ``at`` (default now)."""
    visible(store, vis, incident_id, where=words.incident_id)
    when = instant(at, where="at") or now()
    found = [c for c in practice.clocks(store, incident_id, when) if vis.allows(c.service_id)]
    return Clocks(incident_id=incident_id, at=when, clocks=found)


def probe(store: GraphStore, failing: Sequence[CI], at: datetime) -> Incident:
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


# --- writing ------------------------------------------------------------------------------


def _stamped(store: GraphStore, caller: Caller) -> GraphStore:
    # The practice builds its own change sets: the request id reaches them this way.
    return store if caller.request_id is None else stamped(store, caller.request_id)


def _writable(
    store: GraphStore, vis: Visibility, incident_id: str, what: str, words: Words
) -> Incident:
    inc = visible(store, vis, incident_id, where=words.incident_id)
    check_writable(vis, inc, what)
    return inc


def _instant(at: datetime | None, where: str, words: Words) -> datetime:
    current = now()
    got = instant(at, where=where) or current
    if not words.future and got > current + SKEW:
        raise InvalidInput(f"{where} is in the future", where=where)
    return got


def open_incident(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    new: NewIncident,
    policy: Policy,
    *,
    words: Words = REQUEST,
) -> Incident:
    """Record an incident on failing CIs: the services it takes down (or, if none, those
    it degrades), its impact (default: the impact engine's) and the priority the policy's
    matrix gives with the urgency; P1 is a major incident."""
    store = _stamped(store, caller)
    failing: dict[str, CI] = {}
    for i, ref in enumerate(new.cis):
        ci = resolve_visible(store, vis, ref, where=words.item(words.cis, i))
        failing.setdefault(ci.id, ci)
    opened = _instant(new.opened_at, "opened_at", words)
    if not vis.unrestricted:
        # The incident records the services it takes down: a scoped caller may record
        # only what stays inside its view (checked before anything is written).
        check_writable(vis, probe(store, list(failing.values()), opened), "record it")
    inc, _ = practice.open_incident(
        store,
        incident_id=new.id,
        title=new.title,
        cis=list(failing.values()),
        urgency=new.urgency,
        impact=new.impact,
        policy=policy,
        actor=caller.name,
        now=opened,
    )
    return shown(store, vis, inc)


def prioritise(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    incident_id: str,
    given: NewPriority,
    policy: Policy,
    *,
    words: Words = REQUEST,
) -> Incident:
    """Re-prioritise from a new impact and/or urgency, through the policy's matrix."""
    store = _stamped(store, caller)
    _writable(store, vis, incident_id, "re-prioritise it", words)
    if given.impact is None and given.urgency is None:
        raise InvalidInput("give impact, urgency or both", where=words.urgency)
    inc = practice.reprioritise(
        store,
        incident_id,
        policy,
        actor=caller.name,
        impact=given.impact,
        urgency=given.urgency,
    )
    return shown(store, vis, inc)


def resolve(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    incident_id: str,
    given: Resolution,
    *,
    words: Words = REQUEST,
) -> Incident:
    """Resolve at ``given.at`` (default now; stops both clocks, the response too if none
    was recorded), or with ``responded_only`` record only the response."""
    store = _stamped(store, caller)
    inc = _writable(store, vis, incident_id, "resolve it", words)
    when = _instant(given.at, "at", words)
    if inc.state is not IncidentState.OPEN:
        raise InvalidInput(f"{incident_id} is {inc.state.value}, not open", where="state")
    done = (
        practice.mark(store, incident_id, actor=caller.name, responded_at=when)
        if given.responded_only
        else practice.mark(store, incident_id, actor=caller.name, resolved_at=when)
    )
    return shown(store, vis, done)
