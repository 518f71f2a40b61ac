"""The CAB agenda: the changes a meeting decides, those scheduled in its period, and
emergency changes awaiting review, each with its risk, impacted services, collisions,
window violations, and the agreement gaps under the services it touches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import Change, ChangeState
from cmdb.practice.agreements import AgreementFinding, agreement_findings
from cmdb.practice.changes import window_of
from cmdb.practice.collisions import Collision
from cmdb.practice.lifecycle import OPEN_STATES
from cmdb.practice.policy import Policy
from cmdb.practice.risk import evaluate, facts, failure_rate
from cmdb.practice.scheduling import Planner
from cmdb.practice.scoped import Scope, wholly_inside
from cmdb.practice.sites import sites_of
from cmdb.practice.windows import Violation, utc
from cmdb.store.contract import GraphStore

AgendaSection = Literal["decide", "scheduled", "review"]


class ServiceHit(BaseModel):
    id: str
    name: str
    kind: str
    severity: str


class AgendaItem(BaseModel):
    section: AgendaSection
    id: str
    title: str
    type: str
    state: str
    priority: str
    requester: str
    start: datetime | None
    end: datetime | None
    risk_class: str
    approval: str
    rule: str
    score: float
    why: str
    recorded_risk: str | None  # the class recorded at its last assessment
    services: list[ServiceHit]
    collisions: list[Collision]
    violations: list[Violation]
    # The services it touches whose SLA rests on a weaker OLA or supplier contract: the
    # board weighs a change there knowing the SLA is not held up underneath.
    agreement_gaps: list[AgreementFinding] = []


class CabAgenda(BaseModel):
    generated_at: datetime
    start: datetime
    end: datetime
    decide: list[AgendaItem]  # assessed: awaiting authorisation
    scheduled: list[AgendaItem]  # authorised or scheduled, with a window in the period
    review: list[AgendaItem]  # emergency changes implemented before documentation


def agenda_sections(
    changes: Sequence[Change], start: datetime, end: datetime
) -> list[tuple[AgendaSection, Change]]:
    """Which changes a meeting covering ``start``-``end`` takes, in agenda order."""
    picked: list[tuple[AgendaSection, Change]] = []
    for ch in changes:
        if ch.state is ChangeState.ASSESSED:
            picked.append(("decide", ch))
        elif ch.state in (ChangeState.AUTHORISED, ChangeState.SCHEDULED):
            if ch.planned_start is None or ch.planned_end is None:
                continue
            if utc(ch.planned_start) < utc(end) and utc(ch.planned_end) > utc(start):
                picked.append(("scheduled", ch))
        elif ch.review_required and ch.state is ChangeState.IMPLEMENTED:
            picked.append(("review", ch))
    order = {"decide": 0, "scheduled": 1, "review": 2}
    far = utc(end) + timedelta(days=36500)
    picked.sort(key=lambda sc: (order[sc[0]], utc(sc[1].planned_start or far), sc[1].id))
    return picked


def cab_agenda(
    store: GraphStore,
    changes: Sequence[Change],
    policy: Policy,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    scope: Scope = None,
) -> CabAgenda:
    """The agenda over ``changes`` (already the ones the caller reads, whole: risk is
    judged on all a change does): risk from the impact engine and the failed-change
    history, collisions with every other open change whose window overlaps, and window
    violations. One :class:`Planner` caches the impact answers, so each change's impact is
    computed once. With a scope, collisions are listed only between changes wholly inside
    it: a collision's subjects name CIs and services on both sides."""
    if utc(end) <= utc(start):
        raise InvalidInput("the meeting period must end after it starts", where="to")
    planner = Planner(store, now)
    live = [c for c in changes if c.state in OPEN_STATES]
    inside = {c.id for c in changes if wholly_inside(scope, c)}
    out: dict[AgendaSection, list[AgendaItem]] = {"decide": [], "scheduled": [], "review": []}
    touched: dict[str, list[str]] = {}  # agenda item -> the services its CIs are under
    for section, ch in agenda_sections(changes, start, end):
        report = planner.impact(ch.ci_ids, window_of(ch, now))
        sites = sites_of(store, [planner.ci(c) for c in ch.ci_ids])
        history = failure_rate(changes, ch.ci_ids, exclude=ch.id)
        assessed = evaluate(ch.id, facts(ch, report, history, sites), policy)
        services = [
            ServiceHit(id=s.id, name=s.name, kind=s.kind, severity=s.severity)
            for s in (report.services if report else [])
            if s.severity != "up" and (scope is None or s.id in scope)
        ]
        others = live if ch in live else [ch, *live]
        touched[ch.id] = [s.id for s in (report.services if report else [])]
        out[section].append(
            AgendaItem(
                section=section,
                id=ch.id,
                title=ch.title,
                type=ch.type.value,
                state=ch.state.value,
                priority=ch.priority.value,
                requester=ch.requester,
                start=ch.planned_start,
                end=ch.planned_end,
                risk_class=assessed.risk_class.value,
                approval=assessed.approval.value,
                rule=assessed.rule,
                score=assessed.facts.score,
                # The explanation names services and customers beyond a scoped view.
                why=assessed.why if scope is None else "",
                recorded_risk=ch.risk.risk_class.value if ch.risk else None,
                services=services,
                collisions=[
                    col
                    for col in planner.collisions(others, only=ch.id)
                    if col.a in inside and col.b in inside
                ],
                violations=[
                    v for v in planner.violations(ch) if scope is None or v.service_id in scope
                ],
            )
        )
    _add_agreement_gaps(
        store, planner, [i for items in out.values() for i in items], touched, scope
    )
    return CabAgenda(
        generated_at=now,
        start=start,
        end=end,
        decide=out["decide"],
        scheduled=out["scheduled"],
        review=out["review"],
    )


def _add_agreement_gaps(
    store: GraphStore,
    planner: Planner,
    items: Sequence[AgendaItem],
    touched: dict[str, list[str]],
    scope: Scope,
) -> None:
    """Each item gets the agreement findings of the services it touches (one walk for
    every service on the agenda); a scoped caller only those whose path it sees."""
    ids = sorted({s for i in items for s in touched.get(i.id, [])})
    if not ids:
        return
    found = agreement_findings(store, [planner.ci(s) for s in ids])
    if scope is not None:
        found = [f for f in found if all(c in scope for c in f.path.ci_ids)]
    by_service: dict[str, list[AgreementFinding]] = {}
    for f in found:
        by_service.setdefault(f.service.id, []).append(f)
    for item in items:
        item.agreement_gaps = [f for s in touched.get(item.id, []) for f in by_service.get(s, [])]
