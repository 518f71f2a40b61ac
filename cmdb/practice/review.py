"""The post-implementation review: the outcome, and the incidents the change likely caused.

An incident is linked when what failed in it is something the change impacted (its own
CIs and services, and whatever the impact engine finds degraded or down from them; a CI
merely at risk, one redundant member of several, is not): the incident's failing CIs, or,
for an incident that names only services, those services. Its downstream services do not
count (a change that degrades a service would otherwise be linked to every incident on
anything else that service depends on). It must also have been opened
between the start of the change (its planned start, or when it was implemented if that
was earlier) and ``review_link_hours`` after it was implemented. The change records the
incidents, each incident the change, in one change set. Outcomes feed the failed-change
rate (:func:`cmdb.practice.risk.failure_rate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set
from datetime import datetime, timedelta

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import Change, ChangeOutcome, ChangeState, Incident
from cmdb.practice.changes import affected_cis, window_of
from cmdb.practice.lifecycle import transition
from cmdb.practice.policy import Policy
from cmdb.store.contract import GraphStore
from impact.queries import change_impact


def link_period(change: Change, link_hours: float) -> tuple[datetime, datetime]:
    done = change.entered(ChangeState.IMPLEMENTED)
    if done is None:
        raise InvalidInput(f"{change.id} has not been implemented", where="state")
    start = min(done, change.planned_start) if change.planned_start else done
    return start, done + timedelta(hours=link_hours)


def linked_incidents(
    incidents: Iterable[Incident], impacted: Set[str], start: datetime, end: datetime
) -> list[Incident]:
    return sorted(
        (
            i
            for i in incidents
            if start <= i.opened_at <= end and impacted & set(i.ci_ids or i.service_ids)
        ),
        key=lambda i: (i.opened_at, i.id),
    )


def review_change(
    store: GraphStore,
    change_id: str,
    outcome: ChangeOutcome,
    policy: Policy,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    may_link: Callable[[Incident], bool] | None = None,
) -> tuple[Change, list[Incident]]:
    """Record the review; link the incidents found (``may_link``: only those it allows,
    e.g. those a service-scoped caller may write)."""
    change = store.get_change(change_id)
    reviewed = transition(
        change, ChangeState.REVIEWED, at=now, by=actor, note=note, outcome=outcome
    )
    start, end = link_period(change, policy.review_link_hours)
    # What the change itself did: the incidents being linked must not count as CIs that
    # were down already (they would turn "at risk" into "down" and link themselves).
    cis = affected_cis(store, change)
    report = (
        change_impact(store, cis, *window_of(change, start), now=start, with_open_incidents=False)
        if cis
        else None
    )
    impacted = set(change.ci_ids) | set(change.service_ids)
    if report is not None:
        impacted |= {c.id for c in report.cis if c.severity in ("degraded", "down")}
        impacted |= {s.id for s in report.services if s.severity in ("degraded", "down")}
    found = linked_incidents(store.list_incidents(), impacted, start, end)
    if may_link is not None:
        found = [i for i in found if may_link(i)]
    reviewed = reviewed.model_copy(
        update={"incident_ids": sorted({*change.incident_ids, *(i.id for i in found)})}
    )
    updated = [
        i.model_copy(update={"change_ids": sorted({*i.change_ids, change.id})})
        for i in found
        if change.id not in i.change_ids
    ]
    store.apply(ChangeSet(actor=actor, source="manual", changes=[reviewed], incidents=updated))
    return reviewed, found
