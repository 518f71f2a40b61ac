"""The post-implementation review: the outcome, and the incidents the change likely caused.

An incident is linked when it concerns a CI or service the change impacted (its own CIs
and whatever the impact engine finds degraded, down or at risk from them) and was opened
between the start of the change (its planned start, or when it was implemented if that
was earlier) and ``review_link_hours`` after it was implemented. The change records the
incidents, each incident the change, in one change set. Outcomes feed the failed-change
rate (:func:`cmdb.practice.risk.failure_rate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from datetime import datetime, timedelta

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import Change, ChangeOutcome, ChangeState, Incident
from cmdb.practice.changes import impact_of
from cmdb.practice.lifecycle import transition
from cmdb.practice.policy import Policy
from cmdb.store.contract import GraphStore


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
            if start <= i.opened_at <= end and impacted & {*i.ci_ids, *i.service_ids}
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
) -> tuple[Change, list[Incident]]:
    change = store.get_change(change_id)
    reviewed = transition(
        change, ChangeState.REVIEWED, at=now, by=actor, note=note, outcome=outcome
    )
    start, end = link_period(change, policy.review_link_hours)
    report = impact_of(store, change, start)
    impacted = set(change.ci_ids) | set(change.service_ids)
    if report is not None:
        impacted |= {c.id for c in report.cis if c.severity != "up"}
    found = linked_incidents(store.list_incidents(), impacted, start, end)
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
