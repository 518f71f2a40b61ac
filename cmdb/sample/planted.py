"""The sample's planted cause: a release shortly before two services start failing.

Planted finding (in the style of estate.json's ``findings_planted``): the Booking Engine
4.8.0 release (an implemented RFC, window 2 h 40 min to 2 h 10 min before the estate was
loaded) is followed 15 and 22 minutes later by open incidents on Online Ferry Booking and
Boarding Pass App API; Booking Engine is the one CI both services rest on that changed
just before the first symptom, so ``cmdb impact cause --ci "Online Ferry Booking" --ci
"Boarding Pass App API"`` ranks it first, and says why.

Why Booking Engine: Booking Web and Mobile Gateway both DEPEND_ON it, so it is the shared
application under the two customer-facing services (a fare-quote regression in it shows
on the website and in the app at once). Other CIs also sit under both (the shared
services, lb-edge-01, the app cluster, core-sw-01...), and are closer to the symptoms;
only the change separates it from them.

The incidents degrade the services (time-outs for some users: ``outage`` false), name
the services they were raised against and no CI (the service desk does not know the CI
at fault yet: that is the question), so the impact engine does not count anything as
down because of them. Times are relative to the load (the creation of Online Ferry
Booking in the store's history), so the scenario is always recent, and loading again
writes nothing: records already there (perhaps worked on since) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import NotFound
from cmdb.domain.history import HistoryOp
from cmdb.domain.identifiers import natural_key
from cmdb.domain.model import CI
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangePriority,
    ChangeState,
    ChangeType,
    ExpectedImpact,
    Incident,
    Level,
    StateEntry,
)
from cmdb.domain.service import Priority
from cmdb.store.contract import GraphStore

SOURCE = "sample"
CAUSE = ("Application", "Booking Engine")
BOOKING = ("Service", "Online Ferry Booking")
APP_API = ("Service", "Boarding Pass App API")

# Before the load: the window, and when each symptom was first reported.
WINDOW = (timedelta(hours=2, minutes=40), timedelta(hours=2, minutes=10))
SYMPTOMS = (timedelta(hours=1, minutes=55), timedelta(hours=1, minutes=48))


@dataclass(frozen=True)
class Planted:
    change_id: str
    incident_ids: tuple[str, str]
    cause_id: str
    loaded_at: datetime
    written: int  # records written now (0 when loaded before)


def _one(store: GraphStore, key: tuple[str, str]) -> CI:
    found = store.find_by_identifier(natural_key(*key))
    if len(found) != 1:
        raise NotFound(f"the sample's {key[0]} {key[1]!r} is not loaded", where="sample")
    return found[0]


def loaded_at(store: GraphStore, ci: CI) -> datetime:
    """When the estate was loaded: the creation of ``ci`` in the store's history."""
    return min(h.at for h in store.history(ci.id) if h.op is HistoryOp.CREATE)


def ids(at: datetime) -> tuple[str, tuple[str, str]]:
    return f"RFC-{at:%Y}-0871", (f"INC-{at:%Y}-08871", f"INC-{at:%Y}-08872")


def records(cause: CI, booking: CI, app_api: CI, at: datetime) -> tuple[Change, list[Incident]]:
    """The RFC and the two incidents, placed relative to ``at`` (the load)."""
    change_id, (inc_web, inc_app) = ids(at)
    start, end = at - WINDOW[0], at - WINDOW[1]
    raised = start - timedelta(days=3, hours=5)
    log = [
        StateEntry(state=ChangeState.DRAFT, at=raised, by="m.okonkwo"),
        StateEntry(state=ChangeState.ASSESSED, at=raised + timedelta(hours=3), by="m.okonkwo"),
        StateEntry(
            state=ChangeState.AUTHORISED,
            at=raised + timedelta(days=1),
            by="change-manager",
            note="minor release, tested in staging; outside the morning peak",
            authority=ApprovalLevel.CHANGE_MANAGER,
        ),
        StateEntry(state=ChangeState.SCHEDULED, at=raised + timedelta(days=1), by="m.okonkwo"),
        StateEntry(
            state=ChangeState.IMPLEMENTED, at=end, by="m.okonkwo", note="deployed, smoke tests ok"
        ),
    ]
    change = Change(
        id=change_id,
        title="Booking Engine 4.8.0: new fare-quote cache",
        type=ChangeType.NORMAL,
        state=ChangeState.IMPLEMENTED,
        requester="m.okonkwo",
        ci_ids=[cause.id],
        service_ids=[booking.id, app_api.id],
        planned_start=start,
        planned_end=end,
        ci_versions={cause.id: "4.8.0"},
        priority=ChangePriority.NORMAL,
        expected_impact=ExpectedImpact.MINOR,
        reason="Fare quotes take 1.2 s at the 95th percentile; a cache in the engine cuts them",
        business_benefit="Faster checkout on the website and in the app",
        resources=["Digital Channels"],
        backout_plan="Redeploy Booking Engine 4.7.3 (15 min)",
        log=log,
    )
    incidents = [
        Incident(
            id=inc_web,
            title="Checkout fails for some customers: fare quotes time out",
            priority=Priority.P2,
            impact=Level.MEDIUM,
            urgency=Level.HIGH,
            service_ids=[booking.id],
            opened_at=at - SYMPTOMS[0],
            outage=False,
        ),
        Incident(
            id=inc_app,
            title="Boarding passes slow to load or failing in the app",
            priority=Priority.P2,
            impact=Level.MEDIUM,
            urgency=Level.HIGH,
            service_ids=[app_api.id],
            opened_at=at - SYMPTOMS[1],
            outage=False,
        ),
    ]
    return change, incidents


def _missing_change(store: GraphStore, change: Change) -> list[Change]:
    try:
        store.get_change(change.id)
    except NotFound:
        return [change]
    return []


def _missing_incidents(store: GraphStore, incidents: list[Incident]) -> list[Incident]:
    out: list[Incident] = []
    for inc in incidents:
        try:
            store.get_incident(inc.id)
        except NotFound:
            out.append(inc)
    return out


def plant(store: GraphStore, *, actor: str) -> Planted:
    """Write the planted change and incidents (those not there yet) in one change set."""
    cause, booking, app_api = _one(store, CAUSE), _one(store, BOOKING), _one(store, APP_API)
    at = loaded_at(store, booking)
    change, incidents = records(cause, booking, app_api, at)
    changes = _missing_change(store, change)
    new_incidents = _missing_incidents(store, incidents)
    if changes or new_incidents:
        store.apply(ChangeSet(actor=actor, source=SOURCE, changes=changes, incidents=new_incidents))
    return Planted(
        change_id=change.id,
        incident_ids=(incidents[0].id, incidents[1].id),
        cause_id=cause.id,
        loaded_at=at,
        written=len(changes) + len(new_incidents),
    )
